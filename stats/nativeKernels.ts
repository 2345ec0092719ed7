import { createRequire } from "node:module"
import * as os from "node:os"
import { checkTarget, gemmShape, type GemmTarget } from "./gemm"
import type { Dense } from "./dense"
import type { Backend, KernelRequest } from "./kernels"
import { type Banded, isBanded } from "./banded"
import type { ShiftedFactor, Tridiagonal } from "./tridiagonal"

/** The addon built from native/linalg.c at install (absent when OpenBLAS or a compiler was missing). */
type Arrays = Array<Float64Array | Float32Array | Int32Array>

interface Addon {
  readonly call: (op: number, threads: number, ints: Int32Array, doubles: Float64Array, arrays: Arrays) => Promise<number>
  readonly describe: () => { config: string; threads: number }
}

/** The addon with the thread count of each call decided by the backend's policy. */
interface Native {
  readonly call: (op: number, ints: Int32Array, doubles: Float64Array, arrays: Arrays) => Promise<number>
}

// Operation codes of native/linalg.c.
const GEMM = 0, SYRK = 1, SYTRD = 2, FORM_Q = 4, POTRF = 5, POTRS = 6, SHIFTED_FORMS = 7, STANDARDIZE = 8, ORMTR_BLOCKED = 9, MOMENTS = 10, TRANSPOSED_PRODUCT = 11
const BAND_REDUCE = 12, BAND_APPLY = 13, BAND_SOLVE = 14
// Sub-diagonals of a band reduction, and by default the order from which it replaces the tridiagonal one.
const BAND = 64, BAND_FROM = 2048
// Reflectors per block when Q is applied or formed: dormql's and dorgql's own blocks (at most 64, 32) leave dlarfb's
// products thin.
const REFLECTOR_BLOCK = 128
// Applied to a few vectors, a block's triangular factor (O(n·block²) per block) costs more than the product it serves:
// the block shrinks with the count of vectors, to 16 (n = 1,000 and 4,096 with 1 or 20 vectors: 2-4× faster than 128).
const applyBlock = (vectors: number) => Math.min(REFLECTOR_BLOCK, Math.max(16, 2 ** Math.floor(Math.log2(Math.max(vectors, 1)))))

// Calls below about this many multiply-adds stay in JavaScript: a thread-pool round trip costs more than they do.
const SMALL = 200_000

/**
 * Options of `nativeKernels`: OpenBLAS's thread count (default: every core), and the least work (multiply-adds) a
 * call must have to leave JavaScript. The thread count is fixed rather than fitted to the machine's load because it
 * decides how OpenBLAS splits its sums (dgemm, dsytrd, dormtr and dpotrf round differently on 1 and 2 threads), and a
 * rebuild must give the same bytes. On a machine already busy with other work one thread is faster (measured on
 * 2 cores at load 20: dpotrf 2-4×, dsytrd 1.5-2× and dormtr 1.4-2× slower on 2 threads than on 1).
 */
export interface NativeOptions {
  readonly threads?: number
  readonly minimumWork?: number
  /** The least order a `reduce` request takes to band form rather than tridiagonal form. */
  readonly bandFrom?: number
}

let loaded: { addon: Addon } | { error: string } | undefined

const load = (): { addon: Addon } | { error: string } => {
  if (loaded === undefined) {
    try {
      loaded = { addon: createRequire(import.meta.url)("../native/build/Release/linalg.node") as Addon }
    } catch (e) {
      loaded = { error: e instanceof Error ? e.message.split("\n")[0]! : String(e) }
    }
  }
  return loaded
}

/** Why the native kernels are unavailable, or undefined when they load. */
export const nativeKernelsMissing = (): string | undefined => {
  const l = load()
  return "error" in l ? `the native linear algebra addon did not load (${l.error}); build it with \`npm run build:native\` after installing OpenBLAS (Debian: apt-get install libopenblas-dev)` : undefined
}

/** OpenBLAS's build configuration and thread count, when the addon loads. */
export const nativeKernelsInfo = (): { config: string; threads: number } | undefined => {
  const l = load()
  return "addon" in l ? l.addon.describe() : undefined
}

const ints = (...v: number[]) => Int32Array.from(v)
const doubles = (...v: number[]) => Float64Array.from(v)
const float64 = (data: Float64Array | Float32Array) => (data instanceof Float64Array ? data : Float64Array.from(data))
// The addon's flag for a source matrix held as float32 (1) rather than float64 (0).
const float32 = (x: Dense) => (x.data instanceof Float32Array ? 1 : 0)

