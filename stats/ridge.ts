import { choleskySteps } from "./cholesky"
import { type Dense, type MatrixLike, toDense } from "./dense"
import { type AsyncGemm, type GemmSteps, runWithAsyncGemm, runWithGemm } from "./gemm"
import { makePrng, permutation } from "./prng"
import { applyQ, applyQt, factorShifted, quadraticShifted, solveShifted, type Tridiagonal, timesQ, tridiagonalize } from "./tridiagonal"

/** How `fitRidge` chooses alpha: k-fold CV over given folds or over task groups, or efficient leave-one-out. */
export interface RidgeOptions {
  /** The penalty grid (all > 0). */
  readonly alphas: ReadonlyArray<number>
  /** Training rows of x (all rows when absent); indices in the result refer to x. */
  readonly rows?: ArrayLike<number>
  /** Fold label of every row of x (only training rows are read). */
  readonly folds?: ArrayLike<number>
  /** Task or group of every row of x; folds are derived from these so that a group never spans two folds. */
  readonly groups?: ReadonlyArray<string | number>
  /** Number of folds derived from `groups` (default 5). */
  readonly k?: number
  /** Seed of the group-to-fold assignment (default 0). */
  readonly seed?: number
  /** "loo" uses the closed-form leave-one-out residuals (rows must be tasks); default "kfold". */
  readonly cv?: "kfold" | "loo"
  /**
   * "best" (default) takes the alpha with the highest cross-validated R²; "one_se" the largest alpha whose
   * out-of-fold squared error exceeds the best one's by at most one standard error of their per-row difference.
   */
  readonly rule?: AlphaRule
}

/** How alpha is picked from the cross-validated scores of the grid. */
export type AlphaRule = "best" | "one_se"

/** A fitted ridge probe. */
export interface RidgeFit {
  readonly alpha: number
  readonly cvR2: number
  readonly cvR2ByAlpha: number[]
  readonly weightsRaw: Float64Array
  readonly interceptRaw: number
  readonly weightsStd: Float64Array
  readonly interceptStd: number
  readonly mean: Float64Array
  readonly sd: Float64Array
  /** Out-of-fold (or leave-one-out) predictions at the chosen alpha, one per entry of `oofRows`. */
  readonly oofPredictions: Float64Array
  readonly oofRows: Int32Array
}

