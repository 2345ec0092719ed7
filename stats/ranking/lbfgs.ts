/**
 * Limited-memory BFGS (Nocedal & Wright, Numerical Optimization, 2nd ed., Alg. 7.4 two-loop recursion)
 * with a strong-Wolfe line search (Alg. 3.5/3.6, cubic interpolation in the zoom phase).
 */

/** Writes the gradient at `x` into `gradient` and returns the objective value. */
export type Objective = (x: Float64Array, gradient: Float64Array) => number

/** Stopping rules and memory; the defaults follow SciPy's L-BFGS-B (m = 10, factr·eps ≈ 2.2e-9). */
export interface LbfgsOptions {
  readonly memory?: number
  readonly maxIterations?: number
  /** Stop when the largest gradient component is at most this. */
  readonly gradientTolerance?: number
  /** Stop when an iteration lowers the objective by at most this fraction of max(|f|, 1). */
  readonly relativeTolerance?: number
}

/** The minimizer found, its value, and whether a stopping rule (rather than the iteration cap or a failed line search) ended the run. */
export interface LbfgsResult {
  readonly x: Float64Array
  readonly value: number
  readonly iterations: number
  readonly evaluations: number
  readonly converged: boolean
}

const C1 = 1e-4
const C2 = 0.9
const MAX_LINE_EVALUATIONS = 40

const dot = (a: Float64Array, b: Float64Array): number => {
  let s = 0
  for (let k = 0; k < a.length; k++) s += a[k]! * b[k]!
  return s
}

const maxAbs = (a: Float64Array): number => {
  let m = 0
  for (let k = 0; k < a.length; k++) m = Math.max(m, Math.abs(a[k]!))
  return m
}

/** Minimizer of the cubic through (a, fa, da) and (b, fb, db), or undefined when it has none. */
const cubicMinimizer = (a: number, fa: number, da: number, b: number, fb: number, db: number): number | undefined => {
  const d1 = da + db - 3 * (fa - fb) / (a - b)
  const disc = d1 * d1 - da * db
  if (!(disc >= 0)) return undefined
  const d2 = Math.sign(b - a) * Math.sqrt(disc)
  const t = b - (b - a) * (db + d2 - d1) / (db - da + 2 * d2)
  return Number.isFinite(t) ? t : undefined
}

