import { Effect } from "effect"
import type { Task } from "../datasets/Task"
import type { LoadedOutputs } from "../pipeline/Artifact"
import type { ProbesConfig } from "../pipeline/Config"
import { demean } from "../stats/demean"
import type { Dense } from "../stats/dense"
import type { EvaluationOptions, HeldOut, ProbeSetup } from "../stats/evaluation"
import { sharedKernelBackend } from "../stats/kernelBackend"
import { fromTable, matrixOf } from "./tables"
import { taskRows } from "./taskRows"

/** Per task: the mean of its parsed, normalized scores over samples, and the per-sample values. */
export const taskTargets = (scores: ReadonlyArray<{ task_id: string; sample: number; normalized: number | null }>) => {
  const byTask = new Map<string, Map<number, number>>()
  for (const s of scores) {
    if (s.normalized === null) continue
    const samples = byTask.get(s.task_id) ?? new Map<number, number>()
    samples.set(s.sample, s.normalized)
    byTask.set(s.task_id, samples)
  }
  return byTask
}

/** A held-out result in the reports' shape: metrics with intervals, the chosen alpha, and the held-out tasks. */
export const heldOutJson = (h: Omit<HeldOut, "probe">, taskIds: ReadonlyArray<string>) => ({
  r2: h.r2,
  r2_mean_adjusted: h.r2MeanAdjusted,
  pearson_r: h.pearsonR,
  train_cv_r2: h.trainCvR2,
  alpha: h.alpha,
  n_test: h.testRows.length,
  test_tasks: Array.from(h.testRows, (r) => taskIds[r]!)
})

/** Which probe: the template's activations at one layer and position, with the experiment's probe settings. */
export interface ProbeParams {
  readonly layer: number
  readonly position: string
  readonly probes: typeof ProbesConfig.Type
  readonly seed: number
  /** OpenBLAS threads (every core when absent). */
  readonly threads?: number | undefined
}

/** What every probe of one template × layer is trained on, row i being task `ids[i]`. */
export interface ProbeData {
  readonly tasks: ReadonlyMap<string, Task>
  readonly targets: ReturnType<typeof taskTargets>
  readonly ids: ReadonlyArray<string>
  readonly x: Dense & { readonly data: Float32Array }
  /** Each task's mean parsed score. */
  readonly means: Float64Array
  /** The training target: `means` with the group means of `probes.demean` columns removed. */
  readonly y: Float64Array
  /** Each task's group (`probes.groupBy`). */
  readonly labels: ReadonlyArray<string>
  readonly setup: ProbeSetup
  readonly options: EvaluationOptions
}

/**
 * The tasks that have both a parsed score and an activation at the layer and position (in the activation table's
 * order), their activations, targets and groups, and the probe settings: shared by every probe of a template × layer
 * so that they are trained and scored on exactly the same rows.
 */
export const probeData = (
  inputs: { readonly tasks?: LoadedOutputs; readonly scores?: LoadedOutputs; readonly activations?: LoadedOutputs },
  params: ProbeParams
): Effect.Effect<ProbeData, Error> =>
  Effect.gen(function* () {
    const tasks = new Map(taskRows(inputs.tasks!.table("tasks")).map((t) => [t.task_id, t]))
    const targets = taskTargets(fromTable(inputs.scores!.table("scores")))
    const table = inputs.activations!.table("activations")
    const keys = fromTable<{ task_id: string; layer: number; position: string }>(table.select(["task_id", "layer", "position"]))
    const matrix = matrixOf(table)
    const picked = keys.flatMap((k, row) =>
      k.layer === params.layer && k.position === params.position && targets.has(k.task_id) ? [{ task_id: k.task_id, row }] : []
    )
    if (picked.length < 10) {
      return yield* Effect.fail(new Error(`only ${picked.length} tasks have both a parsed score and an activation at layer ${params.layer}, ${params.position}; a probe needs at least 10`))
    }
    const dim = matrix.dim
    // Float32 like the activations: the probes standardize blocks of rows into float64 as they go.
    const x = { rows: picked.length, cols: dim, data: new Float32Array(picked.length * dim) }
    picked.forEach((p, i) => x.data.set(matrix.data.subarray(p.row * dim, (p.row + 1) * dim), i * dim))
    const ids = picked.map((p) => p.task_id)
    const columnOf = (column: string) => (id: string): string => {
      const task = tasks.get(id)!
      const value = column === "origin" ? task.origin : task.meta[column]
      return value === undefined || value === null ? "(none)" : String(value)
    }
    const means = Float64Array.from(ids, (id) => {
      const values = [...targets.get(id)!.values()]
      return values.reduce((a, b) => a + b, 0) / values.length
    })
    const y = params.probes.demean.length === 0 ? means : demean(means, params.probes.demean.map((c: string) => ids.map(columnOf(c))))
    const labels = ids.map(columnOf(params.probes.groupBy))
    const setup: ProbeSetup = { alphas: params.probes.alphas, groups: ids, k: params.probes.folds, seed: params.seed, cv: params.probes.alphaSelection, rule: params.probes.alphaRule,
      kernels: sharedKernelBackend(params.threads).backend
    }
    const options: EvaluationOptions = { tasks: ids, bootstrap: { resamples: params.probes.bootstrap, seed: params.seed } }
    return { tasks, targets, ids, x, means, y, labels, setup, options }
  })

/**
 * The same probe data restricted to the rows where `keep` is true. Folds are dealt again over the kept tasks (same
 * seed), so they match the full probe's folds only when nothing is left out.
 */
export const keepRows = (data: ProbeData, keep: ReadonlyArray<boolean>): ProbeData => {
  const rows = data.ids.flatMap((_, i) => (keep[i] ? [i] : []))
  const d = data.x.cols
  const x = { rows: rows.length, cols: d, data: new Float32Array(rows.length * d) }
  rows.forEach((r, i) => x.data.set(data.x.data.subarray(r * d, (r + 1) * d), i * d))
  const ids = rows.map((r) => data.ids[r]!)
  return {
    ...data,
    ids,
    x,
    means: Float64Array.from(rows, (r) => data.means[r]!),
    y: Float64Array.from(rows, (r) => data.y[r]!),
    labels: rows.map((r) => data.labels[r]!),
    setup: { ...data.setup, groups: ids },
    options: { ...data.options, tasks: ids }
  }
}
