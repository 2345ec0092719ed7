import { createHash } from "node:crypto"
import * as os from "node:os"
import { type Dense, type MatrixLike, toDense } from "./dense"
import { lruCache } from "./lruCache"
import { type Backend, product, rotate, type Steps, tridiagonal } from "./kernels"
import { javascriptBackend, runWith } from "./runKernels"
import { factorShifted, solveShifted, type Tridiagonal } from "./tridiagonal"

/** How the covariate model is fitted: its penalty grid and the folds that choose among it. */
export interface ResidualizeOptions {
  /** The penalty grid (all > 0). */
  readonly alphas: ReadonlyArray<number>
  /** Fold label of every row (only training rows are read); at least two distinct labels among them. */
  readonly folds: ArrayLike<number>
  /** Where the products and factorizations run (JavaScript by default). */
  readonly kernels?: Backend | undefined
}

/** Targets with what the covariates predict of them removed. */
export interface Residualized {
  /** The penalty with the lowest out-of-fold squared error summed over every target column. */
  readonly alpha: number
  /** Per alpha: 1 − out-of-fold squared error / squared deviation from the training mean, both summed over columns. */
  readonly cvR2ByAlpha: number[]
  readonly cvR2: number
  /**
   * Same shape as the targets: a training row holds its out-of-fold residual (from the fit on the other folds), an
   * `apply` row its residual under the fit on every training row, any other row zeros.
   */
  readonly residuals: Dense
}

/** Removes from targets (e.g. activations) what covariates (e.g. content features of the same rows) predict of them. */
export interface Residualizer {
  readonly rows: number
  readonly residualize: (targets: MatrixLike, train: ArrayLike<number>, apply: ArrayLike<number>, options: ResidualizeOptions) => Promise<Residualized>
}

// The covariates' part of one fit on rows `fit`: the smaller Gram matrix in tridiagonal form T = QᵀGQ and the
// `predict` rows' covariates rotated by Q.
interface CovariateFactor {
  readonly tri: Tridiagonal
  /** |predict| × s. */
  readonly left: Float64Array
  readonly predict: Int32Array
  /** The mean variance of the covariates that vary over the fit rows: penalties are alpha times this. */
  readonly scale: number
  /** In the primal form (no more covariates than fit rows): the fit rows' centred covariates, which targets are projected on. */
  readonly z?: Dense
}

// One fit of the covariate model on rows `fit`, reduced so that predictions of `predict` rows at any alpha cost one
// tridiagonal solve per target column and one product: prediction(α) = mean + left·(T + αI)⁻¹·rightᵀ.
interface Solved {
  readonly tri: Tridiagonal
  /** |predict| × s. */
  readonly left: Float64Array
  /** d × s. */
  readonly right: Float64Array
  /** Training mean of each target column. */
  readonly mean: Float64Array
  readonly predict: Int32Array
  /** The mean variance of the covariates that vary over the fit rows: penalties are alpha times this. */
  readonly scale: number
}

const columnMeans = (x: Dense, rows: Int32Array): Float64Array => {
  const mean = new Float64Array(x.cols)
  for (const r of rows) for (let j = 0; j < x.cols; j++) mean[j] += x.data[r * x.cols + j]!
  for (let j = 0; j < x.cols; j++) mean[j] /= rows.length
  return mean
}

const centred = (x: Dense, rows: Int32Array, mean: Float64Array): Dense & { data: Float64Array } => {
  const d = x.cols, out = new Float64Array(rows.length * d)
  rows.forEach((r, i) => {
    for (let j = 0; j < d; j++) out[i * d + j] = x.data[r * d + j]! - mean[j]!
  })
  return { data: out, rows: rows.length, cols: d }
}

const traceOf = (square: Float64Array, n: number) => {
  let t = 0
  for (let i = 0; i < n; i++) t += square[i * n + i]!
  return t
}

