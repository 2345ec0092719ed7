import { factorShifted, solveShifted, type Tridiagonal } from "./tridiagonal"

/**
 * A symmetric matrix reduced to band form (native/linalg.c's bandReduce, after LAPACK's dsytrd_sy2sb), A = Q·B·Qᵀ
 * with B of `kd` sub-diagonals in LAPACK's lower band storage (column j's diagonal and the kd values below it at
 * j·(kd+1)), and Q as the reflectors of LQ factorizations beyond the band, left in the reduced column-major array `a`
 * (its upper triangle, the row-major lower one; leading dimension `lda`) and `tau`.
 */
export interface Banded {
  readonly n: number
  readonly kd: number
  readonly band: Float64Array
  readonly a: Float64Array
  readonly lda: number
  readonly tau: Float64Array
}

/** A symmetric matrix in a reduced form: tridiagonal, or banded. */
export type Reduced = Tridiagonal | Banded

export const isBanded = (r: Reduced): r is Banded => "kd" in r

/**
 * (T + αₛ·I)⁻¹·bₜ for every target t (row t of the row-major count×n `rhs`) and shift s: a (count·shifts)×n matrix
 * whose row t·shifts + s is that solution. The JavaScript kernel, for tridiagonal forms.
 */
export const solveShiftedAll = (r: Reduced, alphas: ReadonlyArray<number>, rhs: Float64Array, count: number): Float64Array => {
  if (isBanded(r)) throw new Error("shiftedSolve: band forms of more than one sub-diagonal are solved by the native kernels only")
  const n = r.n, out = new Float64Array(count * alphas.length * n)
  alphas.forEach((alpha, s) => {
    const f = factorShifted(r, alpha)
    for (let t = 0; t < count; t++) solveShifted(f, rhs.subarray(t * n, (t + 1) * n), out.subarray((t * alphas.length + s) * n, (t * alphas.length + s + 1) * n))
  })
  return out
}
