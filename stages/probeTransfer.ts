import { Effect, Schema } from "effect"
import type { LoadedOutputs } from "../pipeline/Artifact"
import * as Artifact from "../pipeline/Artifact"
import * as Stage from "../pipeline/Stage"
import type { Interval } from "../stats/bootstrap"
import { crossFit, type Fit, probeTransfer, shiftCeiling } from "../stats/probeTransfer"
import { taskTargets } from "./probeData"
import { fromTable, matrixOf, toTable } from "./tables"
import { taskRows } from "./taskRows"

/** What `probe_transfer` writes as `transfer`; the report reads it as is. */
export interface TransferEvaluation {
  readonly template_id: string
  readonly layer: number
  readonly position: string
  readonly measure: Measure
  /** Tasks with a target and an activation under both conditions. */
  readonly n_tasks: number
  readonly folds: number
  /** The probe fitted on every task of the trained condition. */
  readonly probe: { readonly alpha: number; readonly cv_r2: number }
  /** Out-of-fold predictions under the trained condition against its own targets. */
  readonly trained: FitJson
  /** The same probes' predictions under the other condition against that condition's targets. */
  readonly transfer: FitJson
  /** Per task, predicted shift (other − trained prediction) against measured shift (other − trained mean score). */
  readonly shift: {
    readonly pearson_r: IntervalJson
    readonly slope: IntervalJson
    readonly mean_measured: IntervalJson
    readonly mean_predicted: IntervalJson
    readonly sd_measured: number
    readonly sd_predicted: number
    /**
     * √(split-half reliability) of the measured shift (even vs odd samples, Spearman-Brown): the highest shift r any
     * predictor can reach through the measurement's sampling noise; null with fewer than 3 tasks of 2+ samples.
     */
    readonly ceiling: number | null
    /**
     * The predicted shift of the probe's weights within the directions its training activations varied along (see
     * `CrossFitted.shiftInSpan`): the shift the data taught it, without what per-coordinate standardization puts on
     * directions that never varied. The verdict of reports/personas reads this one.
     */
    readonly in_span: { readonly pearson_r: IntervalJson; readonly slope: IntervalJson; readonly mean_predicted: IntervalJson; readonly sd_predicted: number }
    /** Mean over tasks of the share of the activation change (other − trained) along directions that never varied in training. */
    readonly outside_share: number | null
  }
}

interface FitJson {
  readonly r2: IntervalJson
  readonly r2_mean_adjusted: IntervalJson
  readonly pearson_r: IntervalJson
}

/** An interval as JSON holds it: null where the statistic is undefined (a correlation with a constant side, say). */
export interface IntervalJson {
  readonly estimate: number | null
  readonly lo: number | null
  readonly hi: number | null
  readonly resamples: number
}

const finite = (x: number) => (Number.isFinite(x) ? x : null)
const json = (x: Interval): IntervalJson => ({ estimate: finite(x.estimate), lo: finite(x.lo), hi: finite(x.hi), resamples: x.resamples })
const fitJson = (f: Fit): FitJson => ({ r2: json(f.r2), r2_mean_adjusted: json(f.r2MeanAdjusted), pearson_r: json(f.pearsonR) })

/** Probe settings the transfer reads (the experiment's `probes`, less what only `probe_eval` uses). */
const TransferProbes = Schema.Struct({
  alphas: Schema.Array(Schema.Number.pipe(Schema.positive())),
  folds: Schema.Int.pipe(Schema.greaterThanOrEqualTo(2)),
  alphaSelection: Schema.Literal("kfold", "loo"),
  alphaRule: Schema.Literal("best", "one_se"),
  bootstrap: Schema.Int.pipe(Schema.positive())
})

interface ScoreRow {
  readonly task_id: string
  readonly sample: number
  readonly normalized: number | null
  readonly expected: number | null
}

/** Each task's target (see `Measure`) and its activation row at one layer and position, for tasks that have both. */
const condition = (scores: ReadonlyArray<ScoreRow>, measure: Measure, activations: LoadedOutputs, layer: number, position: string) => {
  const targets = taskTargets(measure === "expected" ? scores.map((r) => ({ ...r, normalized: r.expected })) : scores)
  const table = activations.table("activations")
  const keys = fromTable<{ task_id: string; layer: number; position: string }>(table.select(["task_id", "layer", "position"]))
  const rows = new Map<string, number>()
  keys.forEach((k, row) => {
    if (k.layer === layer && k.position === position && targets.has(k.task_id)) rows.set(k.task_id, row)
  })
  const mean = (id: string) => {
    const values = [...targets.get(id)!.values()]
    return values.reduce((a, b) => a + b, 0) / values.length
  }
  const samples = (id: string) => [...targets.get(id)!.entries()].sort((a, b) => a[0] - b[0]).map(([, v]) => v)
  return { rows, mean, samples, matrix: matrixOf(table) }
}

const gather = (m: ReturnType<typeof matrixOf>, rows: ReadonlyArray<number>) => {
  const data = new Float64Array(rows.length * m.dim)
  rows.forEach((row, i) => {
    for (let j = 0; j < m.dim; j++) data[i * m.dim + j] = m.data[row * m.dim + j]!
  })
  return { data, rows: rows.length, cols: m.dim }
}

/**
 * What a task's target is: the mean over samples of the expected normalized answer from option probabilities
 * (`expected`, free of sampling noise) when every answer of both personas has them, as local models give; else the mean
 * parsed answer (`answers`). The probe is trained on, and its shift compared with, the same measure.
 */
