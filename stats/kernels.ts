import type { Dense } from "./dense"
import type { GemmOptions, GemmTarget } from "./gemm"
import type { StandardizedRows } from "./standardizedRows"
import type { Reduced } from "./banded"
import type { ShiftedFactor, Tridiagonal } from "./tridiagonal"

/**
 * The dense kernels the numeric algorithms ask for. An algorithm is a generator that yields one request per kernel
 * call and receives its result, so one algorithm runs synchronously on the JavaScript kernels or asynchronously on a
 * backend (OpenBLAS/LAPACK through the native addon, onnxruntime's Gemm) that takes the calls it is good at.
 */
export type KernelRequest =
  | { readonly op: "gemm"; readonly a: Dense; readonly b: Dense; readonly options: GemmOptions; readonly into?: GemmTarget }
  /**
   * Reduces the symmetric n×n matrix `a` (row-major with rows `stride` apart, n by default; its lower triangle is read
   * and the array consumed) to tridiagonal form.
   */
  | { readonly op: "tridiagonalize"; readonly a: Float64Array; readonly n: number; readonly stride?: number }
  /**
   * Reduces it as `tridiagonalize` does, or to a band of a few sub-diagonals, which takes matrix products nearly
   * throughout where a tridiagonal reduction streams the matrix once per column.
   */
  | { readonly op: "reduce"; readonly a: Float64Array; readonly n: number; readonly stride?: number }
  /** Every row p of the row-major rows×n matrix `p`, in place: p ← Qᵀ·p when `transpose`, else p ← Q·p; returns `p`. */
  | { readonly op: "applyQ"; readonly t: Reduced; readonly p: Float64Array; readonly rows: number; readonly transpose: boolean }
  /** `solveShiftedAll`: every row of the row-major count×n `rhs` solved in every shifted form B + α·I. */
  | { readonly op: "shiftedSolve"; readonly r: Reduced; readonly alphas: ReadonlyArray<number>; readonly rhs: Float64Array; readonly count: number }
  /** Q of a tridiagonal form as a row-major n×n matrix, row i being Qᵀ·eᵢ; `t`'s reflectors may be consumed. */
  | { readonly op: "formQ"; readonly t: Tridiagonal }
  /** pᵀ·(T + αₛ·I)⁻¹·p for every row p of `p` and every factor s: a rows×factors matrix. */
  | { readonly op: "shiftedForms"; readonly factors: ReadonlyArray<ShiftedFactor>; readonly p: Float64Array; readonly rows: number }
  /** Solves A·X = B for the symmetric positive definite n×n `a` (lower triangle read, consumed) and row-major n×nrhs `b`. */
  | { readonly op: "choleskySolve"; readonly a: Float64Array; readonly n: number; readonly b: Float64Array; readonly nrhs: number }
  /** Per-column mean and population sd (zero replaced by 1) of the listed rows of x. */
  | { readonly op: "moments"; readonly x: Dense; readonly rows: Int32Array }
  /** Zᵀ·C for the standardized rows Z and a row-major rows×m matrix C: a row-major cols×m matrix. */
  | { readonly op: "transposedProduct"; readonly z: StandardizedRows; readonly c: Float64Array; readonly m: number }
  /** Columns from..to of the listed rows of x, each (value − mean)/sd, as a row-major float64 block (into `into` when given). */
  | {
    readonly op: "standardize"; readonly x: Dense; readonly rows: Int32Array; readonly mean: Float64Array; readonly sd: Float64Array
    readonly from: number; readonly to: number; readonly into?: Float64Array
  }

/** The result type of each kind of request. */
export interface KernelResults {
  readonly gemm: Float64Array
  readonly tridiagonalize: Tridiagonal
  readonly reduce: Reduced
  readonly applyQ: Float64Array
  readonly shiftedSolve: Float64Array
  readonly formQ: Float64Array
  readonly shiftedForms: Float64Array
  readonly choleskySolve: Float64Array
  readonly moments: { readonly mean: Float64Array; readonly sd: Float64Array }
  readonly transposedProduct: Float64Array
  readonly standardize: Float64Array
}

type RequestOf<K extends KernelRequest["op"]> = Extract<KernelRequest, { op: K }>