/** Per-feature mean and population sd (ddof 0, zero replaced by 1) of the given rows. */
export const standardization = (x: Dense, rows: ArrayLike<number>): { mean: Float64Array; sd: Float64Array } => {
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

const standardize = (x: Dense, rows: ArrayLike<number>, mean: Float64Array, sd: Float64Array): Dense => {
  const d = x.cols, out = new Float64Array(rows.length * d)
  for (let r = 0; r < rows.length; r++) {
    const o = rows[r]! * d
    for (let j = 0; j < d; j++) out[r * d + j] = (x.data[o + j]! - mean[j]!) / sd[j]!
  }
  return { data: out, rows: rows.length, cols: d }
}

const atRows = (y: ArrayLike<number>, rows: ArrayLike<number>) => Float64Array.from({ length: rows.length }, (_, i) => y[rows[i]!]!)
const meanOf = (y: ArrayLike<number>) => {
  let s = 0
  for (let i = 0; i < y.length; i++) s += y[i]!
  return s / y.length
}

// z·w for every row of z.
const matVec = (z: Dense, w: ArrayLike<number>): Float64Array => {
  const out = new Float64Array(z.rows)
  for (let i = 0; i < z.rows; i++) {
    let s = 0
    const o = i * z.cols
    for (let j = 0; j < z.cols; j++) s += z.data[o + j]! * w[j]!
    out[i] = s
  }
  return out
}

// zᵀ·c.
const matTVec = (z: Dense, c: ArrayLike<number>): Float64Array => {
  const out = new Float64Array(z.cols)
  for (let i = 0; i < z.rows; i++) {
    const ci = c[i]!, o = i * z.cols
    for (let j = 0; j < z.cols; j++) out[j] += z.data[o + j]! * ci
  }
  return out
}

/**
 * One decomposition serving a whole alpha grid: the smaller of ZᵀZ (primal) and Z·Zᵀ (dual) reduced to
 * tridiagonal form, so each alpha costs one O(size) tridiagonal solve plus reflector applications.
 */
interface Path {
  readonly primal: boolean
  readonly tri: Tridiagonal
  /** Qᵀ·Zᵀ·yc (primal) or Qᵀ·yc (dual). */
  readonly rhs: Float64Array
  readonly weights: (alpha: number) => Float64Array
}

function* ridgePath(z: Dense, yc: Float64Array): GemmSteps<Path> {
  const primal = z.cols <= z.rows
  const gram = yield { a: z, b: z, options: primal ? { transA: true, symmetric: true } : { transB: true, symmetric: true } }
  const size = primal ? z.cols : z.rows
  const tri = tridiagonalize(gram, size)
  const rhs = primal ? matTVec(z, yc) : Float64Array.from(yc)
  applyQt(tri, rhs)
  const weights = (alpha: number) => {
    const sol = solveShifted(factorShifted(tri, alpha), rhs)
    applyQ(tri, sol)
    return primal ? sol : matTVec(z, sol)
  }
  return { primal, tri, rhs, weights }
}

const checkOptions = (x: Dense, y: ArrayLike<number>, options: RidgeOptions): Int32Array => {
  if (y.length !== x.rows) throw new Error(`fitRidge: x has ${x.rows} rows but y has ${y.length} values`)
  if (options.alphas.length === 0) throw new Error("fitRidge: alphas is empty")
  options.alphas.forEach((a) => {
    if (!(a > 0)) throw new Error(`fitRidge: every alpha must be positive, got ${a}`)
  })
  const rows = options.rows === undefined ? Int32Array.from({ length: x.rows }, (_, i) => i) : Int32Array.from(options.rows)
  rows.forEach((r) => {
    if (!(r >= 0 && r < x.rows)) throw new Error(`fitRidge: rows contains ${r}, outside 0..${x.rows - 1}`)
  })
  if (rows.length < 2) throw new Error(`fitRidge: rows has ${rows.length} entries, need at least 2`)
  if (options.folds !== undefined && options.folds.length !== x.rows) throw new Error(`fitRidge: folds has ${options.folds.length} values but x has ${x.rows} rows`)
  if (options.groups !== undefined && options.groups.length !== x.rows) throw new Error(`fitRidge: groups has ${options.groups.length} values but x has ${x.rows} rows`)
  return rows
}

/** Fold label per training row (as `fitRidge` assigns them): given folds, or groups shuffled (seeded) and dealt round-robin into k folds. */
export const foldsOf = (rows: Int32Array, options: RidgeOptions): Int32Array => {
  if (options.folds !== undefined) return Int32Array.from(rows, (r) => options.folds![r]!)
  if (options.groups === undefined) throw new Error("fitRidge: k-fold CV needs folds or groups (rows of one task must share a fold)")
  const k = options.k ?? 5
  const names = [...new Set(Array.from(rows, (r) => options.groups![r]!))].sort((a, b) => (String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0))
  if (names.length < k) throw new Error(`fitRidge: ${names.length} groups cannot fill k=${k} folds`)
  const order = permutation(names.length, makePrng(options.seed ?? 0))
  const fold = new Map<string | number, number>()
  order.forEach((g, i) => fold.set(names[g]!, i % k))
  return Int32Array.from(rows, (r) => fold.get(options.groups![r]!)!)
}

const pooledR2 = (y: Float64Array, pred: Float64Array) => {
  const m = meanOf(y)
  let res = 0, tot = 0
  for (let i = 0; i < y.length; i++) {
    res += (y[i]! - pred[i]!) ** 2
    tot += (y[i]! - m) ** 2
  }
  return 1 - res / tot
}

const argmax = (xs: number[]) => xs.reduce((best, v, i) => (v > xs[best]! || Number.isNaN(xs[best]!) ? i : best), 0)

/**
 * The index of the chosen alpha given each alpha's out-of-sample predictions of `y`. Under "one_se", the most
 * regularized model not distinguishable from the best, in the spirit of the one-standard-error rule (Hastie,
 * Tibshirani & Friedman, §7.10) but measured on the paired per-row difference, which is far tighter than the spread
 * of the best model's own errors: when the scores are flat over a range of alphas, the best of them is an accident of
 * the sample, while the largest keeps the weights off directions that barely vary.
 */
const chooseAlpha = (alphas: ReadonlyArray<number>, scores: number[], predictions: ReadonlyArray<Float64Array>, y: ArrayLike<number>, rule: AlphaRule): number => {
  const best = argmax(scores)
  if (rule === "best") return best
  const n = y.length
  const bestPrediction = predictions[best]!
  let chosen = best
  predictions.forEach((p, a) => {
    if (!(alphas[a]! > alphas[chosen]!)) return
    // Per row, how much worse this alpha's squared error is than the best's; its mean against one standard error.
    const d = Float64Array.from(p, (v, i) => (y[i]! - v) ** 2 - (y[i]! - bestPrediction[i]!) ** 2)
    const mean = d.reduce((acc, v) => acc + v, 0) / n
    const se = Math.sqrt(d.reduce((acc, v) => acc + (v - mean) ** 2, 0) / (n - 1) / n)
    if (mean <= se) chosen = a
  })
  return chosen
}

const finish = (
  alpha: number, cvR2: number, cvR2ByAlpha: number[], w: Float64Array, yMean: number, mean: Float64Array, sd: Float64Array,
  oofPredictions: Float64Array, oofRows: Int32Array
): RidgeFit => {
  const weightsRaw = Float64Array.from(w, (v, j) => v / sd[j]!)
  let dot = 0
  for (let j = 0; j < w.length; j++) dot += weightsRaw[j]! * mean[j]!
  return {
    alpha, cvR2, cvR2ByAlpha, weightsRaw, interceptRaw: yMean - dot,
    weightsStd: w, interceptStd: yMean, mean, sd, oofPredictions, oofRows
  }
}

function* fitKFold(x: Dense, y: ArrayLike<number>, rows: Int32Array, options: RidgeOptions): GemmSteps<RidgeFit> {
  const fold = foldsOf(rows, options)
  const labels = [...new Set(fold)].sort((a, b) => a - b)
  if (labels.length < 2) throw new Error(`fitRidge: folds give ${labels.length} distinct fold among the training rows, need at least 2`)
  const alphas = options.alphas
  const oof = alphas.map(() => new Float64Array(rows.length))
  for (const f of labels) {
    const trainIdx: number[] = [], valIdx: number[] = []
    fold.forEach((v, i) => (v === f ? valIdx : trainIdx).push(i))
    const train = Int32Array.from(trainIdx, (i) => rows[i]!), val = Int32Array.from(valIdx, (i) => rows[i]!)
    const { mean, sd } = standardization(x, train)
    const ytr = atRows(y, train), ym = meanOf(ytr)
    const path = yield* ridgePath(standardize(x, train, mean, sd), ytr.map((v) => v - ym))
    const zval = standardize(x, val, mean, sd)
    alphas.forEach((alpha, a) => {
      const pred = matVec(zval, path.weights(alpha))
      valIdx.forEach((i, r) => (oof[a]![i] = pred[r]! + ym))
    })
  }
  const yRows = atRows(y, rows)
  const scores = oof.map((p) => pooledR2(yRows, p))
  const chosen = chooseAlpha(alphas, scores, oof, yRows, options.rule ?? "best")
  const { mean, sd } = standardization(x, rows)
  const z = standardize(x, rows, mean, sd)
  const ym = meanOf(yRows), yc = yRows.map((v) => v - ym)
  const alpha = alphas[chosen]!
  let w: Float64Array
  if (z.cols <= z.rows) {
    const g = yield { a: z, b: z, options: { transA: true, symmetric: true } }
    for (let j = 0; j < z.cols; j++) g[j * z.cols + j] += alpha
    w = yield* choleskySteps(g, z.cols, matTVec(z, yc))
  } else {
    const g = yield { a: z, b: z, options: { transB: true, symmetric: true } }
    for (let i = 0; i < z.rows; i++) g[i * z.rows + i] += alpha
    w = matTVec(z, yield* choleskySteps(g, z.rows, yc))
  }
  return finish(alpha, scores[chosen]!, scores, w, ym, mean, sd, oof[chosen]!, rows)
}

function* fitLoo(x: Dense, y: ArrayLike<number>, rows: Int32Array, options: RidgeOptions): GemmSteps<RidgeFit> {
  const { mean, sd } = standardization(x, rows)
  const z = standardize(x, rows, mean, sd)
  const n = rows.length
  const yRows = atRows(y, rows), ym = meanOf(yRows), yc = yRows.map((v) => v - ym)
  const path = yield* ridgePath(z, yc)
  const size = path.tri.n
  // Rows of Z·Q (primal) or of Q (dual): the leverage of row i at alpha is a quadratic form in row i.
  const basis = path.primal ? Float64Array.from(z.data) : new Float64Array(n * size)
  if (!path.primal) for (let i = 0; i < n; i++) basis[i * size + i] = 1
  yield* timesQ(path.tri, basis, n)
  const looByAlpha = options.alphas.map((alpha) => {
    const f = factorShifted(path.tri, alpha)
    const loo = new Float64Array(n)
    if (path.primal) {
      const fitted = matVec(z, path.weights(alpha))
      for (let i = 0; i < n; i++) {
        const h = 1 / n + quadraticShifted(f, basis, i * size)
        loo[i] = yRows[i]! - (yc[i]! - fitted[i]!) / (1 - h)
      }
    } else {
      const c = solveShifted(f, path.rhs)
      applyQ(path.tri, c)
      for (let i = 0; i < n; i++) {
        const g = quadraticShifted(f, basis, i * size)
        loo[i] = yRows[i]! - (alpha * c[i]!) / (alpha * g - 1 / n)
      }
    }
    return loo
  })
  const scores = looByAlpha.map((p) => pooledR2(yRows, p))
  const chosen = chooseAlpha(options.alphas, scores, looByAlpha, yRows, options.rule ?? "best")
  return finish(options.alphas[chosen]!, scores[chosen]!, scores, path.weights(options.alphas[chosen]!), ym, mean, sd, looByAlpha[chosen]!, rows)
}

/**
 * Ridge regression with an intercept on standardized features, alpha chosen from a grid by pooled
 * out-of-fold R² (k-fold over folds or task groups, or closed-form leave-one-out), then refitted on all
 * training rows. Raw-space weights are w/sd with intercept b − (w/sd)·mean.
 */
export const fitRidge = (x: MatrixLike, y: ArrayLike<number>, options: RidgeOptions): RidgeFit => runWithGemm(ridgeSteps(x, y, options))

/** `fitRidge` with its large matrix products computed by an asynchronous backend (e.g. `makeOnnxGemm`). */
export const fitRidgeWith = (backend: AsyncGemm, x: MatrixLike, y: ArrayLike<number>, options: RidgeOptions): Promise<RidgeFit> =>
  runWithAsyncGemm(ridgeSteps(x, y, options), backend)

const ridgeSteps = (x: MatrixLike, y: ArrayLike<number>, options: RidgeOptions): GemmSteps<RidgeFit> => {
  const dense = toDense(x, "fitRidge", "x")
  const rows = checkOptions(dense, y, options)
  return (options.cv ?? "kfold") === "loo" ? fitLoo(dense, y, rows, options) : fitKFold(dense, y, rows, options)
}

/** Predictions of a fitted probe (raw-space weights and intercept) for every row of x. */
export const predictRidge = (fit: Pick<RidgeFit, "weightsRaw" | "interceptRaw">, x: MatrixLike): Float64Array => {
  const dense = toDense(x, "predictRidge", "x")
  if (dense.cols !== fit.weightsRaw.length) throw new Error(`predictRidge: x has ${dense.cols} columns but the probe has ${fit.weightsRaw.length} weights`)
  return matVec(dense, fit.weightsRaw).map((v) => v + fit.interceptRaw)
}
