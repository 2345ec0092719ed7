import { Effect, Schema } from "effect"
import * as Artifact from "../pipeline/Artifact"
import { ProbesConfig } from "../pipeline/Config"
import * as Stage from "../pipeline/Stage"
import type { Interval } from "../stats/bootstrap"
import { heldOneOut, probeSimilarity, r2ByLabel, trainTwoTestTwo } from "../stats/evaluation"
import { fitLogisticProbe } from "../stats/logisticProbe"
import { deriveSeed } from "./seeds"
import { heldOutJson, probeData } from "./probeData"
import { toTable } from "./tables"

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
 * group, held-one-group-out (and train-2-test-2 with four groups) and per-group probe similarity. The target's
 * reliability and noise ceiling are the `reliability` stage's.
 */
export const probeEval = Stage.make({
  name: "probe_eval",
  version: 3,
  params: Schema.Struct({
    template_id: Schema.String, layer: Schema.Int, position: Schema.String, probes: ProbesConfig, seed: Schema.Int,
    /** OpenBLAS threads (runtime.threads; every core when absent): rounding only, so not part of the key. */
    threads: Schema.optional(Schema.Int.pipe(Schema.positive()))
  }),
  keyOf: ({ threads: _, ...rest }) => rest,
  run: ({ inputs, params, progress }) =>
    Effect.gen(function* () {
      const { tasks, targets, ids, x, means, y, labels, setup, options } = yield* probeData(inputs, params)
      const distinct = [...new Set(labels)]
      // Each of these fits many probes; they are the steps a person waits on.
      yield* progress.total(5, "steps")
      yield* progress.done(0, `probe on every ${params.probes.groupBy}, out-of-fold R² by ${params.probes.groupBy}`)
      const byGroup = yield* Effect.promise(() => r2ByLabel(x, y, labels, setup, options))
      yield* progress.done(1, `held-one-${params.probes.groupBy}-out (${distinct.length} probes)`)
      const hoo = distinct.length >= 2 ? yield* Effect.promise(() => heldOneOut(x, y, labels, setup, options)) : {}
      yield* progress.done(2, "train-2-test-2")
      const t2 = distinct.length === 4 ? yield* Effect.promise(() => trainTwoTestTwo(x, y, labels, setup, options)) : null
      yield* progress.done(3, `one probe per ${params.probes.groupBy} (similarity)`)
      const similarity = yield* Effect.promise(() => probeSimilarity(x, y, labels, setup))
      yield* progress.done(4, "logistic probe")
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