/** An algorithm written as a generator of kernel requests. */
export type Steps<A> = Generator<KernelRequest, A, unknown>

/**
 * A kernel backend: for each kind of request, an implementation that may return a promise, or `undefined` to leave
 * that call (e.g. one too small to be worth a thread hop) to the JavaScript kernels.
 */
export type Backend = {
  readonly name: string
} & {
  readonly [K in KernelRequest["op"]]?: (request: RequestOf<K>) => KernelResults[K] | Promise<KernelResults[K]> | undefined
}

/**
 * Records what ran where: calls and wall-clock seconds per backend and kind of request (nested JavaScript kernels
 * count within their parent too), and the most multiply-adds of one product done by the JavaScript GEMM.
 */
export interface KernelTrace {
  largestJsProduct: number
  calls: Record<string, number>
  seconds: Record<string, number>
}

/** A fresh trace to pass to a runner. */
export const kernelTrace = (): KernelTrace => ({ largestJsProduct: 0, calls: {}, seconds: {} })

/** Yields one request and returns its result, typed by the kind of request. */
export const ask = function* <K extends KernelRequest["op"]>(request: RequestOf<K>): Generator<KernelRequest, KernelResults[K], unknown> {
  return (yield request) as KernelResults[K]
}

/** C = op(A)·op(B) (a new array, or the target's array). */
export const product = (a: Dense, b: Dense, options: GemmOptions = {}, into?: GemmTarget) =>
  ask<"gemm">(into === undefined ? { op: "gemm", a, b, options } : { op: "gemm", a, b, options, into })
/** The tridiagonal form of a symmetric matrix (rows `stride` apart; the array is consumed). */
export const tridiagonal = (a: Float64Array, n: number, stride = n) => ask<"tridiagonalize">({ op: "tridiagonalize", a, n, stride })
/** A reduced form of a symmetric matrix, tridiagonal or banded (rows `stride` apart; the array is consumed). */
export const reduced = (a: Float64Array, n: number, stride = n) => ask<"reduce">({ op: "reduce", a, n, stride })
/** Every right-hand side solved in every shifted form. */
export const shiftedSolutions = (r: Reduced, alphas: ReadonlyArray<number>, rhs: Float64Array, count: number) =>
  ask<"shiftedSolve">({ op: "shiftedSolve", r, alphas, rhs, count })
/** Rows of p ← Qᵀ·row (transpose) or Q·row, in place. */
export const rotate = (t: Reduced, p: Float64Array, rows: number, transpose: boolean) => ask<"applyQ">({ op: "applyQ", t, p, rows, transpose })
/** Q of a tridiagonal form, row-major (the tridiagonal's reflectors may be consumed: rotate with products by Q after). */
export const basis = (t: Tridiagonal) => ask<"formQ">({ op: "formQ", t })
/** Quadratic forms of every row of p in every shifted inverse. */
export const forms = (factors: ReadonlyArray<ShiftedFactor>, p: Float64Array, rows: number) => ask<"shiftedForms">({ op: "shiftedForms", factors, p, rows })
/** Per-column mean and sd (ddof 0, zero replaced by 1) of the listed rows of x. */
export const moments = (x: Dense, rows: Int32Array) => ask<"moments">({ op: "moments", x, rows })
/** Zᵀ·C for the standardized rows Z and a row-major rows×m matrix C. */
export const transposedProduct = (z: StandardizedRows, c: Float64Array, m: number) => ask<"transposedProduct">({ op: "transposedProduct", z, c, m })
/** Rows of x (columns from..to, every column by default) standardized into a float64 block (`into`, exactly its size, or a new one). */
export const standardized = (x: Dense, rows: Int32Array, mean: Float64Array, sd: Float64Array, from = 0, to = x.cols, into?: Float64Array) =>
  ask<"standardize">({ op: "standardize", x, rows, mean, sd, from, to, into })
/** The solution of a symmetric positive definite system (the matrix is consumed). */
export const solveSpd = (a: Float64Array, n: number, b: Float64Array, nrhs: number) => ask<"choleskySolve">({ op: "choleskySolve", a, n, b, nrhs })
