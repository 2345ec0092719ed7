import type { Dense } from "./dense"
import { product, standardized, type Steps } from "./kernels"

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

/** Columns from..to of the listed rows of x, each (value − mean)/sd, into a new row-major float64 block (the JavaScript kernel). */
export const standardizeRows = (x: Dense, rows: Int32Array, mean: Float64Array, sd: Float64Array, from = 0, to = x.cols): Float64Array => {
  const d = x.cols, data = x.data, width = to - from
  const out = new Float64Array(rows.length * width)
  for (let r = 0; r < rows.length; r++) {
    const o = rows[r]! * d, w = r * width - from
    for (let j = from; j < to; j++) out[w + j] = (data[o + j]! - mean[j]!) / sd[j]!
  }
  return out
}

/** Rows from..from+count of Z as a block. */
function* block(s: StandardizedRows, from: number, count: number): Steps<Dense> {
  return { data: yield* standardized(s.x, s.rows.subarray(from, from + count), s.mean, s.sd), rows: count, cols: s.x.cols }
}

const blocks = (s: StandardizedRows) => Array.from({ length: Math.ceil(s.rows.length / s.block) }, (_, b) => {
  const from = b * s.block
  return { from, count: Math.min(s.block, s.rows.length - from) }
})

/** Runs `body` on every block of Z in order (the block array is the body's to change). */
export function* eachBlock(s: StandardizedRows, body: (z: Dense, from: number) => Steps<void>): Steps<void> {
  for (const { from, count } of blocks(s)) yield* body(yield* block(s, from, count), from)
}

/**
 * ZᵀZ (`primal`, cols×cols) or Z·Zᵀ (rows×rows) with its lower triangle filled (the rest of the array is left as
 * it was): the primal accumulates one product per block of rows, the dual one per block of columns, so every value of
 * Z is standardized once. `into` (at least size² long) is written instead of a new array.
 */
export function* gram(s: StandardizedRows, primal: boolean, into?: Float64Array): Steps<Float64Array> {
  const d = s.x.cols, n = s.rows.length, size = primal ? d : n
  if (into !== undefined && into.length < size * size) throw new Error(`gram: the workspace holds ${into.length} values, ${size}×${size} needed`)
  const out = into === undefined ? new Float64Array(size * size) : into.subarray(0, size * size)
  if (primal) {
    const g = out
    let first = true
    yield* eachBlock(s, function* (z) {
      yield* product(z, z, { transA: true, symmetric: true }, { data: g, offset: 0, stride: d, accumulate: !first })
      first = false
    })
    return g
  }
  const k = out
  // As many columns per block as rows per block of rows hold values.
  const width = Math.max(1, Math.floor((s.block * d) / Math.max(n, 1)))
  for (let from = 0; from < d; from += width) {
    const to = Math.min(d, from + width)
    const z = { data: yield* standardized(s.x, s.rows, s.mean, s.sd, from, to), rows: n, cols: to - from }
    yield* product(z, z, { transB: true, symmetric: true }, { data: k, offset: 0, stride: n, accumulate: from > 0 })
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
