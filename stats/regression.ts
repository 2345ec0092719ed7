import { type MatrixLike, toDense } from "./dense"
import { normalQuantile, normalTwoSided, studentTTwoSided } from "./distributions"

/** An OLS fit: coefficients (intercept first when fitted), classical standard errors, t statistics and two-sided p-values. */
export interface OlsFit {
  readonly coefficients: number[]
  readonly se: number[]
  readonly t: number[]
  readonly p: number[]
  readonly dfResid: number
  readonly residuals: Float64Array
  /** Task-clustered CR1 standard errors and normal p-values (statsmodels `cov_type="cluster"`), when clusters were given. */
  readonly cluster?: { readonly se: number[]; readonly z: number[]; readonly p: number[]; readonly groups: number }
}

/** Inverse of a small symmetric positive definite matrix (Gauss-Jordan with partial pivoting). */
export const invertSymmetric = (a: number[][]): number[][] => {
  const n = a.length
  const flat = new Float64Array(n * n)
  a.forEach((row, i) => flat.set(row, i * n))
  const inv = invertFlat(flat, n)
  return Array.from({ length: n }, (_, i) => Array.from(inv.subarray(i * n, (i + 1) * n)))
}

/** `invertSymmetric` of a row-major n×n matrix, as a new row-major array (the same operations in the same order). */
export const invertFlat = (a: Float64Array, n: number): Float64Array => {
  const w = 2 * n
  const m = new Float64Array(n * w)
  for (let i = 0; i < n; i++) {
    m.set(a.subarray(i * n, (i + 1) * n), i * w)
    m[i * w + n + i] = 1
  }
  const swap = new Float64Array(w)
  for (let c = 0; c < n; c++) {
    let piv = c
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r * w + c]!) > Math.abs(m[piv * w + c]!)) piv = r
    if (m[piv * w + c] === 0) throw new Error(`invertSymmetric: matrix is singular (column ${c})`)
    if (piv !== c) {
      swap.set(m.subarray(c * w, (c + 1) * w))
      m.copyWithin(c * w, piv * w, (piv + 1) * w)
      m.set(swap, piv * w)
    }
    const inv = 1 / m[c * w + c]!
    for (let k = 0; k < w; k++) m[c * w + k] *= inv
    for (let r = 0; r < n; r++) {
      if (r === c) continue
      const f = m[r * w + c]!
      if (f !== 0) for (let k = 0; k < w; k++) m[r * w + k] -= f * m[c * w + k]!
    }
  }
  const out = new Float64Array(n * n)
  for (let i = 0; i < n; i++) out.set(m.subarray(i * w + n, (i + 1) * w), i * n)
  return out
}

const designOf = (x: MatrixLike | ArrayLike<number>, intercept: boolean, fn: string): number[][] => {
  const isVector = typeof (x as ArrayLike<number>)[0] === "number"
  const rows: number[][] = isVector
    ? Array.from(x as ArrayLike<number>, (v) => [v])
    : (() => {
        const d = toDense(x as MatrixLike, fn, "x")
        return Array.from({ length: d.rows }, (_, i) => Array.from(d.data.subarray(i * d.cols, (i + 1) * d.cols)))
      })()
  return intercept ? rows.map((r) => [1, ...r]) : rows
}

/**
 * Ordinary least squares of y on x (a vector or a matrix of regressors), with an intercept unless
 * `intercept: false`; p-values from Student's t with n − k degrees of freedom. With `clusters`, also CR1
 * cluster-robust errors: (XᵀX)⁻¹(Σ_g X_gᵀe_g e_gᵀX_g)(XᵀX)⁻¹ · G/(G−1) · (n−1)/(n−k), normal p-values.
 */
