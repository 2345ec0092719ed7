import { type MatrixLike, toDense } from "./dense"
import { logisticCoefficients, predictLogistic } from "./logistic"
import { columnMoments } from "./standardizedRows"

/** A logistic probe for binary targets: L2 chosen by grouped k-fold log loss, weights in standardized and raw space. */
export interface LogisticProbe {
  readonly l2: number
  readonly cvLogLoss: number
  readonly cvAccuracy: number
  readonly cvLogLossByL2: number[]
  readonly weightsStd: Float64Array
  readonly interceptStd: number
  readonly weightsRaw: Float64Array
  readonly interceptRaw: number
}

const standardized = (x: { data: ArrayLike<number>; rows: number; cols: number }, rows: ArrayLike<number>, mean: Float64Array, sd: Float64Array) => {
  const out = new Float64Array(rows.length * x.cols)
  for (let r = 0; r < rows.length; r++) for (let j = 0; j < x.cols; j++) out[r * x.cols + j] = (x.data[rows[r]! * x.cols + j]! - mean[j]!) / sd[j]!
  return { data: out, rows: rows.length, cols: x.cols }
}

/**
 * Fits P(y = 1) = σ(b + w·z) on features standardized on the training rows, for each L2 penalty of the grid, and
 * keeps the one with the lowest pooled out-of-fold log loss; `folds[i]` is row i's fold (rows of one task share one).
 */
export const fitLogisticProbe = (
  x: MatrixLike,
  y: ArrayLike<number>,
  options: { readonly l2s: ReadonlyArray<number>; readonly folds: ArrayLike<number> }
): LogisticProbe => {
  const dense = toDense(x, "fitLogisticProbe", "x")
  const n = dense.rows
  if (y.length !== n) throw new Error(`fitLogisticProbe: x has ${n} rows but y has ${y.length} values`)
  if (options.folds.length !== n) throw new Error(`fitLogisticProbe: folds has ${options.folds.length} values but x has ${n} rows`)
  if (options.l2s.length === 0 || options.l2s.some((l) => !(l > 0))) throw new Error("fitLogisticProbe: l2s must be a non-empty list of positive penalties")
  const foldIds = [...new Set(Array.from(options.folds))].sort((a, b) => a - b)
  if (foldIds.length < 2) throw new Error("fitLogisticProbe: folds must name at least two folds")
  const all = Int32Array.from({ length: n }, (_, i) => i)
  const losses = options.l2s.map(() => 0)
  const correct = options.l2s.map(() => 0)
  for (const fold of foldIds) {
    const train = all.filter((i) => options.folds[i] !== fold)
    const test = all.filter((i) => options.folds[i] === fold)
    const { mean, sd } = columnMoments(dense, train)
    const xTrain = standardized(dense, train, mean, sd)
    const xTest = standardized(dense, test, mean, sd)
    const yTrain = Float64Array.from(train, (i) => y[i]!)
    options.l2s.forEach((l2, a) => {
      const p = predictLogistic(logisticCoefficients(xTrain, yTrain, { l2 }), xTest)
      test.forEach((i, k) => {
        const q = Math.min(1 - 1e-12, Math.max(1e-12, p[k]!))
        losses[a] -= y[i] === 1 ? Math.log(q) : Math.log(1 - q)
        if ((q >= 0.5 ? 1 : 0) === y[i]) correct[a]++
      })
    })
  }
  const best = losses.indexOf(Math.min(...losses))
  const { mean, sd } = columnMoments(dense, all)
  const fit = logisticCoefficients(standardized(dense, all, mean, sd), y, { l2: options.l2s[best]! })
  const weightsStd = Float64Array.from(fit.coefficients.slice(1))
  const weightsRaw = weightsStd.map((w, j) => w / sd[j]!)
  return {
    l2: options.l2s[best]!,
    cvLogLoss: losses[best]! / n,
    cvAccuracy: correct[best]! / n,
    cvLogLossByL2: losses.map((l) => l / n),
    weightsStd,
    interceptStd: fit.coefficients[0]!,
    weightsRaw,
    interceptRaw: fit.coefficients[0]! - weightsRaw.reduce((acc, w, j) => acc + w * mean[j]!, 0)
  }
}