const transpose = (x: Dense): Float64Array => {
  const out = new Float64Array(x.rows * x.cols)
  for (let i = 0; i < x.rows; i++) for (let j = 0; j < x.cols; j++) out[j * x.rows + i] = x.data[i * x.cols + j]!
  return out
}

// Covariate factorizations outlive a residualizer: the content baselines of every template and layer factor the same
// task features over the same folds. They are kept per kernels, covariates (by their bytes) and rows.
const kept = lruCache<CovariateFactor | Float64Array>(Math.min(2 ** 31, os.totalmem() / 8))

const factorBytes = (f: CovariateFactor) => {
  const q = f.tri.q
  const reflectors = q.kind === "packed" ? q.tau.byteLength + q.reflectors.byteLength : q.tau.byteLength + q.a.byteLength
  return f.tri.diag.byteLength + f.tri.off.byteLength + reflectors + f.left.byteLength + f.predict.byteLength + (f.z?.data.byteLength ?? 0)
}

/**
 * Multi-output Ridge of targets on covariates with an intercept, the covariates centred by the training rows and kept
 * in their own relative units (tf-idf weights, embedding coordinates), the penalty being alpha times the mean variance
 * of the covariates that vary over the fit rows, so that a grid means what it means for a probe on standardized
 * features and constant columns change nothing. Alpha is chosen by k-fold CV over the training rows
 * only, one alpha for every target column (so residuals of rotated targets are the rotated residuals); the training
 * rows' residuals are cross-fitted, each from the fit on the other folds, so that they are distributed as the
 * residuals of rows never seen (in-sample residuals of a model with more covariates than rows are shrunk towards
 * zero). Each fit factors the smaller of the covariates' Gram matrices once (primal CᵀC, or dual C·Cᵀ taken from one
 * Gram of every row and centred per fit) into tridiagonal form, so the whole grid costs one factorization per fold.
 */
