/**
 * `pipeline build reports/template_scales`: how the scored templates' scales relate to each other.
 *
 * summary.json `summary`:
 * - `templates[]`: `{ template, kind, range: { min, max }, n_tasks }` for every scored (qualitative, stated, open-ended) template
 * - `pairs[]`: `{ a, b, n, r, lo, hi, slope, intercept }` for every pair of templates (a < b by id) over the tasks both
 *   scored (at least 3): Pearson r of the task means on the 0-1 scale (each template normalized by its own declared range)
 *   with its Fisher 95% interval, and the OLS line of b's normalized task means on a's
 * - `slope_vs_r`: `{ n, pearson_r, slope, intercept }` across pairs: how the OLS slope follows the correlation (null
 *   with fewer than 3 pairs)
 */
import { Effect, Schema } from "effect"
import type { Template } from "../elicitation/Template"
import { templateRange } from "../elicitation/Template"
import * as Artifact from "../pipeline/Artifact"
import type { ExperimentConfig } from "../pipeline/Config"
import * as Stage from "../pipeline/Stage"
import { fromTable } from "../stages/tables"
import { pearson } from "../stats/metrics"
import { ols } from "../stats/regression"
import { templatePairs } from "../stats/templateScales"
import { experimentGraph } from "./experiment"
import { type Diagnostic, fewTasks, orientation, modelDiagnostics } from "./render/diagnostics"
import { type Figure, heatmap, scatterWithFit } from "./render/figures"
import type { Table } from "./render/tables"
import { configSummary, type ReportBody, reportTarget } from "./reportTarget"

const f = (name: string) => ({ name, type: "float64" as const })
const s = (name: string) => ({ name, type: "utf8" as const })
const i = (name: string) => ({ name, type: "int32" as const })

/** A scored template as the scale reports need it: id, kind and declared range. */
export const ScaleTemplate = Schema.Struct({ id: Schema.String, kind: Schema.String, min: Schema.Number, max: Schema.Number })
/** A scored template's id, kind and declared range. */
export type ScaleTemplate = typeof ScaleTemplate.Type

/** One task's mean parsed answer under one template. */
export interface TaskMean {
  readonly template: string
  readonly task_id: string
  /** Mean of the parsed values on the template's own scale. */
  readonly value: number
  /** The same mean mapped to 0-1 by the template's declared range. */
  readonly normalized: number
  /** Parsed answers averaged. */
  readonly n: number
}

/** The templates whose answers are one number per task (qualitative, stated, open-ended), with their declared ranges. */
export const scaleTemplates = (config: ExperimentConfig): Array<{ template: Template; scale: ScaleTemplate }> =>
  config.templates.flatMap((t) => {
    if (t.kind === "revealed" || t.kind === "ranking") return []
    const range = templateRange(t)
    return [{ template: t, scale: { id: t.id, kind: t.kind, min: range.min, max: range.max } }]
  })

/** Per task, the mean of the parsed (non-null) values of one template's scores table, sorted by task id. */
export const taskMeans = (template: ScaleTemplate, rows: ReadonlyArray<{ task_id: string; value: number | null }>): TaskMean[] => {
  const sums = new Map<string, { sum: number; n: number }>()
  for (const r of rows) {
    if (r.value === null) continue
    const cell = sums.get(r.task_id) ?? { sum: 0, n: 0 }
    cell.sum += r.value
    cell.n += 1
    sums.set(r.task_id, cell)
  }
  return [...sums.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([task_id, { sum, n }]) => ({
      template: template.id, task_id, value: sum / n, normalized: (sum / n - template.min) / (template.max - template.min), n
    }))
}

const finiteOrNull = (x: number) => (Number.isFinite(x) ? x : null)

