import { Effect, Schema } from "effect"
import { sampleStratified } from "../datasets/sampleStratified"
import * as Artifact from "../pipeline/Artifact"
import * as Stage from "../pipeline/Stage"
import { TasksSchema, toTable } from "./tables"
import { taskRows } from "./taskRows"

/** Every loaded dataset's tasks, stratified by origin: `perOrigin` each, seeded, independent of row order. */
export const sample = Stage.make({
  name: "sample",
  version: 1,
  params: Schema.Struct({ perOrigin: Schema.Int, seed: Schema.Int }),
  run: ({ inputs, params }) =>
    Effect.gen(function* () {
      const all = Object.values(inputs).flatMap((i) => taskRows(i.table("tasks")))
      const seen = new Map<string, string>()
      for (const [name, input] of Object.entries(inputs)) {
        for (const t of taskRows(input.table("tasks"))) {
          const other = seen.get(t.task_id)
          if (other !== undefined && other !== name) {
            return yield* Effect.fail(new Error(`task id ${t.task_id} appears in datasets ${other} and ${name}; ids must be unique`))
          }
          seen.set(t.task_id, name)
        }
      }
      const picked = sampleStratified(all, { perOrigin: params.perOrigin, seed: params.seed })
      return {
        tasks: Artifact.table(toTable(TasksSchema, picked.map((t) => ({ ...t, meta: JSON.stringify(t.meta) }))))
      }
    })
})
