import type { Dense } from "./dense"
import { product, type Steps } from "./kernels"

/**
 * Rows of a matrix standardized by a given mean and sd, Z = (X[rows] − mean)/sd, never held whole: the products
 * below standardize a block of rows at a time into float64, so a float32 matrix of activations is the only full
 * copy of the data.
 */
export interface StandardizedRows {
  readonly x: Dense
  readonly rows: Int32Array
  readonly mean: Float64Array
  readonly sd: Float64Array
  /** Rows per block. */
  readonly block: number
}

// A block holds about an eighth of the source matrix (at least 8 MB), within 16-1,024 rows.
const blockRows = (x: Dense) => Math.max(16, Math.min(1024, Math.floor(Math.max(x.data.byteLength / 8, 8 << 20) / (8 * Math.max(x.cols, 1)))))

/** The rows of x at `rows`, standardized by `mean` and `sd`. */
export const standardizedRows = (x: Dense, rows: Int32Array, mean: Float64Array, sd: Float64Array): StandardizedRows => ({
  x, rows, mean, sd, block: blockRows(x)
})

/** Rows from..from+count of Z into a new row-major block. */
export const standardizeBlock = (s: StandardizedRows, from: number, count: number): Float64Array => {
  const d = s.x.cols, data = s.x.data, { mean, sd, rows } = s
  const out = new Float64Array(count * d)
  for (let r = 0; r < count; r++) {
    const o = rows[from + r]! * d, w = r * d
    for (let j = 0; j < d; j++) out[w + j] = (data[o + j]! - mean[j]!) / sd[j]!
  }
  return out
}

const blocks = (s: StandardizedRows) => Array.from({ length: Math.ceil(s.rows.length / s.block) }, (_, b) => {
  const from = b * s.block
  return { from, count: Math.min(s.block, s.rows.length - from) }
})

/** Runs `body` on every block of Z in order (the block array is the body's to change). */
export function* eachBlock(s: StandardizedRows, body: (z: Dense, from: number) => Steps<void>): Steps<void> {
  for (const { from, count } of blocks(s)) yield* body({ data: standardizeBlock(s, from, count), rows: count, cols: s.x.cols }, from)
}

/**
 * ZᵀZ (`primal`, cols×cols) or Z·Zᵀ (rows×rows) with its lower triangle filled (the upper is left zero): the primal
 * accumulates one product per block, the dual fills one block of rows against every block up to it.
 */
export function* gram(s: StandardizedRows, primal: boolean): Steps<Float64Array> {
  const d = s.x.cols, n = s.rows.length
  if (primal) {
    const g = new Float64Array(d * d)
    let first = true
    yield* eachBlock(s, function* (z) {
      yield* product(z, z, { transA: true, symmetric: true }, { data: g, offset: 0, stride: d, accumulate: !first })
      first = false
    })
    return g
  }
  const k = new Float64Array(n * n)
  const all = blocks(s)
  for (let i = 0; i < all.length; i++) {
    const bi = all[i]!
    const zi = { data: standardizeBlock(s, bi.from, bi.count), rows: bi.count, cols: d }
    for (let j = 0; j <= i; j++) {
      const bj = all[j]!
      const zj = i === j ? zi : { data: standardizeBlock(s, bj.from, bj.count), rows: bj.count, cols: d }
      yield* product(zi, zj, { transB: true, symmetric: i === j }, { data: k, offset: bi.from * n + bj.from, stride: n, accumulate: false })
    }
  }
  return k
}

/** Z·W for a row-major cols×m matrix W: rows×m. */
export function* times(s: StandardizedRows, w: Float64Array, m: number): Steps<Float64Array> {
  const out = new Float64Array(s.rows.length * m)
  const wd = { data: w, rows: s.x.cols, cols: m }
  yield* eachBlock(s, function* (z, from) {
    yield* product(z, wd, {}, { data: out, offset: from * m, stride: m, accumulate: false })
  })
  return out
}

/** Zᵀ·C for a row-major rows×m matrix C: cols×m. */
export function* timesTransposed(s: StandardizedRows, c: Float64Array, m: number): Steps<Float64Array> {
  const out = new Float64Array(s.x.cols * m)
  let first = true
  yield* eachBlock(s, function* (z, from) {
    const cb = { data: c.subarray(from * m, (from + z.rows) * m), rows: z.rows, cols: m }
    yield* product(z, cb, { transA: true }, { data: out, offset: 0, stride: m, accumulate: !first })
    first = false
  })
  return out
}
