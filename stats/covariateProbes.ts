/**
 * Probes against covariates (e.g. what a task is about): the covariates alone predicting the target, and a probe on
 * features (activations) with everything the covariates predict of them removed. The covariate model is a Ridge in
 * the covariates' own units (makeResidualizer), for the target as for the features; folds are the probe's own.
 */
import type { Interval } from "./bootstrap"
import { type Dense, type MatrixLike, toDense } from "./dense"
import { type EvaluationOptions, fitProbe, type HeldOut, heldOutMetrics, metricInterval, type ProbeSetup, rowsWhere } from "./evaluation"
import { r2Score } from "./metrics"
import type { Residualizer } from "./residualize"
import { foldsOf, predictRidge, type RidgeFit } from "./ridge"

/** Held-out metrics of the covariate model of the target (a Ridge on the covariates alone), fitted on training rows only. */
export type CovariateHeldOut = Omit<HeldOut, "probe">

/** A held-out result of a probe on residualized features, with the covariate model behind it. */
export interface OrthogonalHeldOut extends HeldOut {
  /** The covariate model's penalty, chosen by cross-validation on the training rows. */
  readonly residualAlpha: number
  /** How much of the features' variance the covariates predict out of fold on the training rows. */
  readonly residualCvR2: number
}

/** Out-of-fold R² of a model, pooled over every row and within each label, each with its task bootstrap interval. */
export interface CrossValidated {
  readonly oofPredictions: Float64Array
  readonly r2: Interval
  readonly byLabel: Record<string, Interval & { n: number }>
}

/** Out-of-fold results of the covariate model of the target, its alpha chosen on these very folds (as a probe's is). */
export interface CovariateCrossValidated extends CrossValidated {
  readonly alpha: number
  readonly cvR2: number
}

/** Out-of-fold results of a probe on residualized features, every fit (covariate model included) blind to its test fold. */
export interface OrthogonalCrossValidated extends CrossValidated {
  /** The probe fitted on every row's cross-fitted residuals; its weights live in the features' own coordinates. */
  readonly probe: RidgeFit
  readonly residualAlpha: number
  readonly residualCvR2: number
}

const allRows = (n: number) => Int32Array.from({ length: n }, (_, i) => i)

// Fold labels of the rows of `rows` as the probe's own fits derive them, −1 elsewhere.
const foldArray = (n: number, rows: Int32Array, setup: ProbeSetup): Int32Array => {
  const folds = new Int32Array(n).fill(-1)
  const labels = foldsOf(rows, { ...setup })
  rows.forEach((r, i) => (folds[r] = labels[i]!))
  return folds
}

const column = (y: ArrayLike<number>): Dense => ({ data: Float64Array.from(y), rows: y.length, cols: 1 })

const check = (fn: string, residualizer: Residualizer, y: ArrayLike<number>, x?: Dense, labels?: ReadonlyArray<string>) => {
  if (x !== undefined && residualizer.rows !== x.rows) throw new Error(`${fn}: the covariates have ${residualizer.rows} rows but x has ${x.rows}`)
  if (y.length !== residualizer.rows) throw new Error(`${fn}: y has ${y.length} values but the covariates have ${residualizer.rows} rows`)
  if (labels !== undefined && labels.length !== residualizer.rows) throw new Error(`${fn}: labels has ${labels.length} values but the covariates have ${residualizer.rows} rows`)
}

const labelNames = (fn: string, labels: ReadonlyArray<string>) => {
  const names = [...new Set(labels)].sort()
  if (names.length < 2) throw new Error(`${fn}: labels has ${names.length} distinct value, need at least 2`)
  return names
}

const crossValidated = (y: ArrayLike<number>, oofPredictions: Float64Array, labels: ReadonlyArray<string>, options: EvaluationOptions): CrossValidated => {
  const byLabel: Record<string, Interval & { n: number }> = {}
  for (const label of [...new Set(labels)].sort()) {
    const rows = rowsWhere(labels, (l) => l === label)
    byLabel[label] = { ...metricInterval(y, Float64Array.from(rows, (r) => oofPredictions[r]!), rows, r2Score, options), n: rows.length }
  }
  return { oofPredictions, r2: metricInterval(y, oofPredictions, allRows(y.length), r2Score, options), byLabel }
}

