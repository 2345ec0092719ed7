import { type Correlation, pearsonWithInterval } from "./metrics"
import { ols } from "./regression"

/** One task's mean score under one template. */
export interface TemplateScore {
  readonly template: string
  readonly task: string
  readonly value: number
}

/** A template's declared rating range. */
export interface ScaleRange {
  readonly min: number
  readonly max: number
}

/** Agreement of two templates over the tasks both scored (values normalized to 0-1 by each template's own range). */
export interface TemplatePair {
  readonly a: string
  readonly b: string
  readonly correlation: Correlation
  /** OLS of b's normalized values on a's. */
  readonly slope: number
  readonly intercept: number
}

const normalizer = (fn: string, ranges: Readonly<Record<string, ScaleRange>>) => (template: string, value: number) => {
  const range = ranges[template]
  if (range === undefined) throw new Error(`${fn}: ranges has no declared range for template "${template}"`)
  if (!(range.max > range.min)) throw new Error(`${fn}: range of template "${template}" is empty (${range.min}..${range.max})`)
  return (value - range.min) / (range.max - range.min)
}

/** For every pair of templates (sorted by name), Pearson r with n and Fisher interval and the OLS line of one on the other. */
export const templatePairs = (scores: ReadonlyArray<TemplateScore>, ranges: Readonly<Record<string, ScaleRange>>): TemplatePair[] => {
  const normalize = normalizer("templatePairs", ranges)
  const byTemplate = new Map<string, Map<string, number>>()
  for (const s of scores) {
    const m = byTemplate.get(s.template) ?? new Map<string, number>()
    if (m.has(s.task)) throw new Error(`templatePairs: template "${s.template}" has two scores for task "${s.task}"`)
    m.set(s.task, normalize(s.template, s.value))
    byTemplate.set(s.template, m)
  }
  const names = [...byTemplate.keys()].sort()
  const out: TemplatePair[] = []
  for (let i = 0; i < names.length; i++) for (let j = i + 1; j < names.length; j++) {
    const ma = byTemplate.get(names[i]!)!, mb = byTemplate.get(names[j]!)!
    const common = [...ma.keys()].filter((t) => mb.has(t)).sort()
    if (common.length < 3) continue
    const xa = common.map((t) => ma.get(t)!), xb = common.map((t) => mb.get(t)!)
    const fit = ols(xa, xb)
    out.push({ a: names[i]!, b: names[j]!, correlation: pearsonWithInterval(xa, xb), slope: fit.coefficients[1]!, intercept: fit.coefficients[0]! })
  }
  return out
}

/** A rating with the category and dataset of its task. */
export interface CategorizedScore extends TemplateScore {
  readonly category: string
  readonly dataset: string
}

/** Mean normalized rating and count by category × dataset, each template normalized by its own declared range. */
export const normalizedMeans = (
  scores: ReadonlyArray<CategorizedScore>, ranges: Readonly<Record<string, ScaleRange>>
): { category: string; dataset: string; mean: number; n: number }[] => {
  const normalize = normalizer("normalizedMeans", ranges)
  const cells = new Map<string, { category: string; dataset: string; sum: number; n: number }>()
  for (const s of scores) {
    const key = JSON.stringify([s.category, s.dataset])
    const cell = cells.get(key) ?? { category: s.category, dataset: s.dataset, sum: 0, n: 0 }
    cell.sum += normalize(s.template, s.value)
    cell.n += 1
    cells.set(key, cell)
  }
  return [...cells.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, c]) => ({ category: c.category, dataset: c.dataset, mean: c.sum / c.n, n: c.n }))
}
