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
  readonly scratch: Scratch
}

/** The array blocks of Z are standardized into: one serves every pass over rows of the same x, grown on demand. */
export interface Scratch {
  data: Float64Array
}

/** An empty scratch, to share between the `standardizedRows` of one fit. */
export const scratch = (): Scratch => ({ data: new Float64Array(0) })

// A block holds about a sixteenth of the source matrix (at least 2 MB), within 16-1,024 rows: large enough for the
// products to run at full speed, small enough to leave memory to the Gram matrix.
const blockRows = (x: Dense) => Math.max(16, Math.min(1024, Math.floor(Math.max(x.data.byteLength / 16, 2 << 20) / (8 * Math.max(x.cols, 1)))))

/** The rows of x at `rows`, standardized by `mean` and `sd`, their blocks held in `into` (a new scratch by default). */
export const standardizedRows = (x: Dense, rows: Int32Array, mean: Float64Array, sd: Float64Array, into = scratch()): StandardizedRows => ({
  x, rows, mean, sd, block: blockRows(x), scratch: into
})

// The first `length` values of the scratch; it grows at once to the most a pass over rows of x can ask for.
const take = (s: StandardizedRows, length: number) => {
  if (s.scratch.data.length < length) s.scratch.data = new Float64Array(Math.max(length, Math.min(s.block, s.x.rows) * s.x.cols))
  return s.scratch.data.subarray(0, length)
}

/** Per-column mean and population sd (ddof 0, zero replaced by 1) of the given rows (the JavaScript kernel). */
export const columnMoments = (x: Dense, rows: ArrayLike<number>): { mean: Float64Array; sd: Float64Array } => {
  const d = x.cols, mean = new Float64Array(d), sd = new Float64Array(d)
  for (let r = 0; r < rows.length; r++) {
    const o = rows[r]! * d
    for (let j = 0; j < d; j++) mean[j] += x.data[o + j]!
  }
  for (let j = 0; j < d; j++) mean[j] /= rows.length
  for (let r = 0; r < rows.length; r++) {
    const o = rows[r]! * d
    for (let j = 0; j < d; j++) sd[j] += (x.data[o + j]! - mean[j]!) ** 2
  }
  for (let j = 0; j < d; j++) {
    const s = Math.sqrt(sd[j]! / rows.length)
    sd[j] = s === 0 ? 1 : s
  }
  return { mean, sd }
}

/** Columns from..to of the listed rows of x, each (value − mean)/sd, into a row-major float64 block (`into` or a new one; the JavaScript kernel). */
export const standardizeRows = (x: Dense, rows: Int32Array, mean: Float64Array, sd: Float64Array, from = 0, to = x.cols, into?: Float64Array): Float64Array => {
  const d = x.cols, data = x.data, width = to - from
  const out = into ?? new Float64Array(rows.length * width)
  if (out.length !== rows.length * width) throw new Error(`standardize: the block holds ${out.length} values, expected ${rows.length}×${width}`)
  for (let r = 0; r < rows.length; r++) {
    const o = rows[r]! * d, w = r * width - from
    for (let j = from; j < to; j++) out[w + j] = (data[o + j]! - mean[j]!) / sd[j]!
  }
  return out
}

const blocks = (s: StandardizedRows) => Array.from({ length: Math.ceil(s.rows.length / s.block) }, (_, b) => {
  const from = b * s.block
  return { from, count: Math.min(s.block, s.rows.length - from) }
})

/** Runs `body` on every block of Z in order (the block, in the scratch, is the body's to change until the next block). */
export function* eachBlock(s: StandardizedRows, body: (z: Dense, from: number) => Steps<void>): Steps<void> {
  const d = s.x.cols
  for (const { from, count } of blocks(s)) {
    const data = yield* standardized(s.x, s.rows.subarray(from, from + count), s.mean, s.sd, 0, d, take(s, count * d))
    yield* body({ data, rows: count, cols: d }, from)
  }
}

/**
 * ZᵀZ (`primal`, cols×cols) or Z·Zᵀ (rows×rows) with its lower triangle filled (the rest of the array is left as
 * it was): the primal accumulates one product per block of rows, the dual one per block of columns, so every value of
 * Z is standardized once. `into` (rows `stride` apart, at least size·stride long) is written instead of a new array.
 */
export function* gram(s: StandardizedRows, primal: boolean, into?: Float64Array, stride?: number): Steps<Float64Array> {
  const d = s.x.cols, n = s.rows.length, size = primal ? d : n, step = stride ?? size
  if (into !== undefined && !(step >= size && into.length >= size * step)) throw new Error(`gram: the workspace holds ${into.length} values, ${size} rows ${step} apart needed`)
  const out = into === undefined ? new Float64Array(size * step) : into.subarray(0, size * step)
  if (primal) {
    let first = true
    yield* eachBlock(s, function* (z) {
      yield* product(z, z, { transA: true, symmetric: true }, { data: out, offset: 0, stride: step, accumulate: !first })
      first = false
    })
    return out
  }
  // As many columns per block as rows per block of rows hold values.
  const width = Math.max(1, Math.min(d, Math.floor((s.block * d) / Math.max(n, 1))))
  for (let from = 0; from < d; from += width) {
    const to = Math.min(d, from + width)
    const z = { data: yield* standardized(s.x, s.rows, s.mean, s.sd, from, to, take(s, n * (to - from))), rows: n, cols: to - from }
    yield* product(z, z, { transB: true, symmetric: true }, { data: out, offset: 0, stride: step, accumulate: from > 0 })
  }
  return out
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

/** Zᵀ·C for a row-major rows×m matrix C (cols×m), a block of standardized rows at a time, one product each: the JavaScript kernel of `transposedProduct`. */
export function* transposedProductByBlocks(s: StandardizedRows, c: Float64Array, m: number): Steps<Float64Array> {
  if (c.length !== s.rows.length * m) throw new Error(`transposedProduct: c has ${c.length} values, expected ${s.rows.length}×${m}`)
  const out = new Float64Array(s.x.cols * m)
  let first = true
  yield* eachBlock(s, function* (z, from) {
    const cb = { data: c.subarray(from * m, (from + z.rows) * m), rows: z.rows, cols: m }
    yield* product(z, cb, { transA: true }, { data: out, offset: 0, stride: m, accumulate: !first })
    first = false
  })
  return out
}