const check = (info: number, what: string) => {
  if (info < 0) throw new Error(`${what}: LAPACK rejected argument ${-info}`)
  return info
}

// The lower triangle of a row-major n×n matrix copied into its upper triangle.
const mirrorLower = (c: Float64Array, n: number, offset: number, stride: number) => {
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) c[offset + i * stride + j] = c[offset + j * stride + i]!
}

const targetView = (into: GemmTarget | undefined, m: number, n: number) => {
  if (into === undefined) return { data: new Float64Array(m * n), offset: 0, stride: n, accumulate: false }
  checkTarget(into, m, n)
  return into
}

/**
 * Row-major products through column-major BLAS: C (m×n, row stride ldc) is Cᵀ column-major, and Cᵀ = op(B)ᵀ·op(A)ᵀ
 * reads each row-major operand as its own transpose. A symmetric product of one operand with itself is a dsyrk
 * filling the lower row-major triangle (mirrored only into a new array).
 */
const gemm = (addon: Native, small: number) => (request: Extract<KernelRequest, { op: "gemm" }>) => {
  const { a, b, options, into } = request
  const { m, n, k } = gemmShape(a, b, options)
  if (m * n * k < small || m === 0 || n === 0) return undefined
  const c = targetView(into, m, n)
  const beta = c.accumulate ? 1 : 0
  const out = c.data.subarray(c.offset)
  const transA = options.transA ?? false, transB = options.transB ?? false
  if (options.symmetric && a === b && transA !== transB) {
    // transA: C = AᵀA (size a.cols, dsyrk 'N' on the buffer Aᵀ); transB: C = A·Aᵀ (size a.rows, dsyrk 'T').
    return addon.call(SYRK, ints(1, transA ? 0 : 1, m, k, a.cols, c.stride), doubles(1, beta), [float64(a.data), out]).then((info) => {
      check(info, "syrk")
      if (into === undefined) mirrorLower(c.data, m, 0, n)
      return c.data
    })
  }
  return addon
    .call(GEMM, ints(transB ? 1 : 0, transA ? 1 : 0, n, m, k, b.cols, a.cols, c.stride), doubles(1, beta), [float64(b.data), float64(a.data), out])
    .then((info) => (check(info, "gemm"), c.data))
}

const tridiagonalize = (addon: Native, small: number) => (request: Extract<KernelRequest, { op: "tridiagonalize" }>) => {
  const { a, n } = request, lda = request.stride ?? n
  if (n * n * n < small || n < 3) return undefined
  if (!(lda >= n && a.length >= (n - 1) * lda + n)) throw new Error(`tridiagonalize: a has ${a.length} values, too few for ${n}×${n} with rows ${lda} apart`)
  const diag = new Float64Array(n), off = new Float64Array(n - 1), tau = new Float64Array(n - 1)
  // Column-major "U" of a symmetric matrix is the row-major lower triangle the other kernels read.
  return addon.call(SYTRD, ints(1, n, lda), doubles(), [a, diag, off, tau]).then((info): Tridiagonal => {
    check(info, "dsytrd")
    return { n, diag, off, q: { kind: "lapack", tau, a, lda } }
  })
}

// From order `from`, to band form (native/linalg.c's bandReduce); below it, to tridiagonal form.
const reduce = (addon: Native, small: number, from: number) => {
  const tridiagonal = tridiagonalize(addon, small)
  return (request: Extract<KernelRequest, { op: "reduce" }>) => {
    const { a, n } = request, lda = request.stride ?? n
    if (n < Math.max(from, BAND + 2)) return tridiagonal({ op: "tridiagonalize", a, n, stride: lda })
    if (!(lda >= n && a.length >= (n - 1) * lda + n)) throw new Error(`reduce: a has ${a.length} values, too few for ${n}×${n} with rows ${lda} apart`)
    const band = new Float64Array((BAND + 1) * n), tau = new Float64Array(n)
    return addon.call(BAND_REDUCE, ints(n, lda, BAND), doubles(), [a, band, tau]).then((): Banded => ({ n, kd: BAND, band, a, lda, tau }))
  }
}

