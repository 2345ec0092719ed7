import { logistic } from "./logistic"
import { ols, type Proportion, wilson } from "./regression"

/** One steered generation: the steering coefficient, whether the outcome was good (0/1), and its task. */
export interface SteeringRow {
  readonly coefficient: number
  readonly outcome: number
  readonly task?: string | number
}

/** The steering analysis of one direction. */
export interface SteeringResult {
  /** P(good) per coefficient (ascending) with Wilson 95% intervals. */
  readonly byCoefficient: (Proportion & { readonly coefficient: number })[]
  /** Linear-probability OLS of outcome on coefficient: slope, intercept, slope standard error, two-sided t p-value. */
  readonly ols: { readonly slope: number; readonly intercept: number; readonly se: number; readonly p: number }
  /** The same slope with task-clustered (CR1) standard error and p-value, when every row names a task. */
  readonly clustered?: { readonly se: number; readonly p: number; readonly tasks: number }
  /** Logistic regression of outcome on coefficient: slope, intercept, Wald standard error and p-value. */
  readonly logit: { readonly slope: number; readonly intercept: number; readonly se: number; readonly p: number }
}

/** P(good) by coefficient, the OLS linear-probability slope (plain and task-clustered) and the logistic slope. */
export const steeringAnalysis = (rows: ReadonlyArray<SteeringRow>): SteeringResult => {
  if (rows.length < 3) throw new Error(`steeringAnalysis: rows has ${rows.length} entries, need at least 3`)
  rows.forEach((r, i) => {
    if (r.outcome !== 0 && r.outcome !== 1) throw new Error(`steeringAnalysis: rows[${i}].outcome is ${r.outcome}, expected 0 or 1`)
    if (!Number.isFinite(r.coefficient)) throw new Error(`steeringAnalysis: rows[${i}].coefficient is not finite`)
  })
  const coefficients = [...new Set(rows.map((r) => r.coefficient))].sort((a, b) => a - b)
  const byCoefficient = coefficients.map((c) => {
    const group = rows.filter((r) => r.coefficient === c)
    return { coefficient: c, ...wilson(group.reduce((s, r) => s + r.outcome, 0), group.length) }
  })
  const x = rows.map((r) => r.coefficient), y = rows.map((r) => r.outcome)
  const withTasks = rows.every((r) => r.task !== undefined)
  const fit = ols(x, y, withTasks ? { clusters: rows.map((r) => r.task!) } : {})
  const logit = logistic(x, y)
  return {
    byCoefficient,
    ols: { slope: fit.coefficients[1]!, intercept: fit.coefficients[0]!, se: fit.se[1]!, p: fit.p[1]! },
    ...(fit.cluster === undefined ? {} : { clustered: { se: fit.cluster.se[1]!, p: fit.cluster.p[1]!, tasks: fit.cluster.groups } }),
    logit: { slope: logit.coefficients[1]!, intercept: logit.coefficients[0]!, se: logit.se[1]!, p: logit.p[1]! }
  }
}

/** `steeringAnalysis` for each direction of rows labelled with a direction. */
export const steeringByDirection = (rows: ReadonlyArray<SteeringRow & { readonly direction: string }>): Record<string, SteeringResult> => {
  const out: Record<string, SteeringResult> = {}
  for (const direction of [...new Set(rows.map((r) => r.direction))].sort()) out[direction] = steeringAnalysis(rows.filter((r) => r.direction === direction))
  return out
}