/** Fits the covariate model of the target on the training rows (alpha by the probe's folds over them) and scores it on the test rows. */
export const covariateHeldOut = async (
  residualizer: Residualizer, y: ArrayLike<number>, train: ArrayLike<number>, test: ArrayLike<number>, setup: ProbeSetup, options: EvaluationOptions = {}
): Promise<CovariateHeldOut> => {
  check("covariateHeldOut", residualizer, y)
  if (test.length < 2) throw new Error(`covariateHeldOut: test has ${test.length} rows, need at least 2`)
  const trainRows = Int32Array.from(train), testRows = Int32Array.from(test)
  const res = await residualizer.residualize(column(y), trainRows, testRows, { alphas: setup.alphas, folds: foldArray(y.length, trainRows, setup), kernels: setup.kernels })
  const predictions = Float64Array.from(testRows, (r) => y[r]! - res.residuals.data[r]!)
  return { alpha: res.alpha, trainCvR2: res.cvR2, testRows, predictions, ...heldOutMetrics(y, predictions, testRows, options) }
}

/** For each label: the covariate model of the target trained on all other labels, tested on that one. */
export const heldOneOutCovariates = async (
  residualizer: Residualizer, y: ArrayLike<number>, labels: ReadonlyArray<string>, setup: ProbeSetup, options: EvaluationOptions = {}
): Promise<Record<string, CovariateHeldOut>> => {
  check("heldOneOutCovariates", residualizer, y, undefined, labels)
  const out: Record<string, CovariateHeldOut> = {}
  for (const name of labelNames("heldOneOutCovariates", labels)) {
    out[name] = await covariateHeldOut(residualizer, y, rowsWhere(labels, (l) => l !== name), rowsWhere(labels, (l) => l === name), setup, options)
  }
  return out
}

/** The covariate model of the target over the probe's folds: out-of-fold predictions at the alpha those folds choose. */
export const crossValidatedCovariates = async (
  residualizer: Residualizer, y: ArrayLike<number>, labels: ReadonlyArray<string>, setup: ProbeSetup, options: EvaluationOptions = {}
): Promise<CovariateCrossValidated> => {
  check("crossValidatedCovariates", residualizer, y, undefined, labels)
  const all = allRows(y.length)
  const res = await residualizer.residualize(column(y), all, [], { alphas: setup.alphas, folds: foldArray(y.length, all, setup), kernels: setup.kernels })
  const oof = Float64Array.from(all, (r) => y[r]! - res.residuals.data[r]!)
  return { ...crossValidated(y, oof, labels, options), alpha: res.alpha, cvR2: res.cvR2 }
}

// The covariate models of the features and of the target on the training rows (each alpha by the probe's folds over
// them, training residuals cross-fitted), the probe fitted to the target's residuals from the features' residuals, and
// its predictions of the target for the `apply` rows: the training mean plus what the residualized features add.
const orthogonalFit = async (x: Dense, residualizer: Residualizer, y: ArrayLike<number>, train: Int32Array, apply: Int32Array, setup: ProbeSetup) => {
  const folds = { alphas: setup.alphas, folds: foldArray(x.rows, train, setup), kernels: setup.kernels }
  const features = await residualizer.residualize(x, train, apply, folds)
  const target = await residualizer.residualize(column(y), train, [], folds)
  const probe = await fitProbe(features.residuals, target.residuals.data, setup, train)
  let shift = 0
  for (const r of train) shift += y[r]! - target.residuals.data[r]!
  shift /= train.length
  const predicted = predictRidge(probe, features.residuals)
  return { probe, features, predictions: Float64Array.from(apply, (r) => predicted[r]! + shift) }
}

