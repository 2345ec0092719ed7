import { type MatrixLike, toDense } from "./dense"
import { normalTwoSided } from "./distributions"
import { invertSymmetric } from "./regression"

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

/**
 * Logistic regression by Newton-Raphson (IRLS) on binary targets. Without a penalty the standard errors are
 * those of statsmodels `Logit` (inverse observed information); with one they come from the penalized Hessian.
 */
export const logistic = (x: MatrixLike | ArrayLike<number>, y: ArrayLike<number>, options: LogisticOptions = {}): LogisticFit => {
  const isVector = typeof (x as ArrayLike<number>)[0] === "number"
  const dense = isVector ? { data: Float64Array.from(x as ArrayLike<number>), rows: (x as ArrayLike<number>).length, cols: 1 } : toDense(x as MatrixLike, "logistic", "x")
  const intercept = options.intercept ?? true, l2 = options.l2 ?? 0
  const n = dense.rows, k = dense.cols + (intercept ? 1 : 0)
  if (y.length !== n) throw new Error(`logistic: x has ${n} rows but y has ${y.length} values`)
  for (let i = 0; i < n; i++) if (y[i] !== 0 && y[i] !== 1) throw new Error(`logistic: y[${i}] is ${y[i]}, expected 0 or 1`)
  if (!(l2 >= 0)) throw new Error(`logistic: l2 must be non-negative, got ${l2}`)
  const row = (i: number, a: number) => (intercept ? (a === 0 ? 1 : dense.data[i * dense.cols + a - 1]!) : dense.data[i * dense.cols + a]!)
  const penalized = (a: number) => !(intercept && a === 0)
  const beta = new Array<number>(k).fill(0)
  const maxIterations = options.maxIterations ?? 100, tolerance = options.tolerance ?? 1e-10
  let hessian: number[][] = []
  let iterations = 0
  const eta = (i: number) => {
    let s = 0
    for (let a = 0; a < k; a++) s += row(i, a) * beta[a]!
    return s
  }
  for (; iterations < maxIterations; iterations++) {
    const grad = beta.map((b, a) => (penalized(a) ? -l2 * b : 0))
    hessian = Array.from({ length: k }, (_, a) => Array.from({ length: k }, (_, b) => (a === b && penalized(a) ? l2 : 0)))
    for (let i = 0; i < n; i++) {
      const mu = sigmoid(eta(i)), wgt = mu * (1 - mu), r = y[i]! - mu
      for (let a = 0; a < k; a++) {
        const xa = row(i, a)
        grad[a]! += xa * r
        for (let b = 0; b <= a; b++) hessian[a]![b]! += wgt * xa * row(i, b)
      }
    }
    for (let a = 0; a < k; a++) for (let b = a + 1; b < k; b++) hessian[a]![b] = hessian[b]![a]!
    const inv = invertSymmetric(hessian)
    let change = 0
    for (let a = 0; a < k; a++) {
      const step = inv[a]!.reduce((s, v, b) => s + v * grad[b]!, 0)
      beta[a]! += step
      change = Math.max(change, Math.abs(step))
    }
    if (!beta.every(Number.isFinite)) throw new Error("logistic: Newton iterations diverged (perfect separation? add an l2 penalty)")
    if (change < tolerance) {
      iterations++
      break
    }
  }
  // Information at the final coefficients.
  hessian = Array.from({ length: k }, (_, a) => Array.from({ length: k }, (_, b) => (a === b && penalized(a) ? l2 : 0)))
  let logLikelihood = 0
  for (let i = 0; i < n; i++) {
    const e = eta(i), mu = sigmoid(e), wgt = mu * (1 - mu)
    logLikelihood += y[i]! * e - log1pExp(e)
    for (let a = 0; a < k; a++) for (let b = 0; b < k; b++) hessian[a]![b]! += wgt * row(i, a) * row(i, b)
  }
  const cov = invertSymmetric(hessian)
  const se = cov.map((r, a) => Math.sqrt(r[a]!))
  const z = beta.map((b, a) => b / se[a]!)
  return { coefficients: beta, se, z, p: z.map(normalTwoSided), iterations, logLikelihood }
}

/** Predicted probabilities of a fit for the rows of x (same intercept convention as the fit). */
export const predictLogistic = (fit: Pick<LogisticFit, "coefficients">, x: MatrixLike | ArrayLike<number>, intercept = true): Float64Array => {
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
