import type { Interval } from "./bootstrap"
import { type Dense, type MatrixLike, toDense } from "./dense"
import { type EvaluationOptions, type HeldOut, metricInterval, type ProbeSetup, trainTest } from "./evaluation"
import { r2Score } from "./metrics"
import type { Residualizer } from "./residualize"
import { fitRidge, foldsOf, predictRidge, type RidgeFit } from "./ridge"

/** A held-out result of a probe on residualized features, with the covariate model behind it. */
export interface OrthogonalHeldOut extends HeldOut {
  /** The covariate model's penalty, chosen by cross-validation on the training rows. */
  readonly residualAlpha: number
  /** How much of the features' variance the covariates predict out of fold on the training rows. */
  readonly residualCvR2: number
}

/** Out-of-fold results of a probe on residualized features, every fit (covariate model included) blind to its test fold. */
export interface OrthogonalCrossValidated {
  /** The probe fitted on every row's cross-fitted residuals; its weights live in the features' own coordinates. */
  readonly probe: RidgeFit
  readonly residualAlpha: number
  readonly residualCvR2: number
  /** Out-of-fold predictions, one per row. */
  readonly oofPredictions: Float64Array
  /** Pooled out-of-fold R² over every row, with its task bootstrap interval. */
  readonly r2: Interval
  /** Out-of-fold R² within each label. */
  readonly byLabel: Record<string, Interval & { n: number }>
}

const rowsWhere = (labels: ReadonlyArray<string>, keep: (l: string) => boolean) => Int32Array.from(labels.flatMap((l, i) => (keep(l) ? [i] : [])))

// Fold labels of the rows of `rows` as the probe's own fits derive them, −1 elsewhere.
const foldArray = (n: number, rows: Int32Array, setup: ProbeSetup): Int32Array => {
  const folds = new Int32Array(n).fill(-1)
  const labels = foldsOf(rows, { ...setup })
  rows.forEach((r, i) => (folds[r] = labels[i]!))
  return folds
}

const checkShapes = (fn: string, x: Dense, residualizer: Residualizer, y: ArrayLike<number>, labels?: ReadonlyArray<string>) => {
  if (residualizer.rows !== x.rows) throw new Error(`${fn}: the covariates have ${residualizer.rows} rows but x has ${x.rows}`)
  if (y.length !== x.rows) throw new Error(`${fn}: y has ${y.length} values but x has ${x.rows} rows`)
  if (labels !== undefined && labels.length !== x.rows) throw new Error(`${fn}: labels has ${labels.length} values but x has ${x.rows} rows`)
}

/**
 * Trains a probe on the training rows' features with what the covariates predict of them removed, and scores it on
 * the test rows: the covariate model is fitted on training rows only (alpha by the probe's folds over them; their
 * residuals cross-fitted), and the test rows' features are residualized by its fit on every training row.
 */
export const trainTestOrthogonal = (
  x: MatrixLike, residualizer: Residualizer, y: ArrayLike<number>, train: ArrayLike<number>, test: ArrayLike<number>,
  setup: ProbeSetup, options: EvaluationOptions = {}
): OrthogonalHeldOut => {
  const dense = toDense(x, "trainTestOrthogonal", "x")
  checkShapes("trainTestOrthogonal", dense, residualizer, y)
  const trainRows = Int32Array.from(train)
  const res = residualizer.residualize(dense, trainRows, test, { alphas: setup.alphas, folds: foldArray(dense.rows, trainRows, setup) })
  return { ...trainTest(res.residuals, y, trainRows, test, setup, options), residualAlpha: res.alpha, residualCvR2: res.cvR2 }
}

/** For each label: the residualized probe trained on all other labels, tested on that one. */
export const heldOneOutOrthogonal = (
  x: MatrixLike, residualizer: Residualizer, y: ArrayLike<number>, labels: ReadonlyArray<string>, setup: ProbeSetup, options: EvaluationOptions = {}
): Record<string, OrthogonalHeldOut> => {
  const dense = toDense(x, "heldOneOutOrthogonal", "x")
  checkShapes("heldOneOutOrthogonal", dense, residualizer, y, labels)
  const names = [...new Set(labels)].sort()
  if (names.length < 2) throw new Error(`heldOneOutOrthogonal: labels has ${names.length} distinct value, need at least 2`)
  return Object.fromEntries(
    names.map((name) => [name, trainTestOrthogonal(dense, residualizer, y, rowsWhere(labels, (l) => l !== name), rowsWhere(labels, (l) => l === name), setup, options)])
  )
}

/**
 * Nested k-fold evaluation of the residualized probe over the probe's own folds: for each fold, the covariate model
 * and the probe are fitted on the other folds only and predict it. R² is scored on the pooled out-of-fold predictions
 * and within each label; the reported probe is fitted on every row's cross-fitted residuals.
 */
export const crossValidatedOrthogonal = (
  x: MatrixLike, residualizer: Residualizer, y: ArrayLike<number>, labels: ReadonlyArray<string>, setup: ProbeSetup, options: EvaluationOptions = {}
): OrthogonalCrossValidated => {
  const dense = toDense(x, "crossValidatedOrthogonal", "x")
  checkShapes("crossValidatedOrthogonal", dense, residualizer, y, labels)
  const n = dense.rows
  const all = Int32Array.from({ length: n }, (_, i) => i)
  const outer = foldArray(n, all, setup)
  const oofPredictions = new Float64Array(n)
  for (const f of [...new Set(outer)].sort((a, b) => a - b)) {
    const train = all.filter((r) => outer[r] !== f), test = all.filter((r) => outer[r] === f)
    const res = residualizer.residualize(dense, train, test, { alphas: setup.alphas, folds: foldArray(n, train, setup) })
    const probe = fitRidge(res.residuals, y, { ...setup, rows: train })
    const predicted = predictRidge(probe, res.residuals)
    test.forEach((r) => (oofPredictions[r] = predicted[r]!))
  }
  const full = residualizer.residualize(dense, all, [], { alphas: setup.alphas, folds: outer })
  const probe = fitRidge(full.residuals, y, setup)
  const byLabel: Record<string, Interval & { n: number }> = {}
  for (const label of [...new Set(labels)].sort()) {
    const rows = rowsWhere(labels, (l) => l === label)
    byLabel[label] = { ...metricInterval(y, Float64Array.from(rows, (r) => oofPredictions[r]!), rows, r2Score, options), n: rows.length }
  }
  return {
    probe, residualAlpha: full.alpha, residualCvR2: full.cvR2, oofPredictions,
    r2: metricInterval(y, oofPredictions, all, r2Score, options), byLabel
  }
}
