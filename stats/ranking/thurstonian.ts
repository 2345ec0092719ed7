/**
 * Thurstonian utilities from pairwise choices: task i has utility N(μᵢ, σᵢ²) and
 * P(i beats j) = Φ((μᵢ − μⱼ)/√(σᵢ² + σⱼ²)).
 *
 * - Case V fixes every σ at 1, so P = Φ((μᵢ − μⱼ)/√2), and is fitted by maximum likelihood.
 * - The full model also fits log σᵢ, with the prior log σᵢ ~ Normal(0, τ²) (τ = `logSigmaPriorSd`).
 *   Without it the likelihood is unchanged when every μ and σ is scaled together, and a σ can shrink
 *   to zero; the prior pins the scale to σ ≈ 1 and keeps each σ finite. The fit is the posterior
 *   mode, started from the Case V fit. Unless τ is given, it is chosen by cross-validation over the
 *   distinct pairs of the counts being fitted (`chooseLogSigmaPriorSd`): too tight a prior is Case V,
 *   too loose a one lets σ absorb noise, and which is which depends on the data.
 *
 * In both, μ of `tasks[0]` (the alphabetically first task with the default task order) is fixed at 0.
 * An optional prior μᵢ ~ Normal(0, `muPriorSd`²) keeps μ finite for tasks that never lost or never won
 * (whose maximum-likelihood μ is ±∞); without it such μ stop wherever the gradient becomes negligible.
 * The likelihood is summed over aggregated pair counts, so each evaluation costs O(distinct pairs).
 */
import { minimizeLbfgs } from "./lbfgs"
import { inverseMillsRatio, logNormalCdf, normalCdf } from "./normal"
import type { PairCounts } from "./pairCounts"
import { chooseLogSigmaPriorSd, type SigmaPriorChoice, type SigmaPriorOptions } from "./sigmaPrior"

/** Which Thurstonian model to fit, its priors, an optional warm start and the optimizer's stopping rules. */
export interface ThurstonianOptions {
  readonly model?: "caseV" | "full"
  /** τ of the full model; chosen by cross-validation over the pairs (`priorSelection`) when absent. */
  readonly logSigmaPriorSd?: number
  readonly priorSelection?: SigmaPriorOptions
  readonly muPriorSd?: number
  /** Starting μ (length n; entry 0 is ignored and held at 0). */
  readonly initialMu?: Float64Array
  readonly maxIterations?: number
  readonly gradientTolerance?: number
}

/** Fitted utilities: μ and σ per task (aligned with `tasks`), the data's negative log-likelihood and the optimizer's outcome. */
export interface ThurstonianFit {
  readonly model: "caseV" | "full"
  readonly tasks: ReadonlyArray<string>
  readonly mu: Float64Array
  readonly sigma: Float64Array
  readonly negLogLikelihood: number
  readonly iterations: number
  readonly converged: boolean
  /** The full model's τ and, when cross-validation chose it, its held-out scores; null for Case V. */
  readonly sigmaPrior: (Partial<SigmaPriorChoice> & { readonly tau: number }) | null
}

const checkCounts = (counts: PairCounts): void => {
  const p = counts.i.length
  if (counts.j.length !== p || counts.winsI.length !== p || counts.winsJ.length !== p) {
    throw new RangeError(`fitThurstonian: counts.i, j, winsI and winsJ must have one length, got ${p}, ${counts.j.length}, ${counts.winsI.length}, ${counts.winsJ.length}`)
  }
  const n = counts.tasks.length
  if (n < 2) throw new RangeError(`fitThurstonian: counts.tasks must name at least 2 tasks, got ${n}`)
  for (let k = 0; k < p; k++) {
    const i = counts.i[k]!
    const j = counts.j[k]!
    if (i < 0 || j < 0 || i >= n || j >= n || i === j) throw new RangeError(`fitThurstonian: counts pair ${k} has invalid task indices (${i}, ${j})`)
  }
}

const checkPositive = (name: string, value: number | undefined): void => {
  if (value !== undefined && !(value > 0)) throw new RangeError(`fitThurstonian: options.${name} must be positive, got ${value}`)
}

/** Negative log-likelihood of the pair counts and its gradient in μ and log σ (gradients are accumulated into gMu/gLogSigma when given). */
const pairLikelihood = (
  counts: PairCounts,
  mu: Float64Array,
  logSigma: Float64Array | undefined,
  gMu: Float64Array,
  gLogSigma: Float64Array | undefined
): number => {
  const { i: is, j: js, winsI, winsJ } = counts
  let nll = 0
  for (let k = 0; k < is.length; k++) {
    const i = is[k]!
    const j = js[k]!
    let vi = 1
    let vj = 1
    if (logSigma !== undefined) {
      vi = Math.exp(2 * logSigma[i]!)
      vj = Math.exp(2 * logSigma[j]!)
    }
    const s = Math.sqrt(vi + vj)
    const z = (mu[i]! - mu[j]!) / s
    const wi = winsI[k]!
    const wj = winsJ[k]!
    let dz = 0
    if (wi > 0) {
      nll -= wi * logNormalCdf(z)
      dz -= wi * inverseMillsRatio(z)
    }
    if (wj > 0) {
      nll -= wj * logNormalCdf(-z)
      dz += wj * inverseMillsRatio(-z)
    }
    gMu[i] = gMu[i]! + dz / s
    gMu[j] = gMu[j]! - dz / s
    if (gLogSigma !== undefined) {
      const common = (-dz * z) / (s * s)
      gLogSigma[i] = gLogSigma[i]! + common * vi
      gLogSigma[j] = gLogSigma[j]! + common * vj
    }
  }
  return nll
}

