import { Effect, Schema } from "effect"
import * as Artifact from "../pipeline/Artifact"
import * as Stage from "../pipeline/Stage"
import { bootstrapByTask, type Interval } from "../stats/bootstrap"
import { meanPairwiseR, noiseCeiling } from "../stats/reliability"
import { fromTable } from "./tables"

/**
 * One template's reliability, the single definition every report prints: over the tasks with all `samples` answers
 * parsed, the single-sample reliability r₁ is the mean Pearson r across tasks of every pair of samples, with a 95%
 * bootstrap interval over tasks; the noise ceiling is its Spearman-Brown reliability for the mean of `samples`.
 */
export interface TemplateReliability {
  readonly template_id: string
  readonly samples: number
  /** Tasks with every sample parsed (the ones r₁ is computed on), and the tasks left out for a missing one. */
  readonly n_tasks: number
  readonly n_incomplete: number
  /** Null with fewer than 2 samples or 3 complete tasks. */
  readonly r1: Interval | null
  readonly noise_ceiling: number | null
}

/** Per task with all `samples` parsed: its normalized scores in sample order; and how many tasks lacked one. */
export const completeSamples = (
  rows: ReadonlyArray<{ task_id: string; sample: number; normalized: number | null }>,
  samples: number
): { readonly tasks: string[]; readonly values: number[][]; readonly incomplete: number } => {
  const byTask = new Map<string, Map<number, number>>()
  for (const r of rows) {
    const own = byTask.get(r.task_id) ?? new Map<number, number>()
    if (r.normalized !== null) own.set(r.sample, r.normalized)
    byTask.set(r.task_id, own)
  }
  const allTasks = [...byTask.keys()].sort()
  const tasks = allTasks.filter((t) => Array.from({ length: samples }, (_, j) => byTask.get(t)!.has(j)).every(Boolean))
  return {
    tasks,
    values: tasks.map((t) => Array.from({ length: samples }, (_, j) => byTask.get(t)!.get(j)!)),
    incomplete: allTasks.length - tasks.length
  }
}

/** The reliability of one template's parsed scores (`TemplateReliability`), read by every report that prints it. */
export const reliability = Stage.make({
  name: "reliability",
  version: 1,
  params: Schema.Struct({ template_id: Schema.String, samples: Schema.Int, resamples: Schema.Int, seed: Schema.Int }),
  run: ({ inputs, params }) =>
    Effect.sync(() => {
      const complete = completeSamples(fromTable(inputs.scores!.table("scores")), params.samples)
      const r1 =
        params.samples >= 2 && complete.tasks.length >= 3
          ? bootstrapByTask(complete.values.map((_, i) => i), (rows) => meanPairwiseR(complete.values, rows), { resamples: params.resamples, seed: params.seed })
          : null
      const result: TemplateReliability = {
        template_id: params.template_id,
        samples: params.samples,
        n_tasks: complete.tasks.length,
        n_incomplete: complete.incomplete,
        r1,
        noise_ceiling: r1 === null || !Number.isFinite(r1.estimate) ? null : noiseCeiling(r1.estimate, params.samples)
      }
      return { reliability: Artifact.json(result) }
    })
})
