import { type MatrixLike, toDense } from "./dense"
import { normalTwoSided } from "./distributions"
import { choleskySolve } from "./cholesky"
import { gemm } from "./gemm"
import { invertFlat } from "./regression"

/** A logistic regression fit: coefficients (intercept first when fitted), Wald standard errors, z and two-sided p-values. */
export interface LogisticFit {
  readonly coefficients: number[]
  readonly se: number[]
  readonly z: number[]
  readonly p: number[]
  readonly iterations: number
  readonly logLikelihood: number
}

/** Options: intercept (default true), L2 penalty λ·‖w‖²/2 on the non-intercept coefficients (default 0), iteration limit and tolerance. */
export interface LogisticOptions {
  readonly intercept?: boolean
  readonly l2?: number
  readonly maxIterations?: number
  readonly tolerance?: number
}

const sigmoid = (t: number) => (t >= 0 ? 1 / (1 + Math.exp(-t)) : Math.exp(t) / (1 + Math.exp(t)))
const log1pExp = (t: number) => (t > 0 ? t + Math.log1p(Math.exp(-t)) : Math.log1p(Math.exp(t)))

// The design matrix with the intercept column first when fitted: row-major n×k.
const designOf = (x: MatrixLike | ArrayLike<number>, intercept: boolean) => {
  const isVector = typeof (x as ArrayLike<number>)[0] === "number"
  const dense = isVector ? { data: Float64Array.from(x as ArrayLike<number>), rows: (x as ArrayLike<number>).length, cols: 1 } : toDense(x as MatrixLike, "logistic", "x")
  const n = dense.rows, k = dense.cols + (intercept ? 1 : 0), shift = intercept ? 1 : 0
  const design = new Float64Array(n * k)
  for (let i = 0; i < n; i++) {
    if (intercept) design[i * k] = 1
    for (let j = 0; j < dense.cols; j++) design[i * k + j + shift] = dense.data[i * dense.cols + j]!
  }
  return { design, n, k }
}

/** The fitted coefficients of `logistic` without the inference (what a predictive probe needs). */
export const logisticCoefficients = (x: MatrixLike | ArrayLike<number>, y: ArrayLike<number>, options: LogisticOptions = {}): { coefficients: Float64Array; iterations: number } => {
  const intercept = options.intercept ?? true
  const { design, n, k } = designOf(x, intercept)
  return newton(design, n, k, y, intercept, options)
}

const solveNewton = (hessian: Float64Array, k: number, grad: Float64Array): Float64Array => {
  try {
    return choleskySolve(hessian, k, grad)
  } catch {
    throw new Error("logistic: the information matrix is singular (collinear regressors, or perfect separation without an l2 penalty)")
  }
}

// Newton-Raphson from zero on the design matrix; the penalty skips the intercept.
const newton = (design: Float64Array, n: number, k: number, y: ArrayLike<number>, intercept: boolean, options: LogisticOptions) => {
  const l2 = options.l2 ?? 0
  if (y.length !== n) throw new Error(`logistic: x has ${n} rows but y has ${y.length} values`)
  for (let i = 0; i < n; i++) if (y[i] !== 0 && y[i] !== 1) throw new Error(`logistic: y[${i}] is ${y[i]}, expected 0 or 1`)
  if (!(l2 >= 0)) throw new Error(`logistic: l2 must be non-negative, got ${l2}`)
  const first = intercept ? 1 : 0
  const beta = new Float64Array(k), grad = new Float64Array(k), weighted = new Float64Array(n * k)
  const x = { data: design, rows: n, cols: k }, xw = { data: weighted, rows: n, cols: k }
  const maxIterations = options.maxIterations ?? 100, tolerance = options.tolerance ?? 1e-10
  let iterations = 0
  for (; iterations < maxIterations; iterations++) {
    for (let a = 0; a < k; a++) grad[a] = a >= first ? -l2 * beta[a]! : 0
    // The gradient Xᵀ(y − μ) − λβ, and X's rows weighted by μ(1 − μ) for the Hessian XᵀWX + λ.
    for (let i = 0; i < n; i++) {
      const o = i * k
      let e = 0
      for (let a = 0; a < k; a++) e += design[o + a]! * beta[a]!
      const mu = sigmoid(e), wgt = mu * (1 - mu), r = y[i]! - mu
      for (let a = 0; a < k; a++) {
        grad[a] += design[o + a]! * r
        weighted[o + a] = wgt * design[o + a]!
      }
    }
    const hessian = gemm(xw, x, { transA: true, symmetric: true })
    for (let a = first; a < k; a++) hessian[a * k + a] += l2
    // The Newton step solves H·step = grad by Cholesky (H is positive definite wherever the fit is identified).
    const step = solveNewton(hessian, k, grad)
    let change = 0
    for (let a = 0; a < k; a++) {
      beta[a] += step[a]!
      change = Math.max(change, Math.abs(step[a]!))
    }
    if (!beta.every(Number.isFinite)) throw new Error("logistic: Newton iterations diverged (perfect separation? add an l2 penalty)")
    if (change < tolerance) {
      iterations++
      break
    }
  }
  return { coefficients: beta, iterations }
}

