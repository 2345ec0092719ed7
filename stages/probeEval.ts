import { Effect, Schema } from "effect"
import * as Artifact from "../pipeline/Artifact"
import { ProbesConfig } from "../pipeline/Config"
import * as Stage from "../pipeline/Stage"
import type { Interval } from "../stats/bootstrap"
import type { HeldOut } from "../stats/evaluation"
import { heldOneOut, probeSimilarity, r2ByLabel, trainTwoTestTwo } from "../stats/evaluation"
import { demean } from "../stats/demean"
import { fitLogisticProbe } from "../stats/logisticProbe"
import { bootstrapByTask } from "../stats/bootstrap"
import { meanPairwiseR, noiseCeiling } from "../stats/reliability"
import { sharedKernelBackend } from "../stats/kernelBackend"
import { deriveSeed } from "./seeds"
import { fromTable, matrixOf, toTable } from "./tables"
import { taskRows } from "./taskRows"

/** A held-out result in the report's shape: metrics with intervals, the chosen alpha, and the held-out tasks. */
const heldOutJson = (h: HeldOut, taskIds: ReadonlyArray<string>) => ({
  r2: h.r2,
  r2_mean_adjusted: h.r2MeanAdjusted,
  pearson_r: h.pearsonR,
  train_cv_r2: h.trainCvR2,
  alpha: h.alpha,
  n_test: h.testRows.length,
  test_tasks: Array.from(h.testRows, (r) => taskIds[r]!)
})

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

/** The evaluation of one template × layer probe, as the reports read it. */
export interface ProbeEvaluation {
  readonly template_id: string
  readonly layer: number
  readonly position: string
  readonly group_by: string
  /** Task columns whose group means were removed from the target (OLS on one-hot indicators) before training. */
  readonly demeaned: ReadonlyArray<string>
  readonly n_tasks: number
  readonly n_dropped: number
  readonly probe: { readonly alpha: number; readonly cv_r2: number; readonly intercept: number; readonly weights: number[] }
  readonly r2_by_group: Record<string, Interval & { n: number }>
  readonly hoo: Record<string, ReturnType<typeof heldOutJson>>
  readonly train2test2: Record<string, ReturnType<typeof heldOutJson>> | null
  readonly similarity: { readonly labels: string[]; readonly cosine: number[][] }
  /** r1: single-sample reliability averaged over every pair of samples (task-bootstrap interval); the ceiling is its Spearman-Brown for m samples. */
  readonly reliability: { readonly samples: number; readonly r1: Interval | null; readonly noise_ceiling: number | null }
  /** For binary answers: a logistic probe of each task's majority answer (L2 by grouped k-fold log loss); else null. */
  readonly logistic: {
    readonly l2: number
    readonly cv_accuracy: number
    readonly cv_log_loss: number
    readonly intercept: number
    readonly weights: number[]
  } | null
}

/**
 * Ridge probes on one template's activations at one layer predicting the task's mean parsed score: out-of-fold R² by
 * group, held-one-group-out (and train-2-test-2 with four groups), per-group probe similarity, and the target's
 * reliability (cross-seed r of single samples and the Spearman-Brown noise ceiling of the averaged target).
 */
