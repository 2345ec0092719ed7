import { Either } from "effect"
import { normalQuantile } from "../stats/distributions"
import { logistic } from "../stats/logistic"
import { ols, wilson } from "../stats/regression"
import { type SteeringResult, steeringAnalysis } from "../stats/steering"

/** One steered sample: the direction and coefficient it was steered with, its task (the cluster), and its outcome (null when the answer was a refusal or could not be parsed). */
export interface SteeredSample {
  readonly direction: string
  readonly coefficient: number
  readonly task: string
  /** Which of the task's questions and samples this is (revealed tasks are asked in several pairs and orders); one sample shares its seed across coefficients. */
  readonly sample: number
  readonly outcome: number | null
  readonly tier: string
}

/** P(good) by option scoring at one coefficient: the mean over tasks (or ordered pairs) of the good option's renormalised probability. */
export interface OptionPoint {
  readonly direction: string
  readonly coefficient: number
  readonly p: number
  readonly n: number
}

/** The analysis of one steering direction, in the shape reports and summary.json read. */
export interface DirectionResult {
  /** Samples with a parsed outcome, and those excluded by tier. */
  readonly n: number
  readonly excluded: { readonly refusal: number; readonly failed: number }
  /** Per coefficient: answers sampled, parsed, refused and unparsed (a steered model can lose its answer format). */
  readonly answers: ReadonlyArray<{ coefficient: number; total: number; parsed: number; refusal: number; failed: number }>
  /** Per coefficient (ascending): P(good) with its Wilson 95% interval over the included samples. */
  readonly by_coefficient: ReadonlyArray<{ coefficient: number; p: number; lo: number; hi: number; n: number; successes: number }>
  /** Linear-probability OLS slope of outcome on coefficient, its plain two-sided t p-value and its task-clustered (CR1) p-value. */
  readonly slope: number | null
  readonly p_value: number | null
  readonly clustered_p_value: number | null
  /** 95% interval of the slope from the task-clustered standard error (normal approximation). */
  readonly slope_lo: number | null
  readonly slope_hi: number | null
  readonly clustered_tasks: number | null
  /** Logistic-regression slope and its Wald p-value. */
  readonly logit_slope: number | null
  readonly logit_p_value: number | null
  /** The noise-free companion curve from option scoring. */
  readonly option_curve: ReadonlyArray<{ coefficient: number; p: number; n: number }>
  /** Why a fit is missing (too few samples, no variation, perfect separation), or null. */
  readonly error: string | null
}

/**
 * Whether a threshold on the coefficient separates the outcomes (every 0 at or below every 1, or the reverse):
 * then the logistic likelihood has no maximum and any fitted slope is an artefact of where the iterations stopped.
 */
export const separated = (rows: ReadonlyArray<{ coefficient: number; outcome: number }>): boolean => {
  const of = (y: number) => rows.filter((r) => r.outcome === y).map((r) => r.coefficient)
  const zeros = of(0), ones = of(1)
  if (zeros.length === 0 || ones.length === 0) return true
  return Math.max(...zeros) <= Math.min(...ones) || Math.max(...ones) <= Math.min(...zeros)
}

/**
 * Whether every task's sample was parsed at every coefficient and gave the same outcome at each (seeds are shared
 * across coefficients):
 * steering then changed nothing, the fitted slope is rounding error, and a clustered standard error of that error
 * yields a meaningless z.
 */
export const unchanged = (rows: ReadonlyArray<{ task: string; sample: number; coefficient: number; outcome: number }>): boolean => {
  const coefficients = new Set(rows.map((r) => r.coefficient)).size
  const seen = new Map<string, { outcome: number; count: number }>()
  for (const r of rows) {
    const key = JSON.stringify([r.task, r.sample])
    const first = seen.get(key)
    if (first === undefined) seen.set(key, { outcome: r.outcome, count: 1 })
    else if (first.outcome !== r.outcome) return false
    else first.count++
  }
  return coefficients > 1 && [...seen.values()].every((g) => g.count === coefficients)
}

const message = (e: unknown) => (e instanceof Error ? e.message : String(e))

/** The OLS part alone, for when the logistic fit fails (perfect separation) or the full analysis cannot run. */
const olsOnly = (rows: ReadonlyArray<SteeredSample & { outcome: number }>) =>
  Either.try({
    try: () => {
      const fit = ols(rows.map((r) => r.coefficient), rows.map((r) => r.outcome), { clusters: rows.map((r) => r.task) })
      return { slope: fit.coefficients[1]!, p: fit.p[1]!, clustered: fit.cluster === undefined ? undefined : { se: fit.cluster.se[1]!, p: fit.cluster.p[1]!, tasks: fit.cluster.groups } }
    },
    catch: message
  })