/** Fits a Thurstonian model (Case V by default) to aggregated pair counts. */
export const fitThurstonian = (counts: PairCounts, options: ThurstonianOptions = {}): ThurstonianFit => {
  checkCounts(counts)
  const model = options.model ?? "caseV"
  const muPriorSd = options.muPriorSd
  checkPositive("logSigmaPriorSd", options.logSigmaPriorSd)
  checkPositive("muPriorSd", muPriorSd)
  const n = counts.tasks.length
  if (options.initialMu !== undefined && options.initialMu.length !== n) {
    throw new RangeError(`fitThurstonian: options.initialMu must have length ${n} (counts.tasks), got ${options.initialMu.length}`)
  }
  const lbfgs = {
    ...(options.maxIterations === undefined ? {} : { maxIterations: options.maxIterations }),
    ...(options.gradientTolerance === undefined ? {} : { gradientTolerance: options.gradientTolerance })
  }
  const muPrecision = muPriorSd === undefined ? 0 : 1 / (muPriorSd * muPriorSd)
  const mu = new Float64Array(n)
  const gMu = new Float64Array(n)

  // Case V: x = μ₁..μₙ₋₁.
  const caseVObjective = (x: Float64Array, grad: Float64Array): number => {
    mu.set(x, 1)
    gMu.fill(0)
    let value = pairLikelihood(counts, mu, undefined, gMu, undefined)
    for (let t = 1; t < n; t++) {
      value += 0.5 * muPrecision * mu[t]! * mu[t]!
      grad[t - 1] = gMu[t]! + muPrecision * mu[t]!
    }
    return value
  }
  const start = options.initialMu === undefined ? new Float64Array(n - 1) : options.initialMu.slice(1)
  const caseV = minimizeLbfgs(caseVObjective, start, lbfgs)
  const caseVMu = new Float64Array(n)
  caseVMu.set(caseV.x, 1)

  if (model === "caseV") {
    return {
      model,
      tasks: counts.tasks,
      mu: caseVMu,
      sigma: new Float64Array(n).fill(1),
      negLogLikelihood: pairLikelihood(counts, caseVMu, undefined, new Float64Array(n), undefined),
      iterations: caseV.iterations,
      converged: caseV.converged,
      sigmaPrior: null
    }
  }

  const shared = {
    ...(muPriorSd === undefined ? {} : { muPriorSd }),
    ...(options.maxIterations === undefined ? {} : { maxIterations: options.maxIterations }),
    ...(options.gradientTolerance === undefined ? {} : { gradientTolerance: options.gradientTolerance })
  }
  const choice: Partial<SigmaPriorChoice> & { tau: number } =
    options.logSigmaPriorSd !== undefined
      ? { tau: options.logSigmaPriorSd }
      : chooseLogSigmaPriorSd(
          counts,
          (train, tau, initialMu) => fitThurstonian(train, { ...shared, model: "full", logSigmaPriorSd: tau, initialMu }),
          (train) => fitThurstonian(train, { ...shared, initialMu: caseVMu }).mu,
          options.priorSelection
        )
  const tau = choice.tau

  // Full: x = [μ₁..μₙ₋₁, log σ₀..log σₙ₋₁].
  const logSigma = new Float64Array(n)
  const gLogSigma = new Float64Array(n)
  const sigmaPrecision = 1 / (tau * tau)
  const fullObjective = (x: Float64Array, grad: Float64Array): number => {
    mu.set(x.subarray(0, n - 1), 1)
    logSigma.set(x.subarray(n - 1))
    gMu.fill(0)
    gLogSigma.fill(0)
    let value = pairLikelihood(counts, mu, logSigma, gMu, gLogSigma)
    for (let t = 1; t < n; t++) {
      value += 0.5 * muPrecision * mu[t]! * mu[t]!
      grad[t - 1] = gMu[t]! + muPrecision * mu[t]!
    }
    for (let t = 0; t < n; t++) {
      value += 0.5 * sigmaPrecision * logSigma[t]! * logSigma[t]!
      grad[n - 1 + t] = gLogSigma[t]! + sigmaPrecision * logSigma[t]!
    }
    return value
  }
  const x0 = new Float64Array(2 * n - 1)
  x0.set(caseV.x)
  const full = minimizeLbfgs(fullObjective, x0, lbfgs)
  const fullMu = new Float64Array(n)
  fullMu.set(full.x.subarray(0, n - 1), 1)
  const fullLogSigma = full.x.slice(n - 1)
  return {
    model,
    tasks: counts.tasks,
    mu: fullMu,
    sigma: fullLogSigma.map(Math.exp),
    negLogLikelihood: pairLikelihood(counts, fullMu, fullLogSigma, new Float64Array(n), new Float64Array(n)),
    iterations: caseV.iterations + full.iterations,
    converged: full.converged,
    sigmaPrior: choice
  }
}

/** P(task i beats task j) under a fit. */
export const winProbability = (fit: ThurstonianFit, i: number, j: number): number => {
  const n = fit.tasks.length
  if (!Number.isInteger(i) || i < 0 || i >= n) throw new RangeError(`winProbability: i must index fit.tasks (0..${n - 1}), got ${i}`)
  if (!Number.isInteger(j) || j < 0 || j >= n) throw new RangeError(`winProbability: j must index fit.tasks (0..${n - 1}), got ${j}`)
  return normalCdf((fit.mu[i]! - fit.mu[j]!) / Math.hypot(fit.sigma[i]!, fit.sigma[j]!))
}
