import { type BootstrapOptions, bootstrapByTask, type Interval } from "./bootstrap"
import { pearson } from "./metrics"

/** Spearman-Brown reliability of the mean of k measurements whose single-measurement reliability is r₁: k·r₁/(1+(k−1)·r₁). */
export const spearmanBrown = (r1: number, k: number): number => {
  if (!(k >= 1)) throw new Error(`spearmanBrown: k must be at least 1, got ${k}`)
  return (k * r1) / (1 + (k - 1) * r1)
}

/** Seed sensitivity: cross-seed correlations of k-sample means from disjoint halves, with the Spearman-Brown prediction. */
export interface SeedSensitivity {
  /** measured[k−1]: Pearson r between the mean of samples 0..k−1 and of samples h..h+k−1 (h = half the samples). */
  readonly measured: Interval[]
  /** predicted[k−1] = spearmanBrown(measured r₁, k). */
  readonly spearmanBrown: number[]
  readonly tasks: number
}

const meansOf = (samples: ReadonlyArray<ArrayLike<number>>, rows: ArrayLike<number>, from: number, k: number) =>
  Float64Array.from(rows, (t) => {
    let s = 0
    for (let j = from; j < from + k; j++) s += samples[t]![j]!
    return s / k
  })

/**
 * `samples[task][s]` holds one score per task and sample (same number of samples per task, at least 2). The
 * first half of the samples is compared with the second, for k = 1..K (K at most half); intervals bootstrap tasks.
 */
export const seedSensitivity = (
  samples: ReadonlyArray<ArrayLike<number>>, options: { maxK?: number; bootstrap?: BootstrapOptions } = {}
): SeedSensitivity => {
  if (samples.length < 3) throw new Error(`seedSensitivity: samples has ${samples.length} tasks, need at least 3`)
  const m = samples[0]!.length
  samples.forEach((s, i) => {
    if (s.length !== m) throw new Error(`seedSensitivity: samples[${i}] has ${s.length} samples, expected ${m}`)
  })
  const half = Math.floor(m / 2)
  if (half < 1) throw new Error(`seedSensitivity: need at least 2 samples per task, got ${m}`)
  const maxK = options.maxK ?? half
  if (!(Number.isInteger(maxK) && maxK >= 1 && maxK <= half)) throw new Error(`seedSensitivity: maxK must be an integer in 1..${half}, got ${maxK}`)
  const tasks = samples.map((_, i) => i)
  const measured = Array.from({ length: maxK }, (_, i) =>
    bootstrapByTask(tasks, (rows) => pearson(meansOf(samples, rows, 0, i + 1), meansOf(samples, rows, half, i + 1)), options.bootstrap))
  const r1 = measured[0]!.estimate
  return { measured, spearmanBrown: measured.map((_, i) => spearmanBrown(r1, i + 1)), tasks: samples.length }
}

/** The noise ceiling: Spearman-Brown reliability of the mean of m samples, the highest R² a predictor of that mean can reach. */
export const noiseCeiling = (r1: number, m: number): number => spearmanBrown(r1, m)

/**
 * Single-sample reliability estimated from every pair of samples: the mean over sample pairs (s < t) of the Pearson r
 * between sample s and sample t across tasks. With m samples it uses m(m−1)/2 pairs instead of one, so it is far less
 * noisy than r₁ of `seedSensitivity`; `samples[task][s]` as there, at least 2 samples per task.
 */
export const meanPairwiseR = (samples: ReadonlyArray<ArrayLike<number>>, rows?: ArrayLike<number>): number => {
  const tasks = rows ?? Int32Array.from(samples, (_, i) => i)
  const m = samples[0]?.length ?? 0
  if (m < 2) throw new Error(`meanPairwiseR: need at least 2 samples per task, got ${m}`)
  const columns = Array.from({ length: m }, (_, s) => {
    const column = new Float64Array(tasks.length)
    for (let i = 0; i < tasks.length; i++) column[i] = samples[tasks[i]!]![s]!
    return column
  })
  let total = 0
  let pairs = 0
  for (let s = 0; s < m; s++) {
    for (let t = s + 1; t < m; t++) {
      total += pearson(columns[s]!, columns[t]!)
      pairs++
    }
  }
  return total / pairs
}