export type Measure = "expected" | "answers"

/** A probe transfer that cannot be computed from these inputs. */
export class TransferError extends Schema.TaggedError<TransferError>()("TransferError", {
  template_id: Schema.String,
  layer: Schema.Int,
  reason: Schema.String
}) {
  get message() {
    return `probe transfer of ${this.template_id} at layer ${this.layer}: ${this.reason}`
  }
}

/**
 * A Ridge probe trained on one condition's activations and per-task targets (inputs `trained_scores`,
 * `trained_activations`: the trained persona; targets as `Measure` says) and read on the same tasks under another
 * (`scores`, `activations`).
 * Predictions are out of fold over tasks under both conditions; the output compares them with each condition's
 * targets, and the per-task predicted shift with the measured one (`transfer`, and a `tasks` table: task_id, origin,
 * target_trained, target, predicted_trained, predicted, predicted_shift_in_span, outside_share, fold).
 */
export const probeTransferStage = Stage.make({
  name: "probe_transfer",
  version: 1,
  params: Schema.Struct({ template_id: Schema.String, layer: Schema.Int, position: Schema.String, probes: TransferProbes, seed: Schema.Int }),
  run: ({ inputs, params }) =>
    Effect.gen(function* () {
      const origin = new Map(taskRows(inputs.tasks!.table("tasks")).map((t) => [t.task_id, t.origin]))
      const trainedRows = fromTable<ScoreRow>(inputs.trained_scores!.table("scores"))
      const otherRows = fromTable<ScoreRow>(inputs.scores!.table("scores"))
      const measure: Measure = [...trainedRows, ...otherRows].every((r) => r.expected !== null) ? "expected" : "answers"
      const trained = condition(trainedRows, measure, inputs.trained_activations!, params.layer, params.position)
      const other = condition(otherRows, measure, inputs.activations!, params.layer, params.position)
      const ids = [...trained.rows.keys()].filter((id) => other.rows.has(id)).sort()
      const needed = Math.max(10, 2 * params.probes.folds)
      if (ids.length < needed) {
        return yield* new TransferError({
          template_id: params.template_id,
          layer: params.layer,
          reason: `only ${ids.length} tasks have a target and an activation (${params.position}) under both personas; the transfer needs at least ${needed}`
        })
      }
      const xTrained = gather(trained.matrix, ids.map((id) => trained.rows.get(id)!))
      const xOther = gather(other.matrix, ids.map((id) => other.rows.get(id)!))
      const yTrained = Float64Array.from(ids, trained.mean)
      const yOther = Float64Array.from(ids, other.mean)
      const setup = { alphas: params.probes.alphas, groups: ids, k: params.probes.folds, seed: params.seed, cv: params.probes.alphaSelection, rule: params.probes.alphaRule }
      const fitted = crossFit(xTrained, yTrained, xOther, setup, params.probes.folds, params.seed)
      const result = probeTransfer(yTrained, yOther, fitted.trained, fitted.other, fitted.shiftInSpan, { resamples: params.probes.bootstrap, seed: params.seed })
      const moved = Array.from(fitted.outsideShare).filter((v) => Number.isFinite(v))
      const sampled = ids.filter((id) => trained.samples(id).length >= 2 && other.samples(id).length >= 2)
      const ceiling = sampled.length < 3 ? NaN : shiftCeiling(sampled.map(trained.samples), sampled.map(other.samples))
      const evaluation: TransferEvaluation = {
        template_id: params.template_id,
        layer: params.layer,
        position: params.position,
        measure,
        n_tasks: ids.length,
        folds: params.probes.folds,
        probe: { alpha: fitted.probe.alpha, cv_r2: fitted.probe.cvR2 },
        trained: fitJson(result.trained),
        transfer: fitJson(result.other),
        shift: {
          pearson_r: json(result.shift.pearsonR),
          slope: json(result.shift.slope),
          mean_measured: json(result.shift.meanMeasured),
          mean_predicted: json(result.shift.meanPredicted),
          sd_measured: result.shift.sdMeasured,
          sd_predicted: result.shift.sdPredicted,
          ceiling: finite(ceiling),
          in_span: {
            pearson_r: json(result.shift.inSpan.pearsonR),
            slope: json(result.shift.inSpan.slope),
            mean_predicted: json(result.shift.inSpan.meanPredicted),
            sd_predicted: result.shift.inSpan.sdPredicted
          },
          outside_share: moved.length === 0 ? null : moved.reduce((a, b) => a + b, 0) / moved.length
        }
      }
      const tasks = toTable(
        {
          task_id: ["utf8", false], origin: ["utf8", false], target_trained: ["float64", false], target: ["float64", false],
          predicted_trained: ["float64", false], predicted: ["float64", false], predicted_shift_in_span: ["float64", false],
          outside_share: ["float64", true], fold: ["int32", false]
        },
        ids.map((id, i) => ({
          task_id: id, origin: origin.get(id) ?? "(unknown)", target_trained: yTrained[i]!, target: yOther[i]!,
          predicted_trained: fitted.trained[i]!, predicted: fitted.other[i]!, predicted_shift_in_span: fitted.shiftInSpan[i]!,
          outside_share: finite(fitted.outsideShare[i]!), fold: fitted.folds[i]!
        }))
      )
      return { transfer: Artifact.json(evaluation), tasks: Artifact.table(tasks) }
    })
})