/**
 * Logistic regression by Newton-Raphson (IRLS) on binary targets. Without a penalty the standard errors are
 * those of statsmodels `Logit` (inverse observed information); with one they come from the penalized Hessian.
 */
export const logistic = (x: MatrixLike | ArrayLike<number>, y: ArrayLike<number>, options: LogisticOptions = {}): LogisticFit => {
  const intercept = options.intercept ?? true, l2 = options.l2 ?? 0
  const { design, n, k } = designOf(x, intercept)
  const { coefficients: beta, iterations } = newton(design, n, k, y, intercept, options)
  // Information at the final coefficients.
  const first = intercept ? 1 : 0
  const hessian = new Float64Array(k * k)
  for (let a = first; a < k; a++) hessian[a * k + a] = l2
  let logLikelihood = 0
  for (let i = 0; i < n; i++) {
    const o = i * k
    let e = 0
    for (let a = 0; a < k; a++) e += design[o + a]! * beta[a]!
    const mu = sigmoid(e), wgt = mu * (1 - mu)
    logLikelihood += y[i]! * e - log1pExp(e)
    for (let a = 0; a < k; a++) {
      const wa = wgt * design[o + a]!
      for (let b = 0; b < k; b++) hessian[a * k + b] += wa * design[o + b]!
    }
  }
  const cov = invertFlat(hessian, k)
  const se = Array.from({ length: k }, (_, a) => Math.sqrt(cov[a * k + a]!))
  const coefficients = Array.from(beta)
  const z = coefficients.map((b, a) => b / se[a]!)
  return { coefficients, se, z, p: z.map(normalTwoSided), iterations, logLikelihood }
}

/** Predicted probabilities of a fit for the rows of x (same intercept convention as the fit). */
export const predictLogistic = (fit: { readonly coefficients: ArrayLike<number> }, x: MatrixLike | ArrayLike<number>, intercept = true): Float64Array => {
  const isVector = typeof (x as ArrayLike<number>)[0] === "number"
  const dense = isVector ? { data: Float64Array.from(x as ArrayLike<number>), rows: (x as ArrayLike<number>).length, cols: 1 } : toDense(x as MatrixLike, "predictLogistic", "x")
  const k = dense.cols + (intercept ? 1 : 0)
  if (fit.coefficients.length !== k) throw new Error(`predictLogistic: x has ${dense.cols} columns but the fit has ${fit.coefficients.length} coefficients`)
  return Float64Array.from({ length: dense.rows }, (_, i) => {
    let s = intercept ? fit.coefficients[0]! : 0
    for (let j = 0; j < dense.cols; j++) s += dense.data[i * dense.cols + j]! * fit.coefficients[j + (intercept ? 1 : 0)]!
    return sigmoid(s)
  })
}
