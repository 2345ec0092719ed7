import { type MatrixLike, toDense } from "./dense"

/** A baseline direction: mean activation of the top-rated rows minus that of the bottom-rated rows. */
export interface MeanDifference {
  readonly direction: Float64Array
  readonly top: Int32Array
  readonly bottom: Int32Array
}

/**
 * Mean of x over the `count` highest-y rows minus the mean over the `count` lowest (or the top and bottom
 * `quantile` fraction, at least one row each); ties broken by row order.
 */
export const meanDifference = (x: MatrixLike, y: ArrayLike<number>, select: { count: number } | { quantile: number }): MeanDifference => {
  const dense = toDense(x, "meanDifference", "x")
  const n = dense.rows, d = dense.cols
  if (y.length !== n) throw new Error(`meanDifference: x has ${n} rows but y has ${y.length} values`)
  const count = "count" in select ? select.count : Math.max(1, Math.floor(select.quantile * n))
  if ("quantile" in select && !(select.quantile > 0 && select.quantile <= 0.5)) throw new Error(`meanDifference: quantile must be in (0, 0.5], got ${select.quantile}`)
  if (!(Number.isInteger(count) && count >= 1 && 2 * count <= n)) throw new Error(`meanDifference: count must be an integer in 1..${Math.floor(n / 2)}, got ${count}`)
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => y[a]! - y[b]! || a - b)
  const bottom = Int32Array.from(order.slice(0, count)), top = Int32Array.from(order.slice(n - count))
  const direction = new Float64Array(d)
  for (let r = 0; r < count; r++) {
    const t = top[r]! * d, b = bottom[r]! * d
    for (let j = 0; j < d; j++) direction[j] += (dense.data[t + j]! - dense.data[b + j]!) / count
  }
  return { direction, top, bottom }
}