/** Minimizes `objective` from `x0` by L-BFGS. */
export const minimizeLbfgs = (objective: Objective, x0: Float64Array, options: LbfgsOptions = {}): LbfgsResult => {
  const n = x0.length
  const m = options.memory ?? 10
  const maxIterations = options.maxIterations ?? 15000
  const gtol = options.gradientTolerance ?? 1e-5
  const ftol = options.relativeTolerance ?? 2.220446049250313e-9
  if (!Number.isInteger(m) || m < 1) throw new RangeError(`minimizeLbfgs: options.memory must be a positive integer, got ${m}`)

  const x = Float64Array.from(x0)
  const g = new Float64Array(n)
  let f = objective(x, g)
  let evaluations = 1
  if (!Number.isFinite(f)) throw new RangeError(`minimizeLbfgs: objective is not finite at x0 (${f})`)

  const sHist: Float64Array[] = []
  const yHist: Float64Array[] = []
  const rhoHist: number[] = []
  const d = new Float64Array(n)
  const alphas = new Float64Array(m)
  const xTrial = new Float64Array(n)
  const gTrial = new Float64Array(n)

  let fTrial = f
  const evaluate = (alpha: number): [number, number] => {
    for (let k = 0; k < n; k++) xTrial[k] = x[k]! + alpha * d[k]!
    fTrial = objective(xTrial, gTrial)
    evaluations++
    return [fTrial, dot(gTrial, d)]
  }

  /** A step satisfying the strong Wolfe conditions, leaving that point in xTrial/gTrial/fTrial; undefined if none was found. */
  const lineSearch = (f0: number, df0: number, alpha1: number): number | undefined => {
    let evals = 0
    const zoom = (lo: number, hi: number, fLo: number, fHi: number, dLo: number, dHi: number): number | undefined => {
      while (evals < MAX_LINE_EVALUATIONS) {
        const width = hi - lo
        let alpha = cubicMinimizer(lo, fLo, dLo, hi, fHi, dHi)
        const low = Math.min(lo, hi) + 0.1 * Math.abs(width)
        const high = Math.max(lo, hi) - 0.1 * Math.abs(width)
        if (alpha === undefined || alpha < low || alpha > high) alpha = lo + 0.5 * width
        const [fa, da] = evaluate(alpha)
        evals++
        if (!Number.isFinite(fa) || fa > f0 + C1 * alpha * df0 || fa >= fLo) {
          hi = alpha
          fHi = Number.isFinite(fa) ? fa : Number.MAX_VALUE
          dHi = Number.isFinite(da) ? da : 0
        } else {
          if (Math.abs(da) <= -C2 * df0) return alpha
          if (da * (hi - lo) >= 0) {
            hi = lo
            fHi = fLo
            dHi = dLo
          }
          lo = alpha
          fLo = fa
          dLo = da
        }
        if (Math.abs(hi - lo) <= 1e-14 * Math.max(1, Math.abs(lo))) break
      }
      if (lo === 0) return undefined
      evaluate(lo)
      return lo
    }
    let prev = 0
    let fPrev = f0
    let dPrev = df0
    let alpha = alpha1
    while (evals < MAX_LINE_EVALUATIONS) {
      const [fa, da] = evaluate(alpha)
      evals++
      if (!Number.isFinite(fa)) {
        alpha = prev + 0.5 * (alpha - prev)
        continue
      }
      if (fa > f0 + C1 * alpha * df0 || (prev > 0 && fa >= fPrev)) return zoom(prev, alpha, fPrev, fa, dPrev, da)
      if (Math.abs(da) <= -C2 * df0) return alpha
      if (da >= 0) return zoom(alpha, prev, fa, fPrev, da, dPrev)
      prev = alpha
      fPrev = fa
      dPrev = da
      alpha *= 2
    }
    return undefined
  }

  let iterations = 0
  let converged = maxAbs(g) <= gtol
  while (!converged && iterations < maxIterations) {
    // Two-loop recursion: d = −H·g.
    for (let k = 0; k < n; k++) d[k] = -g[k]!
    const h = sHist.length
    for (let l = h - 1; l >= 0; l--) {
      const a = rhoHist[l]! * dot(sHist[l]!, d)
      alphas[l] = a
      const y = yHist[l]!
      for (let k = 0; k < n; k++) d[k] = d[k]! - a * y[k]!
    }
    if (h > 0) {
      const gamma = dot(sHist[h - 1]!, yHist[h - 1]!) / dot(yHist[h - 1]!, yHist[h - 1]!)
      for (let k = 0; k < n; k++) d[k] = d[k]! * gamma
    }
    for (let l = 0; l < h; l++) {
      const b = rhoHist[l]! * dot(yHist[l]!, d)
      const s = sHist[l]!
      const coef = alphas[l]! - b
      for (let k = 0; k < n; k++) d[k] = d[k]! + coef * s[k]!
    }
    let df0 = dot(g, d)
    if (!(df0 < 0)) {
      // Lost descent (numerical noise in the curvature pairs): restart from steepest descent.
      sHist.length = 0
      yHist.length = 0
      rhoHist.length = 0
      for (let k = 0; k < n; k++) d[k] = -g[k]!
      df0 = dot(g, d)
    }
    const alpha1 = h === 0 ? Math.min(1, 1 / Math.sqrt(-df0)) : 1
    const alpha = lineSearch(f, df0, alpha1)
    if (alpha === undefined) break
    const s = new Float64Array(n)
    const y = new Float64Array(n)
    for (let k = 0; k < n; k++) {
      s[k] = xTrial[k]! - x[k]!
      y[k] = gTrial[k]! - g[k]!
    }
    const fPrev = f
    f = fTrial
    x.set(xTrial)
    g.set(gTrial)
    iterations++
    const sy = dot(s, y)
    if (sy > 1e-10 * dot(y, y)) {
      if (sHist.length === m) {
        sHist.shift()
        yHist.shift()
        rhoHist.shift()
      }
      sHist.push(s)
      yHist.push(y)
      rhoHist.push(1 / sy)
    }
    converged = maxAbs(g) <= gtol || fPrev - f <= ftol * Math.max(Math.abs(fPrev), Math.abs(f), 1)
  }
  return { x, value: f, iterations, evaluations, converged }
}
