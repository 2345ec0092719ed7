import { type BootstrapOptions, bootstrapManyByTask, type Interval } from "./bootstrap"
import { type MatrixLike, toDense } from "./dense"
import { cosine, meanAdjustedR2, pearson, r2Score } from "./metrics"
import type { Backend } from "./kernels"
import { fitRidgeWith, predictRidge, type RidgeFit, type RidgeOptions } from "./ridge"
import { javascriptBackend } from "./runKernels"

/** How probes are fitted inside an evaluation: the ridge options without the training rows, and the kernels (JavaScript by default). */
export type ProbeSetup = Omit<RidgeOptions, "rows"> & { readonly kernels?: Backend }

/** Fits a probe with the setup's ridge options on its kernels, on `rows` (every row when absent). */
export const fitProbe = (x: MatrixLike, y: ArrayLike<number>, setup: ProbeSetup, rows?: ArrayLike<number>) => {
  const { kernels, ...options } = setup
  return fitRidgeWith(kernels ?? javascriptBackend, x, y, rows === undefined ? options : { ...options, rows })
}

/** Task of each row (bootstrap resamples tasks; rows are their own tasks when absent) and bootstrap settings. */
export interface EvaluationOptions {
  readonly tasks?: ReadonlyArray<string | number>
  readonly bootstrap?: BootstrapOptions
}

/** Metrics of a probe on held-out rows only, each with a bootstrap interval over held-out tasks. */
export interface HeldOut {
  readonly alpha: number
  readonly trainCvR2: number
  readonly r2: Interval
  readonly r2MeanAdjusted: Interval
  readonly pearsonR: Interval
  readonly testRows: Int32Array
  readonly predictions: Float64Array
  readonly probe: RidgeFit
}

const checkLabels = (fn: string, n: number, labels: ReadonlyArray<string>, options: EvaluationOptions) => {
  if (labels.length !== n) throw new Error(`${fn}: labels has ${labels.length} values but x has ${n} rows`)
  if (options.tasks !== undefined && options.tasks.length !== n) throw new Error(`${fn}: tasks has ${options.tasks.length} values but x has ${n} rows`)
}

const distinct = (labels: ReadonlyArray<string>) => [...new Set(labels)].sort()
/** The rows whose label passes `keep`. */
export const rowsWhere = (labels: ReadonlyArray<string>, keep: (l: string) => boolean) =>
  Int32Array.from(labels.flatMap((l, i) => (keep(l) ? [i] : [])))

/** A statistic of (targets, predictions) with a bootstrap interval over the tasks of the given rows. */
export const metricInterval = (
  y: ArrayLike<number>, predictions: ArrayLike<number>, rows: ArrayLike<number>,
  metric: (yTrue: Float64Array, yPred: Float64Array) => number, options: EvaluationOptions = {}
): Interval => metricIntervals(y, predictions, rows, [metric], options)[0]!

/** Several statistics of (targets, predictions), each with its `metricInterval`, from one pass over the resamples. */
export const metricIntervals = (
  y: ArrayLike<number>, predictions: ArrayLike<number>, rows: ArrayLike<number>,
  metrics: ReadonlyArray<(yTrue: Float64Array, yPred: Float64Array) => number>, options: EvaluationOptions = {}
): Interval[] => {
  if (predictions.length !== rows.length) throw new Error(`metricIntervals: predictions has ${predictions.length} values but rows has ${rows.length}`)
  const tasks = Array.from(rows, (r) => (options.tasks === undefined ? r : options.tasks[r]!))
  const yAt = Float64Array.from(rows, (r) => y[r]!), pred = Float64Array.from(predictions)
  let yBuffer = new Float64Array(rows.length), pBuffer = new Float64Array(rows.length)
  return bootstrapManyByTask(tasks, (sample) => {
    if (sample.length > yBuffer.length) {
      yBuffer = new Float64Array(sample.length * 2)
      pBuffer = new Float64Array(sample.length * 2)
    }
    for (let i = 0; i < sample.length; i++) {
      yBuffer[i] = yAt[sample[i]!]!
      pBuffer[i] = pred[sample[i]!]!
    }
    const yTrue = yBuffer.subarray(0, sample.length), yPred = pBuffer.subarray(0, sample.length)
    return metrics.map((metric) => metric(yTrue, yPred))
  }, metrics.length, options.bootstrap)
}

/** R², mean-adjusted R² and Pearson r of held-out predictions of the `test` rows, from one pass over the resamples. */
export const heldOutMetrics = (y: ArrayLike<number>, predictions: ArrayLike<number>, test: Int32Array, options: EvaluationOptions) => {
  const [r2, r2MeanAdjusted, pearsonR] = metricIntervals(y, predictions, test, [r2Score, meanAdjustedR2, pearson], options)
  return { r2: r2!, r2MeanAdjusted: r2MeanAdjusted!, pearsonR: pearsonR! }
}