const excludedOf = (rows: ReadonlyArray<SteeredSample>) => ({
  refusal: rows.filter((s) => s.outcome === null && s.tier === "refusal").length,
  failed: rows.filter((s) => s.outcome === null && s.tier !== "refusal").length
})

const answersOf = (rows: ReadonlyArray<SteeredSample>) =>
  [...new Set(rows.map((r) => r.coefficient))].sort((a, b) => a - b).map((coefficient) => {
    const group = rows.filter((r) => r.coefficient === coefficient)
    return { coefficient, total: group.length, parsed: group.filter((r) => r.outcome !== null).length, ...excludedOf(group) }
  })

const optionCurve = (options: ReadonlyArray<OptionPoint>, direction: string) =>
  options.filter((o) => o.direction === direction).sort((a, b) => a.coefficient - b.coefficient).map((o) => ({ coefficient: o.coefficient, p: o.p, n: o.n }))

/**
 * Analyses every direction's samples with `stats/steering` (falling back to the OLS slopes when the logistic fit fails
 * or the outcomes are separated; a slope of exactly 0 with p = 1 when steering changed no outcome) and attaches the
 * option curves.
 */
export const analyseDirections = (
  samples: ReadonlyArray<SteeredSample>,
  options: ReadonlyArray<OptionPoint>,
  directions: ReadonlyArray<string>
): Record<string, DirectionResult> => {
  const z = normalQuantile(0.975)
  const out: Record<string, DirectionResult> = {}
  for (const direction of directions) {
    const mine = samples.filter((s) => s.direction === direction)
    const included = mine.filter((s): s is SteeredSample & { outcome: number } => s.outcome !== null)
    const coefficients = [...new Set(included.map((s) => s.coefficient))].sort((a, b) => a - b)
    const byCoefficient = coefficients.map((c) => {
      const group = included.filter((s) => s.coefficient === c)
      const w = wilson(group.reduce((a, s) => a + s.outcome, 0), group.length)
      return { coefficient: c, p: w.p, lo: w.lo, hi: w.hi, n: w.n, successes: w.successes }
    })
    const full = Either.try({
      try: (): SteeringResult => steeringAnalysis(included.map((s) => ({ coefficient: s.coefficient, outcome: s.outcome, task: s.task }))),
      catch: message
    })
    const linear = Either.isRight(full)
      ? Either.right({ slope: full.right.ols.slope, p: full.right.ols.p, clustered: full.right.clustered })
      : olsOnly(included)
    const logit = separated(included)
      ? Either.left("outcomes are separated by the coefficient (no finite maximum-likelihood slope)")
      : Either.isRight(full)
      ? Either.right(full.right.logit)
      : Either.try({ try: () => logistic(included.map((s) => s.coefficient), included.map((s) => s.outcome)), catch: message }).pipe(
          Either.map((fit) => ({ slope: fit.coefficients[1]!, p: fit.p[1]! }))
        )
    const errors = [
      ...(Either.isLeft(linear) ? [`OLS: ${linear.left}`] : []),
      ...(Either.isLeft(logit) ? [`logistic: ${logit.left}`] : [])
    ]
    const lin = Either.getOrUndefined(linear)
    const lg = Either.getOrUndefined(logit)
    const usable = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? null : x)
    if (included.length > 0 && unchanged(included)) {
      out[direction] = {
        n: included.length,
        excluded: excludedOf(mine),
        answers: answersOf(mine),
        by_coefficient: byCoefficient,
        slope: 0, p_value: 1, clustered_p_value: 1, slope_lo: 0, slope_hi: 0,
        clustered_tasks: new Set(included.map((r) => r.task)).size,
        logit_slope: 0, logit_p_value: 1,
        option_curve: optionCurve(options, direction),
        error: "steering changed no sampled outcome (every task's sample answered alike at every coefficient)"
      }
      continue
    }
    out[direction] = {
      n: included.length,
      excluded: excludedOf(mine),
      answers: answersOf(mine),
      by_coefficient: byCoefficient,
      slope: usable(lin?.slope),
      p_value: usable(lin?.p),
      clustered_p_value: usable(lin?.clustered?.p),
      slope_lo: lin?.clustered === undefined ? null : usable(lin.slope - z * lin.clustered.se),
      slope_hi: lin?.clustered === undefined ? null : usable(lin.slope + z * lin.clustered.se),
      clustered_tasks: lin?.clustered?.tasks ?? null,
      logit_slope: usable(lg?.slope),
      logit_p_value: usable(lg?.p),
      option_curve: optionCurve(options, direction),
      error: errors.length === 0 ? null : errors.join("; ")
    }
  }
  return out
}
