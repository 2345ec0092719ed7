import { type Dense, type MatrixLike, toDense } from "./dense"
import type { Reduced } from "./banded"
import { type Backend, basis, forms, type KernelTrace, moments, product, reduced, rotate, shiftedSolutions, solveSpd, type Steps, transposedProduct, tridiagonal } from "./kernels"
import { makePrng, permutation } from "./prng"
import { runSync, runWith } from "./runKernels"
import { eachBlock, gram, scratch, type StandardizedRows, standardizedRows, times } from "./standardizedRows"
import { factorShifted, type ShiftedFactor, type Tridiagonal } from "./tridiagonal"

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
  /** Receives what ran where (which kernel backend took each call, the largest product left to JavaScript). */
  readonly trace?: KernelTrace
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

const meanOf = (y: ArrayLike<number>) => {
  let s = 0
  for (let i = 0; i < y.length; i++) s += y[i]!
  return s / y.length
}


// The row-major cols×rows transpose of a row-major rows×cols matrix.
const transpose = (a: Float64Array, rows: number, cols: number): Float64Array => {
  const out = new Float64Array(rows * cols)
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = a[i * cols + j]!
  return out
}

/** Targets at the training rows, their means, and the centred targets as one row-major targets×rows matrix. */
interface Targets {
  readonly y: Float64Array[]
  readonly mean: number[]
  readonly centred: Float64Array
}

const targetsAt = (ys: ReadonlyArray<ArrayLike<number>>, rows: ArrayLike<number>): Targets => {
  const y = ys.map((t) => Float64Array.from({ length: rows.length }, (_, i) => t[rows[i]!]!))
  const mean = y.map(meanOf)
  const centred = new Float64Array(y.length * rows.length)
  y.forEach((t, k) => t.forEach((v, i) => (centred[k * rows.length + i] = v - mean[k]!)))
  return { y, mean, centred }
}

/**
 * One decomposition serving a whole alpha grid and every target: the smaller of ZᵀZ (primal) and Z·Zᵀ (dual)
 * reduced to tridiagonal or band form T = Qᵀ·G·Q, with each target's right-hand side (Zᵀ·yc, or yc) carried into Q's
 * basis. Q stays as reflectors, or is formed (`q`, row-major) when all of it is wanted anyway.
 */
interface Path<R extends Reduced = Reduced> {
  readonly primal: boolean
  readonly tri: R
  readonly size: number
  /** Qᵀ·rhs for every target: a targets×size matrix. */
  readonly rhs: Float64Array
  readonly q?: Float64Array
}

// Rows p ← Qᵀ·p (`transpose`) or Q·p: by the reflectors, or once Q is formed by a product with it (into `into`, rows×size,
// or a new array).
function* turn(path: Pick<Path, "tri" | "size" | "q">, p: Float64Array, rows: number, transpose: boolean, into?: Float64Array): Steps<Float64Array> {
  if (path.q === undefined) return yield* rotate(path.tri, p, rows, transpose)
  const target = into === undefined ? undefined : { data: into, offset: 0, stride: path.size, accumulate: false }
  return yield* product({ data: p, rows, cols: path.size }, { data: path.q, rows: path.size, cols: path.size }, { transB: !transpose }, target)
}

/** A square array the Gram matrices of one fit take in turn, each with rows `stride` apart, so they touch the same pages. */
interface Workspace {
  readonly data: Float64Array
  readonly stride: number
}

/**
 * The path of rows z: their Gram matrix (`given`, or computed into the workspace) reduced by `reduce`, and Q formed by
 * `formQ` when given.
 */