/** Trains a probe on `train` rows and scores it on `test` rows (held-out rows only). */
export const trainTest = async (
  x: MatrixLike, y: ArrayLike<number>, train: ArrayLike<number>, test: ArrayLike<number>,
  setup: ProbeSetup, options: EvaluationOptions = {}
): Promise<HeldOut> => {
  const dense = toDense(x, "trainTest", "x")
  if (test.length < 2) throw new Error(`trainTest: test has ${test.length} rows, need at least 2`)
  const probe = await fitProbe(dense, y, setup, train)
  const testRows = Int32Array.from(test)
  const predictions = predictRidge(probe, dense, testRows)
  return { alpha: probe.alpha, trainCvR2: probe.cvR2, probe, testRows, predictions, ...heldOutMetrics(y, predictions, testRows, options) }
}

/** Out-of-fold R² within each label (e.g. task type) of one probe trained on all rows. */
export const r2ByLabel = async (
  x: MatrixLike, y: ArrayLike<number>, labels: ReadonlyArray<string>, setup: ProbeSetup, options: EvaluationOptions = {}
): Promise<{ probe: RidgeFit; byLabel: Record<string, Interval & { n: number }> }> => {
  const dense = toDense(x, "r2ByLabel", "x")
  checkLabels("r2ByLabel", dense.rows, labels, options)
  const probe = await fitProbe(dense, y, setup)
  const byLabel: Record<string, Interval & { n: number }> = {}
  for (const label of distinct(labels)) {
    const local: number[] = []
    probe.oofRows.forEach((r, i) => {
      if (labels[r] === label) local.push(i)
    })
    const rows = Int32Array.from(local, (i) => probe.oofRows[i]!)
    const preds = Float64Array.from(local, (i) => probe.oofPredictions[i]!)
    byLabel[label] = { ...metricInterval(y, preds, rows, r2Score, options), n: rows.length }
  }
  return { probe, byLabel }
}

/** Probes trained within each label and the cosine similarity of their raw-space weights (intercepts excluded). */
export const probeSimilarity = async (
  x: MatrixLike, y: ArrayLike<number>, labels: ReadonlyArray<string>, setup: ProbeSetup
): Promise<{ labels: string[]; probes: Record<string, RidgeFit>; cosine: number[][] }> => {
  const dense = toDense(x, "probeSimilarity", "x")
  checkLabels("probeSimilarity", dense.rows, labels, {})
  const names = distinct(labels)
  const probes: Record<string, RidgeFit> = {}
  for (const name of names) probes[name] = await fitProbe(dense, y, setup, rowsWhere(labels, (l) => l === name))
  const matrix = names.map((a) => names.map((b) => cosine(probes[a]!.weightsRaw, probes[b]!.weightsRaw)))
  return { labels: names, probes, cosine: matrix }
}

/** For each label: train on all other labels, test on that one. */
export const heldOneOut = async (
  x: MatrixLike, y: ArrayLike<number>, labels: ReadonlyArray<string>, setup: ProbeSetup, options: EvaluationOptions = {}
): Promise<Record<string, HeldOut>> => {
  const dense = toDense(x, "heldOneOut", "x")
  checkLabels("heldOneOut", dense.rows, labels, options)
  const names = distinct(labels)
  if (names.length < 2) throw new Error(`heldOneOut: labels has ${names.length} distinct value, need at least 2`)
  const out: Record<string, HeldOut> = {}
  for (const name of names) {
    out[name] = await trainTest(dense, y, rowsWhere(labels, (l) => l !== name), rowsWhere(labels, (l) => l === name), setup, options)
  }
  return out
}

/** For every split of four labels into two training and two test labels; keys join the training labels with "+". */
export const trainTwoTestTwo = async (
  x: MatrixLike, y: ArrayLike<number>, labels: ReadonlyArray<string>, setup: ProbeSetup, options: EvaluationOptions = {}
): Promise<Record<string, HeldOut>> => {
  const dense = toDense(x, "trainTwoTestTwo", "x")
  checkLabels("trainTwoTestTwo", dense.rows, labels, options)
  const names = distinct(labels)
  if (names.length !== 4) throw new Error(`trainTwoTestTwo: labels must have exactly 4 distinct values, got ${names.length}`)
  const out: Record<string, HeldOut> = {}
  for (let a = 0; a < 4; a++) for (let b = a + 1; b < 4; b++) {
    const train = new Set([names[a]!, names[b]!])
    out[`${names[a]}+${names[b]}`] = await trainTest(dense, y, rowsWhere(labels, (l) => train.has(l)), rowsWhere(labels, (l) => !train.has(l)), setup, options)
  }
  return out
}
