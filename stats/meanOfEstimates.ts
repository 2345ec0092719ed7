import { normalQuantile } from "./distributions"

/** A mean of several estimates with its interval, and how many estimates entered it. */
export interface EstimateMean {
  readonly estimate: number
  readonly lo: number
  readonly hi: number
  readonly n: number
}

/**
 * The mean of independent estimates (e.g. one metric per held-out dataset, each from disjoint tasks) with a normal
 * interval: each estimate's standard error is read off its own interval at `level` as (hi − lo)/(2z), and the mean's
 * is √(Σ seᵢ²)/n. Estimates or intervals that are not finite are left out; with none left every field is NaN.
 */
export const meanOfEstimates = (
  estimates: ReadonlyArray<{ readonly estimate: number; readonly lo: number; readonly hi: number }>,
  level = 0.95
): EstimateMean => {
  if (!(level > 0 && level < 1)) throw new Error(`meanOfEstimates: level must be in (0, 1), got ${level}`)
  estimates.forEach((e, i) => {
    if (e.lo > e.hi) throw new Error(`meanOfEstimates: estimates[${i}] has lo ${e.lo} above hi ${e.hi}`)
  })
  const usable = estimates.filter((e) => Number.isFinite(e.estimate) && Number.isFinite(e.lo) && Number.isFinite(e.hi))
  const n = usable.length
  if (n === 0) return { estimate: Number.NaN, lo: Number.NaN, hi: Number.NaN, n: 0 }
  const z = normalQuantile(1 - (1 - level) / 2)
  const mean = usable.reduce((a, e) => a + e.estimate, 0) / n
  const se = Math.sqrt(usable.reduce((a, e) => a + ((e.hi - e.lo) / (2 * z)) ** 2, 0)) / n
  return { estimate: mean, lo: mean - z * se, hi: mean + z * se, n }
}