/** Every scored template's scale against every other: Pearson r and OLS slope of normalized task means, per pair. */
export const templateScalesReport = Stage.make({
  name: "report_template_scales",
  version: 2,
  params: Schema.Struct({ config: Schema.Record({ key: Schema.String, value: Schema.Unknown }), templates: Schema.Array(ScaleTemplate) }),
  run: ({ inputs, params }) =>
    Effect.sync(() => {
      const means = params.templates.map((t) => ({ template: t, means: taskMeans(t, fromTable<{ task_id: string; value: number | null }>(inputs[`scores:${t.id}`]!.table("scores"))) }))
      const ranges = Object.fromEntries(params.templates.map((t) => [t.id, { min: t.min, max: t.max }]))
      const pairs = templatePairs(means.flatMap((m) => m.means.map((x) => ({ template: x.template, task: x.task_id, value: x.value }))), ranges)
      const pairRows = pairs.map((p) => ({
        a: p.a, b: p.b, n: p.correlation.n, r: finiteOrNull(p.correlation.r), lo: finiteOrNull(p.correlation.lo), hi: finiteOrNull(p.correlation.hi),
        slope: finiteOrNull(p.slope), intercept: finiteOrNull(p.intercept)
      }))
      const related = pairRows.filter((p) => p.r !== null && p.slope !== null)
      const slopeVsR = related.length >= 3
        ? (() => {
            const fit = ols(related.map((p) => p.r!), related.map((p) => p.slope!))
            return { n: related.length, pearson_r: finiteOrNull(pearson(related.map((p) => p.r!), related.map((p) => p.slope!))), slope: fit.coefficients[1]!, intercept: fit.coefficients[0]! }
          })()
        : null

      const kindOf = new Map(params.templates.map((t) => [t.id, t.kind]))
      const pairsTable: Table = {
        name: "template_pairs",
        columns: [s("a"), s("b"), s("kind_a"), s("kind_b"), i("n"), f("r"), f("r_lo"), f("r_hi"), f("slope"), f("intercept")],
        rows: pairRows.map((p) => ({ a: p.a, b: p.b, kind_a: kindOf.get(p.a)!, kind_b: kindOf.get(p.b)!, n: p.n, r: p.r, r_lo: p.lo, r_hi: p.hi, slope: p.slope, intercept: p.intercept }))
      }
      const templatesTable: Table = {
        name: "templates",
        columns: [s("template"), s("kind"), f("range_min"), f("range_max"), i("n_tasks")],
        rows: means.map((m) => ({ template: m.template.id, kind: m.template.kind, range_min: m.template.min, range_max: m.template.max, n_tasks: m.means.length }))
      }
      const meansTable: Table = {
        name: "task_means",
        columns: [s("template"), s("task_id"), i("n"), f("value"), f("normalized")],
        rows: means.flatMap((m) => m.means.map((x) => ({ template: x.template, task_id: x.task_id, n: x.n, value: x.value, normalized: x.normalized })))
      }

      const figures: Figure[] = []
      // The diagonal goes first, in id order, so rows and columns list the templates in the same order.
      const ids = means.map((m) => m.template.id).sort()
      const cells = [
        ...ids.map((id) => ({ row: id, column: id, value: 1 })),
        ...pairRows.flatMap((p) => (p.r === null ? [] : [{ row: p.a, column: p.b, value: p.r }, { row: p.b, column: p.a, value: p.r }]))
      ]
      if (pairRows.length > 0) {
        figures.push(heatmap({
          name: "correlations", title: "Pearson r between templates' task means",
          subtitle: "Over the tasks both templates scored, each on its own 0-1 scale",
          cells, rowTitle: "template", columnTitle: "template", valueTitle: "r", domain: [-1, 1], format: ".2f"
        }))
      }
      if (related.length >= 3) {
        figures.push(scatterWithFit({
          name: "slope_vs_r", title: "OLS slope vs Pearson r across template pairs",
          subtitle: `${related.length} pairs; a slope far from r means the two scales stretch differently`,
          points: related.map((p) => ({ x: p.r!, y: p.slope!, ...(related.length <= 6 ? { label: `${p.a} / ${p.b}` } : {}), ...(p.lo === null || p.hi === null ? {} : { xLo: p.lo, xHi: p.hi }) })),
          xTitle: "Pearson r (normalized task means)", yTitle: "OLS slope of b on a", pointsLabel: "template pair", identityLine: true
        }))
      }

      // Every scored template claims the same construct: higher means better for the model.
      const diagnostics: Diagnostic[] = [
        ...orientation(means.map((m) => ({ templateId: m.template.id, construct: "valence", taskMeans: new Map(m.means.map((x) => [x.task_id, x.normalized])) }))),
        ...fewTasks(pairRows.map((p) => ({ label: `${p.a} vs ${p.b}`, n: p.n }))),
        ...modelDiagnostics(inputs)
      ]
      const summary = {
        templates: means.map((m) => ({ template: m.template.id, kind: m.template.kind, range: { min: m.template.min, max: m.template.max }, n_tasks: m.means.length })),
        pairs: pairRows,
        slope_vs_r: slopeVsR
      }
      const body: ReportBody = {
        title: "Template scales: how the templates' ratings relate",
        configSummary: params.config,
        sections: [
          {
            heading: "Templates",
            text: "Each template's answers are mapped to 0-1 by its own declared range (options' values, the rating scale, or the open-ended range), never by one shared constant; a task's score is the mean of its parsed answers.",
            tables: [templatesTable]
          },
          {
            heading: "Pairs of templates",
            text:
              "For every pair, over the tasks both templates scored: Pearson r of the normalized task means with its Fisher 95% interval, and the OLS line of b's means on a's. " +
              "r says whether the templates rank tasks alike; the slope says how far b moves per unit of a. Two templates can correlate well yet stretch the scale differently (slope far from 1), which matters whenever their scores are compared or pooled.",
            tables: [pairsTable],
            figures: figures.filter((x) => x.name === "correlations")
          },
          {
            heading: "Slope vs correlation",
            text:
              slopeVsR === null
                ? "Needs at least three template pairs."
                : `Across ${slopeVsR.n} pairs, the OLS slope follows r with slope ${slopeVsR.slope.toFixed(3)} (Pearson r ${slopeVsR.pearson_r === null ? "undefined" : slopeVsR.pearson_r.toFixed(3)}). Points on y = x are pairs whose scales have equal spread.`,
            figures: figures.filter((x) => x.name === "slope_vs_r")
          },
          { heading: "Task means", tables: [meansTable] }
        ],
        diagnostics,
        summary
      }
      return { document: Artifact.json(body) }
    })
})

/** `pipeline build reports/template_scales`: correlation and slope of every pair of scored templates. */
export const target = reportTarget("template scales: Pearson r and OLS slope of every pair of scored templates", (config: ExperimentConfig) => {
  const g = experimentGraph(config)
  const scored = scaleTemplates(config)
  const inputs = Object.fromEntries(scored.map(({ template }) => [`scores:${template.id}`, g.scores(template)]))
  return Stage.node(templateScalesReport, {
    label: "template_scales",
    params: { config: configSummary(config) as Record<string, unknown>, templates: scored.map((x) => x.scale) },
    inputs
  })
})