function* decompose<R extends Reduced>(
  z: StandardizedRows, targets: Targets, reduce: (g: Float64Array, size: number, stride: number) => Steps<R>,
  options: { readonly workspace?: Workspace; readonly given?: Float64Array; readonly formQ?: (r: R) => Steps<Float64Array> } = {}
): Steps<Path<R>> {
  const n = z.rows.length, d = z.x.cols, count = targets.y.length
  const primal = d <= n
  const size = primal ? d : n, { workspace } = options
  const g = options.given ?? (yield* gram(z, primal, workspace?.data, workspace?.stride))
  const tri = yield* reduce(g, size, workspace?.stride ?? size)
  const q = options.formQ === undefined ? undefined : yield* options.formQ(tri)
  const rhs = primal ? transpose(yield* transposedProduct(z, transpose(targets.centred, count, n), count), d, count) : Float64Array.from(targets.centred)
  return { primal, tri, size, rhs: yield* turn({ tri, size, q }, rhs, count, true), q }
}

/**
 * Q·(T + α·I)⁻¹·Qᵀ·rhs for every target and alpha: a (targets·alphas)×size matrix whose row t·alphas + a is the
 * primal weights (or dual coefficients) of target t at alpha a.
 */
function* solutions(path: Path, alphas: ReadonlyArray<number>, count: number): Steps<Float64Array> {
  return yield* turn(path, yield* shiftedSolutions(path.tri, alphas, path.rhs, count), count * alphas.length, false)
}

/** Primal weights for every target and alpha as a cols×(targets·alphas) matrix, from the path's solutions. */
function* weightsOf(path: Path, z: StandardizedRows, sol: Float64Array, columns: number): Steps<Float64Array> {
  return path.primal ? transpose(sol, columns, path.size) : yield* transposedProduct(z, transpose(sol, columns, path.size), columns)
}

