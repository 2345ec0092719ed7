/**
 * The prior sd τ of the full Thurstonian model's log σ, chosen by cross-validation over the distinct pairs of the
 * choices it is fitted to: the pairs are split into k folds (seeded permutation, every record of a pair in one fold),
 * each τ of the grid is fitted on k − 1 folds and scored by the negative log-likelihood of the held-out fold's records,
 * and the τ with the lowest total wins (the smaller on a tie). Only the data being fitted is used, so a τ chosen on a
 * training split never sees the split's held-out pairs.
 */
import { permutation } from "../random"
import { logNormalCdf } from "./normal"
import type { PairCounts } from "./pairCounts"
import type { ThurstonianFit } from "./thurstonian"

/** The τ values cross-validation chooses from: σ mostly within ±5% of 1 up to σ free to vary by a factor of two. */
export const logSigmaPriorGrid: ReadonlyArray<number> = [0.025, 0.05, 0.1, 0.2, 0.4]

/** The chosen τ and the held-out negative log-likelihood of every τ tried (summed over folds). */
export interface SigmaPriorChoice {
  readonly tau: number
  readonly folds: number
  readonly scores: ReadonlyArray<{ readonly tau: number; readonly heldOutNll: number }>
}

/** Options of the cross-validation; `fit` fits the full model with a given τ (and warm start) to a subset of pair counts. */
export interface SigmaPriorOptions {
  readonly grid?: ReadonlyArray<number>
  readonly folds?: number
  readonly seed?: number
}

const subset = (counts: PairCounts, keep: ReadonlyArray<number>): PairCounts => ({
  tasks: counts.tasks,
  i: Int32Array.from(keep, (k) => counts.i[k]!),
  j: Int32Array.from(keep, (k) => counts.j[k]!),
  winsI: Float64Array.from(keep, (k) => counts.winsI[k]!),
  winsJ: Float64Array.from(keep, (k) => counts.winsJ[k]!)
})

/** Negative log-likelihood of pair counts under a fit. */
export const pairsNegLogLikelihood = (fit: Pick<ThurstonianFit, "mu" | "sigma">, counts: PairCounts): number => {
  let nll = 0
  for (let k = 0; k < counts.i.length; k++) {
    const i = counts.i[k]!
    const j = counts.j[k]!
    const z = (fit.mu[i]! - fit.mu[j]!) / Math.hypot(fit.sigma[i]!, fit.sigma[j]!)
    if (counts.winsI[k]! > 0) nll -= counts.winsI[k]! * logNormalCdf(z)
    if (counts.winsJ[k]! > 0) nll -= counts.winsJ[k]! * logNormalCdf(-z)
  }
  return nll
}

/**
 * Chooses τ by k-fold cross-validation over distinct pairs (default 5 folds, seed 0); `fit(train, τ, caseVMu)` fits
 * the full model, warm-started from the training folds' Case V μ that `caseV(train)` returns. With fewer than two
 * distinct pairs nothing can be held out and the grid's middle value is returned with no scores.
 */
export const chooseLogSigmaPriorSd = (
  counts: PairCounts,
  fit: (train: PairCounts, tau: number, initialMu: Float64Array) => Pick<ThurstonianFit, "mu" | "sigma">,
  caseV: (train: PairCounts) => Float64Array,
  options: SigmaPriorOptions = {}
): SigmaPriorChoice => {
  const grid = options.grid ?? logSigmaPriorGrid
  if (grid.length === 0 || grid.some((t) => !(t > 0))) throw new RangeError(`chooseLogSigmaPriorSd: options.grid must hold positive values, got [${grid.join(", ")}]`)
  const pairs = counts.i.length
  const folds = Math.min(options.folds ?? 5, pairs)
  if (!Number.isInteger(folds) || (options.folds !== undefined && options.folds < 2)) throw new RangeError(`chooseLogSigmaPriorSd: options.folds must be an integer of at least 2, got ${options.folds}`)
  if (folds < 2) return { tau: grid[Math.floor(grid.length / 2)]!, folds: 0, scores: [] }
  const order = permutation(options.seed ?? 0, pairs)
  const foldOf = new Int32Array(pairs)
  order.forEach((pair, rank) => (foldOf[pair] = rank % folds))
  const totals = grid.map(() => 0)
  for (let f = 0; f < folds; f++) {
    const train = subset(counts, Array.from({ length: pairs }, (_, k) => k).filter((k) => foldOf[k] !== f))
    const test = subset(counts, Array.from({ length: pairs }, (_, k) => k).filter((k) => foldOf[k] === f))
    const start = caseV(train)
    grid.forEach((tau, g) => (totals[g]! += pairsNegLogLikelihood(fit(train, tau, start), test)))
  }
  const best = totals.reduce((b, v, g) => (v < totals[b]! ? g : b), 0)
  return { tau: grid[best]!, folds, scores: grid.map((tau, g) => ({ tau, heldOutNll: totals[g]! })) }
}