const shiftedSolve = (addon: Native) => (request: Extract<KernelRequest, { op: "shiftedSolve" }>) => {
  const { r, alphas, rhs, count } = request
  if (!isBanded(r)) return undefined
  if (rhs.length !== count * r.n) throw new Error(`shiftedSolve: rhs has ${rhs.length} values, expected ${count}×${r.n}`)
  const out = new Float64Array(count * alphas.length * r.n)
  return addon.call(BAND_SOLVE, ints(r.n, r.kd, alphas.length, count), doubles(), [r.band, Float64Array.from(alphas), rhs, out]).then((info) => {
    if (info > 0) throw new Error(`shiftedSolve: the shifted band matrix is not positive definite (pivot ${info - 1})`)
    check(info, "dpbtrf/dpbtrs")
    return out
  })
}

// Reflectors of dsytrd and of bandReduce go back to the native kernels whatever their size.
const applyQ = (addon: Native) => (request: Extract<KernelRequest, { op: "applyQ" }>) => {
  const { t, p, rows, transpose } = request
  if (isBanded(t)) {
    if (p.length !== rows * t.n) throw new Error(`applyQ: p has ${p.length} values, expected ${rows}×${t.n}`)
    return addon.call(BAND_APPLY, ints(transpose ? 1 : 0, t.n, rows, t.kd, t.lda, applyBlock(rows)), doubles(), [t.a, t.tau, p]).then(() => p)
  }
  if (t.q.kind !== "lapack") return undefined
  if (p.length !== rows * t.n) throw new Error(`applyQ: p has ${p.length} values, expected ${rows}×${t.n}`)
  if (rows === 0) return p
  // Row-major rows×n is column-major n×rows: each of our rows is a column Q (or Qᵀ) multiplies from the left.
  return addon.call(ORMTR_BLOCKED, ints(transpose ? 1 : 0, t.n, rows, applyBlock(rows), t.q.lda), doubles(), [t.q.a, t.q.tau, p]).then(() => p)
}

// Q formed over the reflectors of dsytrd, in their array (dorgtr's method in blocks of REFLECTOR_BLOCK): Q takes the
// reduced matrix's place.
const formQ = (addon: Native) => (request: Extract<KernelRequest, { op: "formQ" }>) => {
  const { t } = request
  if (t.q.kind !== "lapack") return undefined
  const a = t.q.a
  return addon.call(FORM_Q, ints(t.n, t.q.lda, REFLECTOR_BLOCK), doubles(), [a, t.q.tau]).then(() => a.subarray(0, t.n * t.n))
}

// The factors interleaved by shift (value i of shift s at i·shifts + s), pivots as reciprocals: the layout the native
// loop runs on. Kept per grid of factors, which the blocks of one pass share.
const interleaved = new WeakMap<ReadonlyArray<ShiftedFactor>, { l: Float64Array; r: Float64Array }>()

const interleave = (factors: ReadonlyArray<ShiftedFactor>, n: number) => {
  let packed = interleaved.get(factors)
  if (packed === undefined) {
    const shifts = factors.length, l = new Float64Array(n * shifts), r = new Float64Array(n * shifts)
    factors.forEach((f, s) => {
      for (let i = 0; i < n; i++) {
        l[i * shifts + s] = f.l[i]!
        r[i * shifts + s] = 1 / f.d[i]!
      }
    })
    interleaved.set(factors, (packed = { l, r }))
  }
  return packed
}

const shiftedForms = (addon: Native, small: number) => (request: Extract<KernelRequest, { op: "shiftedForms" }>) => {
  const { factors, p, rows } = request
  const n = factors.length === 0 ? 0 : factors[0]!.d.length
  if (rows * n * factors.length < small || rows === 0) return undefined
  if (p.length !== rows * n) throw new Error(`shiftedForms: p has ${p.length} values, expected ${rows}×${n}`)
  const { l, r } = interleave(factors, n)
  const out = new Float64Array(rows * factors.length)
  return addon.call(SHIFTED_FORMS, ints(n, rows, factors.length), doubles(), [l, r, p, out]).then(() => out)
}

const choleskySolve = (addon: Native, small: number) => (request: Extract<KernelRequest, { op: "choleskySolve" }>) => {
  const { a, n, b, nrhs } = request
  if (n * n * n < small || n === 0) return undefined
  if (a.length !== n * n) throw new Error(`choleskySolve: a has ${a.length} values, expected ${n}×${n}`)
  if (b.length !== n * nrhs) throw new Error(`choleskySolve: b has ${b.length} values, expected ${n}×${nrhs}`)
  // dpotrs wants B column-major (n×nrhs): our row-major n×nrhs transposed.
  const bt = new Float64Array(n * nrhs)
  for (let i = 0; i < n; i++) for (let c = 0; c < nrhs; c++) bt[c * n + i] = b[i * nrhs + c]!
  return addon.call(POTRF, ints(1, n, n), doubles(), [a]).then(async (info) => {
    if (info > 0) throw new Error(`choleskySolve: matrix is not positive definite (pivot ${info - 1})`)
    check(await addon.call(POTRS, ints(1, n, nrhs, n, n), doubles(), [a, bt]), "dpotrs")
    const x = new Float64Array(n * nrhs)
    for (let i = 0; i < n; i++) for (let c = 0; c < nrhs; c++) x[i * nrhs + c] = bt[c * n + i]!
    return x
  })
}