/**
 * Trains a probe on the training rows' features with what the covariates predict of them removed, and scores it on
 * the test rows. The covariate model is fitted on training rows only (alpha by the probe's folds over them, training
 * residuals cross-fitted), the test rows' features residualized by its fit on every training row. The probe is fitted
 * to the target's residual on the same covariates (Frisch–Waugh–Lovell: the least-squares weights of the features
 * are those of the full regression, and the covariates' part of the target, which residualized features cannot and
 * must not fit, no longer pulls the weights); its predictions are the training mean plus what the residualized
 * features add, scored against the target itself.
 */
export const trainTestOrthogonal = async (
  x: MatrixLike, residualizer: Residualizer, y: ArrayLike<number>, train: ArrayLike<number>, test: ArrayLike<number>,
  setup: ProbeSetup, options: EvaluationOptions = {}
): Promise<OrthogonalHeldOut> => {
  const dense = toDense(x, "trainTestOrthogonal", "x")
  check("trainTestOrthogonal", residualizer, y, dense)
  if (test.length < 2) throw new Error(`trainTestOrthogonal: test has ${test.length} rows, need at least 2`)
  const testRows = Int32Array.from(test)
  const fit = await orthogonalFit(dense, residualizer, y, Int32Array.from(train), testRows, setup)
  return {
    alpha: fit.probe.alpha, trainCvR2: fit.probe.cvR2, probe: fit.probe, testRows, predictions: fit.predictions,
    ...heldOutMetrics(y, fit.predictions, testRows, options), residualAlpha: fit.features.alpha, residualCvR2: fit.features.cvR2
  }
}

/** For each label: the residualized probe trained on all other labels, tested on that one. */
export const heldOneOutOrthogonal = async (
  x: MatrixLike, residualizer: Residualizer, y: ArrayLike<number>, labels: ReadonlyArray<string>, setup: ProbeSetup, options: EvaluationOptions = {}
): Promise<Record<string, OrthogonalHeldOut>> => {
  const dense = toDense(x, "heldOneOutOrthogonal", "x")
  check("heldOneOutOrthogonal", residualizer, y, dense, labels)
  const out: Record<string, OrthogonalHeldOut> = {}
  for (const name of labelNames("heldOneOutOrthogonal", labels)) {
    out[name] = await trainTestOrthogonal(dense, residualizer, y, rowsWhere(labels, (l) => l !== name), rowsWhere(labels, (l) => l === name), setup, options)
  }
  return out
}

/**
 * Nested k-fold evaluation of the residualized probe over the probe's own folds: for each fold, the covariate models
 * and the probe are fitted on the other folds only and predict it (as in `trainTestOrthogonal`). R² is scored on the
 * pooled out-of-fold predictions and within each label; the reported probe is fitted on every row's cross-fitted
 * residuals.
 */
export const crossValidatedOrthogonal = async (
  x: MatrixLike, residualizer: Residualizer, y: ArrayLike<number>, labels: ReadonlyArray<string>, setup: ProbeSetup, options: EvaluationOptions = {}
): Promise<OrthogonalCrossValidated> => {
  const dense = toDense(x, "crossValidatedOrthogonal", "x")
  check("crossValidatedOrthogonal", residualizer, y, dense, labels)
  const n = dense.rows
  const all = allRows(n)
  const outer = foldArray(n, all, setup)
  const oof = new Float64Array(n)
  for (const f of [...new Set(outer)].sort((a, b) => a - b)) {
    const test = all.filter((r) => outer[r] === f)
    ;(await orthogonalFit(dense, residualizer, y, all.filter((r) => outer[r] !== f), test, setup)).predictions.forEach((p, i) => (oof[test[i]!] = p))
  }
  const full = await orthogonalFit(dense, residualizer, y, all, new Int32Array(0), setup)
  return { ...crossValidated(y, oof, labels, options), probe: full.probe, residualAlpha: full.features.alpha, residualCvR2: full.features.cvR2 }
}