export const ols = (
  x: MatrixLike | ArrayLike<number>, y: ArrayLike<number>,
  options: { intercept?: boolean; clusters?: ReadonlyArray<string | number> } = {}
): OlsFit => {
  const design = designOf(x, options.intercept ?? true, "ols")
  const n = design.length
  if (y.length !== n) throw new Error(`ols: x has ${n} rows but y has ${y.length} values`)
  if (options.clusters !== undefined && options.clusters.length !== n) throw new Error(`ols: clusters has ${options.clusters.length} values but x has ${n} rows`)
  const k = design[0]?.length ?? 0
  if (n <= k) throw new Error(`ols: ${n} rows cannot fit ${k} coefficients`)
  const xtx = Array.from({ length: k }, (_, a) => Array.from({ length: k }, (_, b) => design.reduce((s, r) => s + r[a]! * r[b]!, 0)))
  const xty = Array.from({ length: k }, (_, a) => design.reduce((s, r, i) => s + r[a]! * y[i]!, 0))
  const inv = invertSymmetric(xtx)
  const coefficients = inv.map((row) => row.reduce((s, v, b) => s + v * xty[b]!, 0))
  const residuals = Float64Array.from(design, (r, i) => y[i]! - r.reduce((s, v, b) => s + v * coefficients[b]!, 0))
  const dfResid = n - k
  const sigma2 = residuals.reduce((s, e) => s + e * e, 0) / dfResid
  const se = inv.map((row, a) => Math.sqrt(sigma2 * row[a]!))
  const t = coefficients.map((c, a) => c / se[a]!)
  const p = t.map((v) => studentTTwoSided(v, dfResid))
  if (options.clusters === undefined) return { coefficients, se, t, p, dfResid, residuals }
  const scores = new Map<string | number, number[]>()
  design.forEach((r, i) => {
    const g = options.clusters![i]!
    const acc = scores.get(g) ?? new Array<number>(k).fill(0)
    r.forEach((v, a) => (acc[a]! += v * residuals[i]!))
    scores.set(g, acc)
  })
  const groups = scores.size
  if (groups < 2) throw new Error(`ols: clusters has ${groups} distinct value, need at least 2`)
  const meat = Array.from({ length: k }, (_, a) => Array.from({ length: k }, (_, b) => [...scores.values()].reduce((s, u) => s + u[a]! * u[b]!, 0)))
  const factor = (groups / (groups - 1)) * ((n - 1) / (n - k))
  const half = inv.map((row) => Array.from({ length: k }, (_, b) => row.reduce((s, v, c) => s + v * meat[c]![b]!, 0)))
  const cov = half.map((row) => Array.from({ length: k }, (_, b) => row.reduce((s, v, c) => s + v * inv[c]![b]!, 0) * factor))
  const cse = cov.map((row, a) => Math.sqrt(row[a]!))
  const z = coefficients.map((c, a) => c / cse[a]!)
  return { coefficients, se, t, p, dfResid, residuals, cluster: { se: cse, z, p: z.map(normalTwoSided), groups } }
}

/** A proportion with its Wilson score interval. */
export interface Proportion {
  readonly successes: number
  readonly n: number
  readonly p: number
  readonly lo: number
  readonly hi: number
}

/** Wilson score interval for `successes` out of `n` (95% by default), as statsmodels `proportion_confint(method="wilson")`. */
export const wilson = (successes: number, n: number, level = 0.95): Proportion => {
  if (!Number.isInteger(n) || n <= 0) throw new Error(`wilson: n must be a positive integer, got ${n}`)
  if (!(successes >= 0 && successes <= n)) throw new Error(`wilson: successes must be in 0..${n}, got ${successes}`)
  const z = normalQuantile(1 - (1 - level) / 2), z2 = z * z
  const p = successes / n
  const denom = 1 + z2 / n
  const center = (p + z2 / (2 * n)) / denom
  const half = (z / denom) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))
  // With no successes (or no failures) the bound is exactly 0 (or 1); the difference rounds to ±1e-18.
  return { successes, n, p, lo: successes === 0 ? 0 : center - half, hi: successes === n ? 1 : center + half }
}