const checkRows = (x: Dense, rows: Int32Array, what: string) =>
  rows.forEach((r) => {
    if (!(r >= 0 && r < x.rows)) throw new Error(`${what}: row ${r} is outside 0..${x.rows - 1}`)
  })

const moments = (addon: Native, small: number) => (request: Extract<KernelRequest, { op: "moments" }>) => {
  const { x, rows } = request
  if (rows.length * x.cols < small || rows.length === 0) return undefined
  checkRows(x, rows, "moments")
  const mean = new Float64Array(x.cols), sd = new Float64Array(x.cols)
  return addon.call(MOMENTS, ints(x.cols, rows.length, float32(x)), doubles(), [x.data, rows, mean, sd]).then(() => ({ mean, sd }))
}

const standardize = (addon: Native, small: number) => (request: Extract<KernelRequest, { op: "standardize" }>) => {
  const { x, rows, mean, sd, from, to, into } = request
  const d = x.cols
  if (rows.length * (to - from) < small || rows.length === 0) return undefined
  if (!(from >= 0 && from <= to && to <= d)) throw new Error(`standardize: columns ${from}..${to} are outside 0..${d}`)
  if (mean.length !== d || sd.length !== d) throw new Error(`standardize: mean and sd need ${d} values, got ${mean.length} and ${sd.length}`)
  checkRows(x, rows, "standardize")
  if (into !== undefined && into.length !== rows.length * (to - from)) throw new Error(`standardize: the block holds ${into.length} values, expected ${rows.length}×${to - from}`)
  const out = into ?? new Float64Array(rows.length * (to - from))
  return addon.call(STANDARDIZE, ints(d, rows.length, from, to, float32(x)), doubles(), [x.data, rows, mean, sd, out]).then(() => out)
}

// Up to this many columns of C, Zᵀ·C reads the float32 rows once, Xᵀ·C − mean·(1ᵀ·C) scaled by 1/sd; wider ones
// go a block of standardized rows at a time to dgemm.
const RAW_COLUMNS = 4

const transposedProduct = (addon: Native, small: number) => (request: Extract<KernelRequest, { op: "transposedProduct" }>) => {
  const { z, c, m } = request
  const { x, rows, mean, sd } = z, d = x.cols
  if (m > RAW_COLUMNS || rows.length * d * m < small || rows.length === 0) return undefined
  if (c.length !== rows.length * m) throw new Error(`transposedProduct: c has ${c.length} values, expected ${rows.length}×${m}`)
  checkRows(x, rows, "transposedProduct")
  const out = new Float64Array(d * m)
  return addon.call(TRANSPOSED_PRODUCT, ints(d, rows.length, m, float32(x)), doubles(), [x.data, rows, mean, sd, c, out]).then(() => out)
}

/**
 * The kernels on the system's OpenBLAS and LAPACK (dgemm, dsyrk, dsytrd, dlarft/dlarfb/dorg2l, dpotrf/dpotrs), each call on
 * libuv's thread pool; undefined when the addon is not built.
 */
export const nativeKernels = (options: NativeOptions = {}): Backend | undefined => {
  const l = load()
  if (!("addon" in l)) return undefined
  const threads = options.threads ?? os.availableParallelism()
  const addon: Native = { call: (op, i, d, a) => l.addon.call(op, threads, i, d, a) }
  const small = options.minimumWork ?? SMALL
  return {
    name: "openblas",
    gemm: gemm(addon, small),
    tridiagonalize: tridiagonalize(addon, small),
    reduce: reduce(addon, small, options.bandFrom ?? BAND_FROM),
    applyQ: applyQ(addon),
    shiftedSolve: shiftedSolve(addon),
    formQ: formQ(addon),
    shiftedForms: shiftedForms(addon, small),
    choleskySolve: choleskySolve(addon, small),
    moments: moments(addon, small),
    transposedProduct: transposedProduct(addon, small),
    standardize: standardize(addon, small)
  }
}
