/**
 * A probe trained under one condition (a persona's system prompt, say) and read under another on the same tasks: its
 * out-of-fold predictions under both, how well they predict the other condition's targets, and whether the change of
 * its prediction between the conditions tracks the measured change of the target, task by task.
 */
import { type BootstrapOptions, bootstrapByTask, type Interval } from "./bootstrap"
import { type Dense, selectRows } from "./dense"
import type { ProbeSetup } from "./evaluation"
import { meanAdjustedR2, pearson, r2Score } from "./metrics"
import { spearmanBrown } from "./reliability"
import { makePrng, permutation } from "./prng"
import { fitRidge, predictRidge, type RidgeFit } from "./ridge"
import { projectOnto, variedSpan } from "./variedSpan"

/** Out-of-fold predictions of the probe under the trained condition and under the other one, row by row. */
export interface CrossFitted {
  /** The probe fitted on every row of the trained condition (its alpha is the one every fold refit uses). */
  readonly probe: RidgeFit
  readonly trained: Float64Array
  readonly other: Float64Array
  /**
   * The predicted shift of each row from the fold probe's weights projected onto the directions its training rows
   * vary along (`variedSpan`): what the data taught the probe. A Ridge probe on standardized features also has
   * weights along directions that never varied in training (set by each coordinate's scale, not by any target), and
   * a condition that moves activations there gets a predicted shift from them alone.
   */
  readonly shiftInSpan: Float64Array
  /** Per row, the share of ‖other − trained‖² outside the fold's varied span (NaN when the row did not move). */
  readonly outsideShare: Float64Array
  /** Fold of each row. */
  readonly folds: Int32Array
}

/**
 * Row i of `trained` and of `other` is the same task under the two conditions. The probe is fitted on all trained
 * rows (alpha chosen as `setup` says); then for each of `k` folds of tasks (a seeded balanced shuffle) it is refitted
 * at that alpha on the trained rows outside the fold and predicts both conditions' rows inside it, so no task's
 * prediction comes from a probe that saw that task.
 */
export const crossFit = (trained: Dense, y: ArrayLike<number>, other: Dense, setup: ProbeSetup, k: number, seed: number): CrossFitted => {
  const n = trained.rows
  if (other.rows !== n || other.cols !== trained.cols) throw new Error(`crossFit: other is ${other.rows}×${other.cols}, trained is ${n}×${trained.cols}; rows must be the same tasks`)
  if (y.length !== n) throw new Error(`crossFit: y has ${y.length} values but trained has ${n} rows`)
  if (!(Number.isInteger(k) && k >= 2 && k <= n)) throw new Error(`crossFit: k must be an integer in 2..${n}, got ${k}`)
  const probe = fitRidge(trained, y, setup)
  const folds = new Int32Array(n)
  permutation(n, makePrng(seed)).forEach((row, position) => (folds[row] = position % k))
  const d = trained.cols
  const predictedTrained = new Float64Array(n)
  const predictedOther = new Float64Array(n)
  const shiftInSpan = new Float64Array(n)
  const outsideShare = new Float64Array(n)
  for (let f = 0; f < k; f++) {
    const inFold = Int32Array.from({ length: n }, (_, i) => i).filter((i) => folds[i] === f)
    const outside = Int32Array.from({ length: n }, (_, i) => i).filter((i) => folds[i] !== f)
    const fit = fitRidge(trained, y, { ...setup, alphas: [probe.alpha], rows: outside })
    const a = predictRidge(fit, selectRows(trained, inFold))
    const b = predictRidge(fit, selectRows(other, inFold))
    const span = variedSpan(trained, outside)
    const learned = projectOnto(span, fit.weightsRaw)
    inFold.forEach((row, r) => {
      predictedTrained[row] = a[r]!
      predictedOther[row] = b[r]!
      const move = Float64Array.from({ length: d }, (_, j) => other.data[row * d + j]! - trained.data[row * d + j]!)
      let dot = 0
      let total = 0
      let outsideNorm = 0
      const inside = projectOnto(span, move)
      for (let j = 0; j < d; j++) {
        dot += learned[j]! * move[j]!
        total += move[j]! ** 2
        outsideNorm += (move[j]! - inside[j]!) ** 2
      }
      shiftInSpan[row] = dot
      outsideShare[row] = total === 0 ? NaN : outsideNorm / total
    })
  }
  return { probe, trained: predictedTrained, other: predictedOther, shiftInSpan, outsideShare, folds }
}

/** R², mean-adjusted R² and Pearson r of predictions against targets, each with a bootstrap interval over tasks. */
export interface Fit {
  readonly r2: Interval
  readonly r2MeanAdjusted: Interval
  readonly pearsonR: Interval
}

/** How the probe's predicted shift (other − trained prediction) compares with the measured shift (other − trained target). */
export interface ShiftTracking {
  /** Pearson r over tasks of predicted against measured shift: does the probe see which tasks the condition moves? */
  readonly pearsonR: Interval
  /** OLS slope of measured on predicted shift (1: the probe predicts the shift's size); NaN when the prediction does not vary. */
  readonly slope: Interval
  readonly meanMeasured: Interval
  readonly meanPredicted: Interval
  /** Standard deviations over tasks (ddof 0): a predicted shift far smaller than the measured one tracks nothing of it, whatever its r. */
  readonly sdMeasured: number
  readonly sdPredicted: number
  /** The same for the predicted shift from the probe's weights within the directions its training varied along. */
  readonly inSpan: { readonly pearsonR: Interval; readonly slope: Interval; readonly meanPredicted: Interval; readonly sdPredicted: number }
}