const checkOptions = (x: Dense, ys: ReadonlyArray<ArrayLike<number>>, options: RidgeOptions): Int32Array => {
  if (ys.length === 0) throw new Error("fitRidge: no target given")
  ys.forEach((y, t) => {
    if (y.length !== x.rows) throw new Error(`fitRidge: x has ${x.rows} rows but ${ys.length === 1 ? "y" : `target ${t}`} has ${y.length} values`)
  })
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

/** Scores every alpha's out-of-sample predictions of each target and picks one alpha per target. */
const choose = (options: RidgeOptions, y: Float64Array[], predictions: Float64Array[][]) =>
  y.map((yt, t) => {
    const scores = predictions[t]!.map((p) => pooledR2(yt, p))
    const chosen = chooseAlpha(options.alphas, scores, predictions[t]!, yt, options.rule ?? "best")
    return { chosen, scores }
  })

/** The lower triangle of the size×size array g (rows `stride` apart), row after row. */
const packLower = (g: Float64Array, size: number, stride: number): Float64Array => {
  const packed = new Float64Array((size * (size + 1)) / 2)
  for (let i = 0, p = 0; i < size; p += ++i) packed.set(g.subarray(i * stride, i * stride + i + 1), p)
  return packed
}

/** `packLower` undone into the lower triangle of a size×size array. */
const unpackLower = (packed: Float64Array, into: Float64Array, size: number): Float64Array => {
  for (let i = 0, p = 0; i < size; p += ++i) into.set(packed.subarray(p, p + i + 1), i * size)
  return into.subarray(0, size * size)
}

/**
 * The Gram matrix of a fold's training rows standardized by their own moments, from `whole` (every row standardized
 * by the moments of all, packed by `packLower`) less the held-out rows' own, at a fifth of a fresh one's products
 * for five folds. With A the rows standardized by the whole mean μ and sd σ, the training rows' Z = (A − 1·δᵀ)·D for
 * δ = (μ_f − μ)/σ and D = σ/σ_f, and since the training rows of A sum to n_f·δ, ZᵀZ = D·(AᵀA − n_f·δ·δᵀ)·D. Centring
 * by the whole mean keeps the subtraction free of the cancellation raw sums of squares would suffer.
 */
function* foldGram(whole: Float64Array, held: StandardizedRows, trainCount: number, fold: { mean: Float64Array; sd: Float64Array }, workspace: Workspace): Steps<Float64Array> {
  const d = held.x.cols, stride = workspace.stride
  const g = yield* gram(held, true, workspace.data, stride)
  const delta = Float64Array.from(held.mean, (m, j) => (fold.mean[j]! - m) / held.sd[j]!)
  const scale = Float64Array.from(held.sd, (s, j) => s / fold.sd[j]!)
  for (let i = 0, p = 0; i < d; i++) {
    const row = i * stride, di = trainCount * delta[i]!, si = scale[i]!
    for (let j = 0; j <= i; j++, p++) g[row + j] = si * scale[j]! * (whole[p]! - g[row + j]! - di * delta[j]!)
  }
  return g
}

function* fitKFold(x: Dense, ys: ReadonlyArray<ArrayLike<number>>, rows: Int32Array, options: RidgeOptions): Steps<RidgeFit[]> {
  const fold = foldsOf(rows, options)
  const labels = [...new Set(fold)].sort((a, b) => a - b)
  if (labels.length < 2) throw new Error(`fitRidge: folds give ${labels.length} distinct fold among the training rows, need at least 2`)
  const alphas = options.alphas, count = ys.length, columns = count * alphas.length
  const oof = ys.map(() => alphas.map(() => new Float64Array(rows.length)))
  const n = rows.length, d = x.cols, primal = d <= n
  // One Gram-sized array serves every fold and the refit in turn (the largest is the refit's), so memory holds one;
  // every fit writes only the lower triangle in the refit's layout, so the other pages are never touched.
  const size = Math.min(d, n)
  const workspace = { data: new Float64Array(size * size), stride: size }, blocks = scratch()
  const { mean, sd } = yield* moments(x, rows)
  const z = standardizedRows(x, rows, mean, sd, blocks)
  // Where every fit is primal, the whole Gram matrix is kept packed (d²/2 values) to give each fold's and the refit's,
  // while with the lower triangle of the Gram array it takes at most 1.3 times the activations' bytes (n ≥ 1.54·d for
  // float32 activations).
  const held = labels.map((f) => fold.reduce((c, v) => c + (v === f ? 1 : 0), 0))
  const keep = primal && held.every((h) => n - h >= d) && 8 * d * d <= 1.3 * n * d * x.data.BYTES_PER_ELEMENT
  const whole = keep ? packLower(yield* gram(z, true, workspace.data, size), d, size) : undefined
  for (const f of labels) {
    const trainIdx: number[] = [], valIdx: number[] = []
    fold.forEach((v, i) => (v === f ? valIdx : trainIdx).push(i))
    const train = Int32Array.from(trainIdx, (i) => rows[i]!), val = Int32Array.from(valIdx, (i) => rows[i]!)
    const own = yield* moments(x, train)
    const targets = targetsAt(ys, train)
    const zf = standardizedRows(x, train, own.mean, own.sd, blocks)
    const given = whole === undefined ? undefined : yield* foldGram(whole, standardizedRows(x, val, mean, sd, blocks), train.length, own, workspace)
    const path = yield* decompose(zf, targets, reduced, { workspace, given })
    const w = yield* weightsOf(path, zf, yield* solutions(path, alphas, count), columns)
    const pred = yield* times(standardizedRows(x, val, own.mean, own.sd, blocks), w, columns)
    for (let t = 0; t < count; t++) alphas.forEach((_, a) => valIdx.forEach((i, r) => (oof[t]![a]![i] = pred[r * columns + t * alphas.length + a]! + targets.mean[t]!)))
  }
  const all = targetsAt(ys, rows)
  const picks = choose(options, all.y, oof)
  // The refit at each target's alpha: one Cholesky factorization per distinct alpha, of the kept Gram matrix or a
  // fresh one.
  const rhs = primal ? transpose(yield* transposedProduct(z, transpose(all.centred, count, n), count), d, count) : all.centred
  const weights = new Array<Float64Array>(count)
  for (const chosen of [...new Set(picks.map((p) => p.chosen))]) {
    const which = picks.flatMap((p, t) => (p.chosen === chosen ? [t] : []))
    const g = whole === undefined ? yield* gram(z, primal, workspace.data) : unpackLower(whole, workspace.data, size)
    for (let i = 0; i < size; i++) g[i * size + i] += alphas[chosen]!
    const b = new Float64Array(size * which.length)
    which.forEach((t, c) => {
      for (let i = 0; i < size; i++) b[i * which.length + c] = rhs[t * size + i]!
    })
    const solved = yield* solveSpd(g, size, b, which.length)
    const w = primal ? solved : yield* transposedProduct(z, solved, which.length)
    which.forEach((t, c) => (weights[t] = Float64Array.from({ length: d }, (_, j) => w[j * which.length + c]!)))
  }
  return picks.map(({ chosen, scores }, t) => finish(alphas[chosen]!, scores[chosen]!, scores, weights[t]!, all.mean[t]!, mean, sd, oof[t]![chosen]!, rows))
}

/**
 * Per row i and alpha, the leverage part zᵢᵀ(G + α)⁻¹zᵢ (primal, from the rows of Z·Q, with the fitted values of every
 * column of `sol` as a rows×columns matrix) or [(K + α)⁻¹]ᵢᵢ (dual, from the rows of Q): a rows×alphas matrix.
 */
function* leverages(path: Path<Tridiagonal>, z: StandardizedRows, factors: ReadonlyArray<ShiftedFactor>, sol: Float64Array, columns: number): Steps<{ quad: Float64Array; fitted?: Float64Array }> {
  if (!path.primal) return { quad: yield* forms(factors, path.q!, path.size) }
  const n = z.rows.length, quad = new Float64Array(n * factors.length), fitted = new Float64Array(n * columns)
  const w = { data: transpose(sol, columns, path.size), rows: z.x.cols, cols: columns }
  // With Q formed, one array holds every block's rows of Z·Q in turn; reflectors rotate each block in place.
  const rotated = path.q === undefined ? undefined : new Float64Array(Math.min(z.block, n) * path.size)
  yield* eachBlock(z, function* (block, from) {
    yield* product(block, w, {}, { data: fitted, offset: from * columns, stride: columns, accumulate: false })
    const turned = yield* turn(path, block.data as Float64Array, block.rows, true, rotated?.subarray(0, block.rows * path.size))
    quad.set(yield* forms(factors, turned, block.rows), from * factors.length)
  })
  return { quad, fitted }
}

function* fitLoo(x: Dense, ys: ReadonlyArray<ArrayLike<number>>, rows: Int32Array, options: RidgeOptions): Steps<RidgeFit[]> {
  const { mean, sd } = yield* moments(x, rows)
  const z = standardizedRows(x, rows, mean, sd)
  const n = rows.length, alphas = options.alphas, count = ys.length, columns = count * alphas.length
  const targets = targetsAt(ys, rows)
  // The leverages need every row of Q (dual) or of Z·Q (primal). Q is formed once and serves every rotation as a matrix
  // product, which runs at about twice the speed of applying reflectors; in the primal that fills the d×d array whose
  // lower triangle alone the reduction touched, d/n times the float32 activations more memory, so it is done there
  // only with at least twice as many rows as columns.
  const path = yield* decompose(z, targets, tridiagonal, x.cols > n || n >= 2 * x.cols ? { formQ: basis } : {})
  const factors = alphas.map((alpha) => factorShifted(path.tri, alpha))
  const sol = yield* solutions(path, alphas, count)
  const size = path.size
  const { quad, fitted } = yield* leverages(path, z, factors, sol, columns)
  const loo = ys.map((_, t) =>
    alphas.map((alpha, a) =>
      Float64Array.from({ length: n }, (_, i) => {
        const y = targets.y[t]![i]!, h = quad[i * alphas.length + a]!
        if (fitted !== undefined) return y - (targets.centred[t * n + i]! - fitted[i * columns + t * alphas.length + a]!) / (1 - 1 / n - h)
        return y - (alpha * sol[(t * alphas.length + a) * size + i]!) / (alpha * h - 1 / n)
      })
    )
  )
  const picks = choose(options, targets.y, loo)
  const chosenColumns = picks.map((p, t) => t * alphas.length + p.chosen)
  const picked = new Float64Array(count * size)
  chosenColumns.forEach((c, t) => picked.set(sol.subarray(c * size, (c + 1) * size), t * size))
  const w = yield* weightsOf(path, z, picked, count)
  return picks.map(({ chosen, scores }, t) =>
    finish(alphas[chosen]!, scores[chosen]!, scores, Float64Array.from({ length: x.cols }, (_, j) => w[j * count + t]!), targets.mean[t]!, mean, sd, loo[t]![chosen]!, rows)
  )
}

const ridgeSteps = (x: MatrixLike, ys: ReadonlyArray<ArrayLike<number>>, options: RidgeOptions): Steps<RidgeFit[]> => {
  const dense = toDense(x, "fitRidge", "x")
  const rows = checkOptions(dense, ys, options)
  return (options.cv ?? "kfold") === "loo" ? fitLoo(dense, ys, rows, options) : fitKFold(dense, ys, rows, options)
}

/**
 * Ridge regression with an intercept on standardized features, alpha chosen from a grid by pooled
 * out-of-fold R² (k-fold over folds or task groups, or closed-form leave-one-out), then refitted on all
 * training rows. Raw-space weights are w/sd with intercept b − (w/sd)·mean. Runs on the JavaScript kernels;
 * `fitRidgeWith` takes a faster backend.
 */
export const fitRidge = (x: MatrixLike, y: ArrayLike<number>, options: RidgeOptions): RidgeFit => runSync(ridgeSteps(x, [y], options), options.trace)[0]!

/** `fitRidge` with its dense kernels on a backend (`kernelBackend()`: OpenBLAS when built, else onnxruntime). */
export const fitRidgeWith = async (backend: Backend, x: MatrixLike, y: ArrayLike<number>, options: RidgeOptions): Promise<RidgeFit> =>
  (await runWith(ridgeSteps(x, [y], options), backend, options.trace))[0]!

/**
 * Probes of several targets on the same rows of x: every fold's decomposition (and the leave-one-out one) is computed
 * once and serves every target and alpha; each target gets its own alpha.
 */
export const fitRidgeTargets = (backend: Backend, x: MatrixLike, ys: ReadonlyArray<ArrayLike<number>>, options: RidgeOptions): Promise<RidgeFit[]> =>
  runWith(ridgeSteps(x, ys, options), backend, options.trace)

/** Predictions of a fitted probe (raw-space weights and intercept) for the given rows of x (every row by default). */
export const predictRidge = (fit: Pick<RidgeFit, "weightsRaw" | "interceptRaw">, x: MatrixLike, rows?: ArrayLike<number>): Float64Array => {
  const dense = toDense(x, "predictRidge", "x")
  if (dense.cols !== fit.weightsRaw.length) throw new Error(`predictRidge: x has ${dense.cols} columns but the probe has ${fit.weightsRaw.length} weights`)
  const count = rows === undefined ? dense.rows : rows.length, w = fit.weightsRaw, d = dense.cols
  const out = new Float64Array(count)
  for (let i = 0; i < count; i++) {
    const r = rows === undefined ? i : rows[i]!
    if (!(r >= 0 && r < dense.rows)) throw new Error(`predictRidge: row ${r} is outside 0..${dense.rows - 1}`)
    let s = 0
    for (let j = 0; j < d; j++) s += dense.data[r * d + j]! * w[j]!
    out[i] = s + fit.interceptRaw
  }
  return out
}
