import { type MatrixLike, toDense } from "./dense"
import { lbfgs } from "./lbfgs"
import { makePrng, permutation } from "./prng"
import { columnMoments } from "./standardizedRows"

/** One pairwise choice between rows `a` and `b` of the activation matrix; `aWins` is 1 when a was preferred. */
export interface PairChoice {
  readonly a: number
  readonly b: number
  readonly aWins: number
}

/** A Bradley-Terry probe: P(a ≻ b) = σ(w·(x_a − x_b)). */
export interface BradleyTerryFit {
  readonly l2: number
  /** Weights on standardized features and on raw features (w/sd); the model has no intercept. */
  readonly weightsStd: Float64Array
  readonly weightsRaw: Float64Array
  readonly mean: Float64Array
  readonly sd: Float64Array
  /** Accuracy and mean log loss of the chosen penalty on the held-out pairs. */
  readonly heldOutAccuracy: number
  readonly heldOutLogLoss: number
  readonly heldOutByL2: { l2: number; accuracy: number; logLoss: number }[]
  readonly validationPairs: Int32Array
}

const log1pExp = (t: number) => (t > 0 ? t + Math.log1p(Math.exp(-t)) : Math.log1p(Math.exp(t)))

/**
 * Fits w by minimizing Σ log(1 + exp(−s·w·(z_a − z_b))) + (λ/2)‖w‖² on standardized features (s = ±1 for
 * the observed winner). λ is chosen from `l2s` by held-out log loss on a seeded `validationFraction` of the
 * pairs; the final weights are refitted on all pairs at that λ.
 */
export const fitBradleyTerry = (
  x: MatrixLike, pairs: ReadonlyArray<PairChoice>,
  options: { l2s: ReadonlyArray<number>; validationFraction?: number; seed?: number }
): BradleyTerryFit => {
  const dense = toDense(x, "fitBradleyTerry", "x")
  const n = dense.rows, d = dense.cols
  pairs.forEach((p, i) => {
    if (!(Number.isInteger(p.a) && p.a >= 0 && p.a < n && Number.isInteger(p.b) && p.b >= 0 && p.b < n)) throw new Error(`fitBradleyTerry: pairs[${i}] names a row outside 0..${n - 1}`)
    if (p.aWins !== 0 && p.aWins !== 1) throw new Error(`fitBradleyTerry: pairs[${i}].aWins is ${p.aWins}, expected 0 or 1`)
  })
  if (options.l2s.length === 0 || options.l2s.some((l) => !(l > 0))) throw new Error("fitBradleyTerry: l2s must be a non-empty list of positive penalties")
  const fraction = options.validationFraction ?? 0.2
  const nValidation = Math.round(pairs.length * fraction)
  if (nValidation < 1 || nValidation >= pairs.length) throw new Error(`fitBradleyTerry: validationFraction ${fraction} of ${pairs.length} pairs leaves no training or no validation pairs`)
  const used = [...new Set(pairs.flatMap((p) => [p.a, p.b]))]
  const { mean, sd } = columnMoments(dense, used)
  // Differences of standardized rows: the means cancel, so only the scales enter.
  const diffs = new Float64Array(pairs.length * d), sign = Float64Array.from(pairs, (p) => (p.aWins === 1 ? 1 : -1))
  pairs.forEach((p, i) => {
    for (let j = 0; j < d; j++) diffs[i * d + j] = (dense.data[p.a * d + j]! - dense.data[p.b * d + j]!) / sd[j]!
  })
  const order = permutation(pairs.length, makePrng(options.seed ?? 0))
  const validation = Int32Array.from(order.subarray(0, nValidation)).sort()
  const training = Int32Array.from(order.subarray(nValidation)).sort()
  const margin = (w: Float64Array, i: number) => {
    let s = 0
    for (let j = 0; j < d; j++) s += diffs[i * d + j]! * w[j]!
    return sign[i]! * s
  }
  const fit = (rows: Int32Array, l2: number) => lbfgs((w, grad) => {
    let f = 0
    for (let j = 0; j < d; j++) {
      grad[j] = l2 * w[j]!
      f += 0.5 * l2 * w[j]! ** 2
    }
    for (const i of rows) {
      const m = margin(w, i)
      f += log1pExp(-m)
      const g = -sign[i]! / (1 + Math.exp(m))
      for (let j = 0; j < d; j++) grad[j] += g * diffs[i * d + j]!
    }
    return f
  }, new Float64Array(d)).w
  const heldOutByL2 = options.l2s.map((l2) => {
    const w = fit(training, l2)
    let correct = 0, loss = 0
    for (const i of validation) {
      const m = margin(w, i)
      if (m > 0) correct += 1
      else if (m === 0) correct += 0.5
      loss += log1pExp(-m)
    }
    return { l2, accuracy: correct / validation.length, logLoss: loss / validation.length }
  })
  const best = heldOutByL2.reduce((b, r) => (r.logLoss < b.logLoss ? r : b), heldOutByL2[0]!)
  const weightsStd = fit(Int32Array.from({ length: pairs.length }, (_, i) => i), best.l2)
  return {
    l2: best.l2, weightsStd, weightsRaw: Float64Array.from(weightsStd, (v, j) => v / sd[j]!), mean, sd,
    heldOutAccuracy: best.accuracy, heldOutLogLoss: best.logLoss, heldOutByL2, validationPairs: validation
  }
}