export const makeResidualizer = (covariates: MatrixLike): Residualizer => {
  const c = toDense(covariates, "residualize", "covariates")
  const bytes = c.data instanceof Float64Array ? c.data : Float64Array.from(c.data)
  const digest = createHash("sha256").update(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)).update(`${c.rows}x${c.cols}`).digest("hex")
  const fullGram = function* (kernels: string): Steps<Float64Array> {
    const key = `${kernels}|${digest}|gram`
    const g = (kept.recall(key) as Float64Array | undefined) ?? (yield* product(c, c, { transB: true, symmetric: true }))
    return kept.keep(key, g, g.byteLength)
  }

  // Columns that vary over the rows: a constant column (an unused hashing slot) must not dilute the penalty's scale.
  // A column that is zero in the first row varies when any other row has it non-zero, which the column's own list of
  // non-zero rows tells at once (tf-idf columns are mostly zeros); any other column is compared row by row.
  let nonZero: { readonly start: Int32Array; readonly rows: Int32Array } | undefined
  const nonZeroRows = () => {
    if (nonZero !== undefined) return nonZero
    const n = c.rows, p = c.cols
    const start = new Int32Array(p + 1)
    for (let i = 0; i < n; i++) for (let j = 0; j < p; j++) if (c.data[i * p + j] !== 0) start[j + 1]++
    for (let j = 0; j < p; j++) start[j + 1] += start[j]!
    const rows = new Int32Array(start[p]!), next = start.slice(0, p)
    for (let i = 0; i < n; i++) for (let j = 0; j < p; j++) if (c.data[i * p + j] !== 0) rows[next[j]!++] = i
    return (nonZero = { start, rows })
  }
  const varying = (rows: Int32Array): number => {
    const p = c.cols, first = rows[0]! * p
    const { start, rows: nz } = nonZeroRows()
    const member = new Uint8Array(c.rows)
    for (const r of rows) member[r] = 1
    let count = 0
    for (let j = 0; j < p; j++) {
      const v = c.data[first + j]!
      let varies = false
      if (v === 0) {
        for (let k = start[j]!; k < start[j + 1]! && !varies; k++) varies = member[nz[k]!] === 1
      } else {
        for (let i = 0; i < rows.length && !varies; i++) varies = c.data[rows[i]! * p + j] !== v
      }
      if (varies) count++
    }
    return Math.max(count, 1)
  }

  // The covariates' side of a fit on rows `fit` predicting rows `predict`, which every target residualized over the
  // same folds shares (the features and the target of a probe, every fold of both).
  function* factor(kernels: string, fit: Int32Array, predict: Int32Array): Steps<CovariateFactor> {
    const key = `${kernels}|${digest}|${fit.join(",")}|${predict.join(",")}`
    const known = kept.recall(key) as CovariateFactor | undefined
    if (known !== undefined) return known
    const p = c.cols, m = fit.length
    let made: CovariateFactor
    if (p <= m) {
      const mu = columnMeans(c, fit)
      const z = centred(c, fit, mu)
      const gramP = yield* product(z, z, { transA: true, symmetric: true })
      const scale = traceOf(gramP, p) / (m * varying(fit))
      const tri = yield* tridiagonal(gramP, p)
      const left = centred(c, predict, mu).data
      yield* rotate(tri, left, predict.length, true)
      made = { tri, left, predict, scale, z }
    } else {
      const g = yield* fullGram(kernels)
      const n = c.rows
      // Centring by the fit rows' covariate mean μ: (cᵢ − μ)·(cⱼ − μ) = Gᵢⱼ − mean_k Gᵢₖ − mean_k Gⱼₖ + mean_kl Gₖₗ over k, l in fit.
      const rowMean = (i: number) => {
        let s = 0
        for (const k of fit) s += g[i * n + k]!
        return s / m
      }
      const r = Float64Array.from(fit, rowMean)
      const rBar = r.reduce((acc, v) => acc + v, 0) / m
      const kernel = new Float64Array(m * m)
      for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) kernel[i * m + j] = g[fit[i]! * n + fit[j]!]! - r[i]! - r[j]! + rBar
      const scale = traceOf(kernel, m) / (m * varying(fit))
      const tri = yield* tridiagonal(kernel, m)
      const left = new Float64Array(predict.length * m)
      predict.forEach((v, i) => {
        const q = rowMean(v)
        for (let j = 0; j < m; j++) left[i * m + j] = g[v * n + fit[j]!]! - q - r[j]! + rBar
      })
      yield* rotate(tri, left, predict.length, true)
      made = { tri, left, predict, scale }
    }
    return kept.keep(key, made, factorBytes(made))
  }

  function* solve(kernels: string, a: Dense, fit: Int32Array, predict: Int32Array): Steps<Solved> {
    const f = yield* factor(kernels, fit, predict)
    const mean = columnMeans(a, fit)
    const ac = centred(a, fit, mean)
    const right = f.z !== undefined ? yield* product(ac, f.z, { transA: true }) : transpose(ac)
    yield* rotate(f.tri, right, a.cols, true)
    return { tri: f.tri, left: f.left, right, mean, predict, scale: f.scale }
  }

  // The grid's solves fill a buffer of the same length fold after fold (megabytes of them in a nested evaluation): a
  // few are kept for the next fold, each lent to one call at a time.
  const spare: Float64Array[] = []
  const borrow = (length: number) => {
    const i = spare.findIndex((b) => b.length === length)
    return i < 0 ? new Float64Array(length) : spare.splice(i, 1)[0]!
  }

  // Predictions of the solved fit's `predict` rows at each alpha less the training mean, from one product for the
  // grid: row i, alpha k and target column j at [(i·alphas + k)·d + j].
  function* predictAt(s: Solved, alphas: ReadonlyArray<number>, d: number): Steps<Float64Array> {
    const size = s.tri.n, rows = s.predict.length
    const solved = borrow(alphas.length * d * size)
    alphas.forEach((alpha, k) => {
      const factor = factorShifted(s.tri, alpha * (s.scale > 0 ? s.scale : 1))
      for (let j = 0; j < d; j++) {
        const at = (k * d + j) * size
        solveShifted(factor, s.right.subarray(j * size, (j + 1) * size), solved.subarray(at, at + size))
      }
    })
    const predicted = yield* product({ data: s.left, rows, cols: size }, { data: solved, rows: alphas.length * d, cols: size }, { transB: true })
    spare.push(solved)
    if (spare.length > 4) spare.shift()
    return predicted
  }

  function* steps(kernels: string, targets: MatrixLike, trainRows: ArrayLike<number>, applyRows: ArrayLike<number>, options: ResidualizeOptions): Steps<Residualized> {
    const a = toDense(targets, "residualize", "targets")
    const n = c.rows, d = a.cols
    if (a.rows !== n) throw new Error(`residualize: targets has ${a.rows} rows but covariates has ${n}`)
    if (options.alphas.length === 0) throw new Error("residualize: alphas is empty")
    options.alphas.forEach((alpha) => {
      if (!(alpha > 0)) throw new Error(`residualize: every alpha must be positive, got ${alpha}`)
    })
    if (options.folds.length !== n) throw new Error(`residualize: folds has ${options.folds.length} values but covariates has ${n} rows`)
    const train = Int32Array.from(trainRows), apply = Int32Array.from(applyRows)
    for (const [name, rows] of [["train", train], ["apply", apply]] as const) {
      rows.forEach((r) => {
        if (!(Number.isInteger(r) && r >= 0 && r < n)) throw new Error(`residualize: ${name} contains ${r}, outside 0..${n - 1}`)
      })
    }
    const labels = [...new Set(Array.from(train, (r) => options.folds[r]!))].sort((x, y) => x - y)
    if (labels.length < 2) throw new Error(`residualize: the training rows fall in ${labels.length} fold, need at least 2`)
    const folds: Solved[] = []
    const sse = new Float64Array(options.alphas.length)
    for (const f of labels) {
      const fit = train.filter((r) => options.folds[r] !== f), held = train.filter((r) => options.folds[r] === f)
      if (fit.length < 2) throw new Error(`residualize: only ${fit.length} training row outside fold ${f}, need at least 2`)
      const s = yield* solve(kernels, a, fit, held)
      folds.push(s)
      const predicted = yield* predictAt(s, options.alphas, d)
      const grid = options.alphas.length
      for (let k = 0; k < grid; k++) {
        held.forEach((r, i) => {
          const at = (i * grid + k) * d
          for (let j = 0; j < d; j++) sse[k] += (a.data[r * d + j]! - (predicted[at + j]! + s.mean[j]!)) ** 2
        })
      }
    }
    const mean = columnMeans(a, train)
    let sst = 0
    for (const r of train) for (let j = 0; j < d; j++) sst += (a.data[r * d + j]! - mean[j]!) ** 2
    const cvR2ByAlpha = Array.from(sse, (e) => (sst === 0 ? (e === 0 ? 1 : 0) : 1 - e / sst))
    let chosen = 0
    sse.forEach((e, k) => {
      if (e < sse[chosen]!) chosen = k
    })
    const alpha = options.alphas[chosen]!
    const residuals = new Float64Array(n * d)
    const subtract = (s: Solved, predicted: Float64Array) =>
      s.predict.forEach((r, i) => {
        for (let j = 0; j < d; j++) residuals[r * d + j] = a.data[r * d + j]! - (predicted[i * d + j]! + s.mean[j]!)
      })
    for (const s of folds) subtract(s, yield* predictAt(s, [alpha], d))
    if (apply.length > 0) {
      const s = yield* solve(kernels, a, train, apply)
      subtract(s, yield* predictAt(s, [alpha], d))
    }
    return { alpha, cvR2ByAlpha, cvR2: cvR2ByAlpha[chosen]!, residuals: { data: residuals, rows: n, cols: d } }
  }

  return {
    rows: c.rows,
    residualize: (targets, train, apply, options) => {
      const kernels = options.kernels ?? javascriptBackend
      return runWith(steps(kernels.name, targets, train, apply, options), kernels)
    }
  }
}