export const probeEval = Stage.make({
  name: "probe_eval",
  version: 2,
  params: Schema.Struct({
    template_id: Schema.String, layer: Schema.Int, position: Schema.String, probes: ProbesConfig, seed: Schema.Int,
    /** OpenBLAS threads (runtime.threads; every core when absent): rounding only, so not part of the key. */
    threads: Schema.optional(Schema.Int.pipe(Schema.positive()))
  }),
  keyOf: ({ threads: _, ...rest }) => rest,
  run: ({ inputs, params, progress }) =>
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
      const y = params.probes.demean.length === 0 ? means : demean(means, params.probes.demean.map((c) => ids.map(columnOf(c))))
      const labels = ids.map(columnOf(params.probes.groupBy))
      const setup = {
        alphas: params.probes.alphas, groups: ids, k: params.probes.folds, seed: params.seed, cv: params.probes.alphaSelection, rule: params.probes.alphaRule,
        kernels: sharedKernelBackend(params.threads).backend
      }
      const options = { tasks: ids, bootstrap: { resamples: params.probes.bootstrap, seed: params.seed } }
      const distinct = [...new Set(labels)]
      // Progress counts probes: one on every task, one per held-out group, six train-2-test-2 splits, one per group alone.
      const probes = 1 + (distinct.length >= 2 ? distinct.length : 0) + (distinct.length === 4 ? 6 : 0) + distinct.length
      yield* progress.total(probes)
      const byGroup = yield* Effect.promise(() => r2ByLabel(x, y, labels, setup, options))
      yield* progress.done(1)
      const hoo = distinct.length >= 2 ? yield* Effect.promise(() => heldOneOut(x, y, labels, setup, options)) : {}
      yield* progress.done(1 + Object.keys(hoo).length)
      const t2 = distinct.length === 4 ? yield* Effect.promise(() => trainTwoTestTwo(x, y, labels, setup, options)) : null
      yield* progress.done(1 + Object.keys(hoo).length + (t2 === null ? 0 : 6))
      const similarity = yield* Effect.promise(() => probeSimilarity(x, y, labels, setup))
      yield* progress.done(probes)
      // Reliability needs the same samples for every task: use the tasks with the most parsed samples.
      const m = Math.max(...ids.map((id) => targets.get(id)!.size))
      const complete = ids.filter((id) => targets.get(id)!.size === m).map((id) => [...targets.get(id)!.entries()].sort((a, b) => a[0] - b[0]).map(([, v]) => v))
      const r1 =
        m >= 2 && complete.length >= 3
          ? bootstrapByTask(complete.map((_, i) => i), (rows) => meanPairwiseR(complete, rows), options.bootstrap)
          : null
      // Binary answers (every parsed value 0 or 1) also get a logistic probe of the task's majority answer.
      const binary = ids.every((id) => [...targets.get(id)!.values()].every((v) => v === 0 || v === 1))
      const majority = Float64Array.from(means, (m) => (m >= 0.5 ? 1 : 0))
      const classes = new Set(majority).size
      const logisticProbe =
        binary && classes === 2
          ? fitLogisticProbe(x, majority, { l2s: params.probes.alphas, folds: ids.map((id) => deriveSeed(params.seed, "fold", id) % params.probes.folds) })
          : undefined
      const evaluation: ProbeEvaluation = {
        template_id: params.template_id,
        layer: params.layer,
        position: params.position,
        group_by: params.probes.groupBy,
        demeaned: params.probes.demean,
        n_tasks: ids.length,
        n_dropped: tasks.size - ids.length,
        probe: {
          alpha: byGroup.probe.alpha,
          cv_r2: byGroup.probe.cvR2,
          intercept: byGroup.probe.interceptRaw,
          weights: Array.from(byGroup.probe.weightsRaw)
        },
        r2_by_group: byGroup.byLabel,
        hoo: Object.fromEntries(Object.entries(hoo).map(([k, h]) => [k, heldOutJson(h, ids)])),
        train2test2: t2 === null ? null : Object.fromEntries(Object.entries(t2).map(([k, h]) => [k, heldOutJson(h, ids)])),
        similarity: { labels: similarity.labels, cosine: similarity.cosine },
        reliability: { samples: m, r1, noise_ceiling: r1 === null ? null : noiseCeiling(r1.estimate, m) },
        logistic:
          logisticProbe === undefined
            ? null
            : { l2: logisticProbe.l2, cv_accuracy: logisticProbe.cvAccuracy, cv_log_loss: logisticProbe.cvLogLoss, intercept: logisticProbe.interceptRaw, weights: Array.from(logisticProbe.weightsRaw) }
      }
      const probeTable = toTable(
        { template_id: ["utf8", false], layer: ["int32", false], train: ["list<utf8>", false], alpha: ["float64", false], weights: ["list<float64>", false], intercept: ["float64", false], cv_r2: ["float64", false] },
        [{ template_id: params.template_id, layer: params.layer, train: distinct.sort(), alpha: byGroup.probe.alpha, weights: Array.from(byGroup.probe.weightsRaw), intercept: byGroup.probe.interceptRaw, cv_r2: byGroup.probe.cvR2 }]
      )
      return { evaluation: Artifact.json(evaluation), probe: Artifact.table(probeTable) }
    })
})