/** Everything `probeTransfer` measures. */
export interface ProbeTransfer {
  /** The probe's out-of-fold predictions against the trained condition's own targets. */
  readonly trained: Fit
  /** The same probe's out-of-fold predictions under the other condition against that condition's targets. */
  readonly other: Fit
  readonly shift: ShiftTracking
}

const slopeOf = (x: ArrayLike<number>, y: ArrayLike<number>): number => {
  let mx = 0, my = 0
  for (let i = 0; i < x.length; i++) {
    mx += x[i]!
    my += y[i]!
  }
  mx /= x.length
  my /= x.length
  let sxy = 0, sxx = 0
  for (let i = 0; i < x.length; i++) {
    sxy += (x[i]! - mx) * (y[i]! - my)
    sxx += (x[i]! - mx) ** 2
  }
  return sxx === 0 ? NaN : sxy / sxx
}

const meanOf = (x: ArrayLike<number>): number => {
  let s = 0
  for (let i = 0; i < x.length; i++) s += x[i]!
  return s / x.length
}

const sdOf = (x: ArrayLike<number>): number => {
  const m = meanOf(x)
  let s = 0
  for (let i = 0; i < x.length; i++) s += (x[i]! - m) ** 2
  return Math.sqrt(s / x.length)
}

/**
 * Metrics of a probe's transfer, one row per task: targets `yTrained`, `yOther`, the probe's (out-of-fold)
 * predictions `pTrained`, `pOther` under the two conditions, and the predicted shift of its weights within the
 * directions its training varied along (`CrossFitted.shiftInSpan`). Every interval is a percentile bootstrap over
 * tasks with the same resamples (same seed), so intervals of different statistics describe the same draws.
 */
export const probeTransfer = (
  yTrained: ArrayLike<number>, yOther: ArrayLike<number>, pTrained: ArrayLike<number>, pOther: ArrayLike<number>,
  shiftInSpan: ArrayLike<number>, bootstrap: BootstrapOptions = {}
): ProbeTransfer => {
  const n = yTrained.length
  for (const [name, v] of [["yOther", yOther], ["pTrained", pTrained], ["pOther", pOther], ["shiftInSpan", shiftInSpan]] as const) {
    if (v.length !== n) throw new Error(`probeTransfer: ${name} has ${v.length} values but yTrained has ${n}`)
  }
  if (n < 3) throw new Error(`probeTransfer: needs at least 3 tasks, got ${n}`)
  const tasks = Array.from({ length: n }, (_, i) => i)
  const interval = (statistic: (rows: Int32Array) => number) => bootstrapByTask(tasks, statistic, bootstrap)
  const at = (v: ArrayLike<number>, rows: Int32Array) => Float64Array.from(rows, (r) => v[r]!)
  const fit = (y: ArrayLike<number>, p: ArrayLike<number>): Fit => ({
    r2: interval((rows) => r2Score(at(y, rows), at(p, rows))),
    r2MeanAdjusted: interval((rows) => meanAdjustedR2(at(y, rows), at(p, rows))),
    pearsonR: interval((rows) => pearson(at(y, rows), at(p, rows)))
  })
  const measured = Float64Array.from(tasks, (i) => yOther[i]! - yTrained[i]!)
  const predicted = Float64Array.from(tasks, (i) => pOther[i]! - pTrained[i]!)
  return {
    trained: fit(yTrained, pTrained),
    other: fit(yOther, pOther),
    shift: {
      pearsonR: interval((rows) => pearson(at(predicted, rows), at(measured, rows))),
      slope: interval((rows) => slopeOf(at(predicted, rows), at(measured, rows))),
      meanMeasured: interval((rows) => meanOf(at(measured, rows))),
      meanPredicted: interval((rows) => meanOf(at(predicted, rows))),
      sdMeasured: sdOf(measured),
      sdPredicted: sdOf(predicted),
      inSpan: {
        pearsonR: interval((rows) => pearson(at(shiftInSpan, rows), at(measured, rows))),
        slope: interval((rows) => slopeOf(at(shiftInSpan, rows), at(measured, rows))),
        meanPredicted: interval((rows) => meanOf(at(shiftInSpan, rows))),
        sdPredicted: sdOf(shiftInSpan)
      }
    }
  }
}

/**
 * The highest correlation any predictor can reach with a measured shift, given the shift's own sampling noise:
 * √(split-half reliability), where the per-task shift is measured once from the even samples and once from the odd
 * ones of both conditions (`trained[t]`, `other[t]`: task t's values in sample order, at least 2 each), the two
 * correlated across tasks and stepped up to all samples by Spearman-Brown. 0 when the halves do not correlate
 * positively; NaN when a half's shifts do not vary.
 */
export const shiftCeiling = (trained: ReadonlyArray<ArrayLike<number>>, other: ReadonlyArray<ArrayLike<number>>): number => {
  if (trained.length !== other.length) throw new Error(`shiftCeiling: trained has ${trained.length} tasks but other has ${other.length}`)
  if (trained.length < 3) throw new Error(`shiftCeiling: needs at least 3 tasks, got ${trained.length}`)
  const half = (values: ArrayLike<number>, parity: number, t: number, arg: string) => {
    if (values.length < 2) throw new Error(`shiftCeiling: ${arg}[${t}] has ${values.length} samples, need at least 2`)
    let sum = 0, n = 0
    for (let k = parity; k < values.length; k += 2) {
      sum += values[k]!
      n++
    }
    return sum / n
  }
  const even = trained.map((v, t) => half(other[t]!, 0, t, "other") - half(v, 0, t, "trained"))
  const odd = trained.map((v, t) => half(other[t]!, 1, t, "other") - half(v, 1, t, "trained"))
  const r = pearson(even, odd)
  return Number.isNaN(r) ? NaN : Math.sqrt(Math.max(0, spearmanBrown(r, 2)))
}
