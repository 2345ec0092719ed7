import { Effect, Schema } from "effect"
import * as fs from "node:fs"
import { loadDataset } from "../datasets/loadDataset"
import { DatasetSpec } from "../datasets/DatasetSpec"
import * as Artifact from "../pipeline/Artifact"
import { sha256 } from "../core/Key"
import * as Stage from "../pipeline/Stage"
import { TasksSchema, toTable } from "./tables"

/** One dataset loaded into a tasks table; a file dataset's key is its content hash, never its path. */
export const tasks = Stage.make({
  name: "tasks",
  version: 1,
  params: Schema.Struct({ dataset: DatasetSpec, sha256: Schema.NullOr(Schema.String) }),
  keyOf: ({ dataset, sha256 }) => ({ dataset: { ...dataset, path: dataset.path === undefined ? undefined : "(file)" }, sha256 }),
  run: ({ params }) =>
    Effect.gen(function* () {
      const loaded = yield* loadDataset(params.dataset, "/")
      return {
        tasks: Artifact.table(
          toTable(
            TasksSchema,
            loaded.tasks.map((t) => ({ task_id: t.task_id, origin: t.origin, prompt: t.prompt, meta: JSON.stringify(t.meta) }))
          )
        ),
        skipped: Artifact.json(loaded.skipped)
      }
    })
})

/** The node that loads one dataset of the config (its path already resolved against the config's folder). */
export const tasksNode = (dataset: DatasetSpec, index: number): Stage.Node => {
  const file = dataset.path
  return Stage.node(tasks, {
    label: dataset.name,
    params: { dataset, sha256: file === undefined || !fs.existsSync(file) ? null : sha256(fs.readFileSync(file)) },
    configPaths: { dataset: `datasets.${index}` }
  })
}
