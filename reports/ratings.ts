/**
 * `pipeline build reports/ratings`: mean normalized ratings by category (qualitative, stated, open-ended) × dataset.
 *
 * summary.json `summary`:
 * - `cells[]`: `{ category, dataset, mean, lo, hi, n, n_tasks }`: mean of every parsed answer of the category's templates
 *   on the tasks of the dataset, each answer mapped to 0-1 by its own template's declared range, with a 95% bootstrap
 *   interval over tasks; `n` counts answers
 * - `templates[]`: `{ template, category, range: { min, max }, answers, failed, by_dataset: { <dataset>: { mean, lo, hi, n } } }`
 * - `dataset_order`: `{ <category>: [datasets from the highest mean to the lowest] }`; categories that order the
 *   datasets differently disagree about which tasks the model prefers
 */
import { Effect, Schema } from "effect"
import * as Artifact from "../pipeline/Artifact"
import type { ExperimentConfig } from "../pipeline/Config"
import * as Stage from "../pipeline/Stage"
import { fromTable } from "../stages/tables"
import { taskRows } from "../stages/taskRows"
import { bootstrapByTask } from "../stats/bootstrap"
import { normalizedMeans } from "../stats/templateScales"
import { experimentGraph } from "./experiment"
import { collapse, type Diagnostic, parseFailures, modelDiagnostics } from "./render/diagnostics"
import { categoryBarChart, type Figure } from "./render/figures"
import type { Table } from "./render/tables"
import { configSummary, type ReportBody, reportTarget } from "./reportTarget"
import { ScaleTemplate, scaleTemplates, taskMeans } from "./template_scales"

const f = (name: string) => ({ name, type: "float64" as const })
const s = (name: string) => ({ name, type: "utf8" as const })
const i = (name: string) => ({ name, type: "int32" as const })

interface Answer {
  readonly template: string
  readonly task: string
  readonly category: string
  readonly dataset: string
  readonly value: number
}

const finiteOrNull = (x: number) => (Number.isFinite(x) ? x : null)

/**
 * Mean of the normalized answers with a bootstrap interval over tasks; the mean itself comes from `normalizedMeans`,
 * the interval from resampling the tasks of the same answers.
 */
const cellStatistics = (answers: ReadonlyArray<Answer>, ranges: Record<string, { min: number; max: number }>, bootstrap: { resamples: number; seed: number }) => {
  const [cell] = normalizedMeans(answers, ranges)
  const normalized = answers.map((a) => (a.value - ranges[a.template]!.min) / (ranges[a.template]!.max - ranges[a.template]!.min))
  const interval = bootstrapByTask(answers.map((a) => a.task), (rows) => {
    let sum = 0
    for (const r of rows) sum += normalized[r]!
    return sum / rows.length
  }, bootstrap)
  return { mean: cell!.mean, lo: finiteOrNull(interval.lo), hi: finiteOrNull(interval.hi), n: cell!.n, n_tasks: new Set(answers.map((a) => a.task)).size }
}

/** Mean normalized rating by category × dataset and by template × dataset, with collapse and parse-failure checks. */
export const ratingsReport = Stage.make({
  name: "report_ratings",
  version: 1,
  params: Schema.Struct({
    config: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
    templates: Schema.Array(ScaleTemplate),
    bootstrap: Schema.Int,
    seed: Schema.Int
  }),
  run: ({ inputs, params }) =>
    Effect.sync(() => {
      const origin = new Map(taskRows(inputs.tasks!.table("tasks")).map((t) => [t.task_id, t.origin]))
      const ranges = Object.fromEntries(params.templates.map((t) => [t.id, { min: t.min, max: t.max }]))
      const bootstrap = { resamples: params.bootstrap, seed: params.seed }
      const loaded = params.templates.map((t) => ({
        template: t,
        rows: fromTable<{ task_id: string; value: number | null; tier: string }>(inputs[`scores:${t.id}`]!.table("scores"))
      }))
      const answers: Answer[] = loaded.flatMap(({ template, rows }) =>
        rows.flatMap((r) => (r.value === null ? [] : [{ template: template.id, task: r.task_id, category: template.kind, dataset: origin.get(r.task_id) ?? "(unknown)", value: r.value }]))
      )
      const categories = [...new Set(params.templates.map((t) => t.kind))]
      const datasets = [...new Set(answers.map((a) => a.dataset))].sort()
      const cells = categories.flatMap((category) =>
        datasets.flatMap((dataset) => {
          const inCell = answers.filter((a) => a.category === category && a.dataset === dataset)
          return inCell.length === 0 ? [] : [{ category, dataset, ...cellStatistics(inCell, ranges, bootstrap) }]
        })
      )
      const templates = loaded.map(({ template, rows }) => {
        const own = answers.filter((a) => a.template === template.id)
        const byDataset = Object.fromEntries(
          datasets.flatMap((dataset) => {
            const inCell = own.filter((a) => a.dataset === dataset)
            if (inCell.length === 0) return []
            const { mean, lo, hi, n } = cellStatistics(inCell, ranges, bootstrap)
            return [[dataset, { mean, lo, hi, n }]]
          })
        )
        return {
          template: template.id, category: template.kind, range: { min: template.min, max: template.max },
          answers: rows.length, failed: rows.filter((r) => r.tier === "failed").length, by_dataset: byDataset
        }
      })
      const datasetOrder = Object.fromEntries(
        categories.map((category) => [category, cells.filter((c) => c.category === category).sort((a, b) => b.mean - a.mean).map((c) => c.dataset)])
      )

      const cellTable: Table = {
        name: "by_category",
        columns: [s("category"), s("dataset"), i("n"), i("n_tasks"), f("mean"), f("mean_lo"), f("mean_hi")],
        rows: cells.map((c) => ({ category: c.category, dataset: c.dataset, n: c.n, n_tasks: c.n_tasks, mean: c.mean, mean_lo: c.lo, mean_hi: c.hi }))
      }
      const templateTable: Table = {
        name: "by_template",
        columns: [s("template"), s("category"), s("dataset"), i("n"), f("mean"), f("mean_lo"), f("mean_hi")],
        rows: templates.flatMap((t) =>
          Object.entries(t.by_dataset).map(([dataset, c]) => ({ template: t.template, category: t.category, dataset, n: c.n, mean: c.mean, mean_lo: c.lo, mean_hi: c.hi }))
        )
      }
      const parsingTable: Table = {
        name: "templates",
        columns: [s("template"), s("category"), f("range_min"), f("range_max"), i("answers"), i("failed")],
        rows: templates.map((t) => ({ template: t.template, category: t.category, range_min: t.range.min, range_max: t.range.max, answers: t.answers, failed: t.failed }))
      }
      const meansTable: Table = {
        name: "task_means",
        columns: [s("template"), s("task_id"), s("dataset"), i("n"), f("value"), f("normalized")],
        rows: params.templates.flatMap((t) =>
          taskMeans(t, answers.filter((a) => a.template === t.id).map((a) => ({ task_id: a.task, value: a.value }))).map((m) => ({
            template: m.template, task_id: m.task_id, dataset: origin.get(m.task_id) ?? "(unknown)", n: m.n, value: m.value, normalized: m.normalized
          }))
        )
      }
      const figures: Figure[] = cells.length === 0
        ? []
        : [categoryBarChart({
            name: "by_category",
            title: "Mean normalized rating by category and dataset",
            subtitle: "Each answer on its template's own 0-1 scale; whiskers: 95% bootstrap interval over tasks",
            rows: cells.map((c) => ({ category: c.category, dataset: c.dataset, value: c.mean, ...(c.lo === null || c.hi === null ? {} : { lo: c.lo, hi: c.hi }) })),
            categoryTitle: "category", datasetTitle: "dataset", valueTitle: "mean normalized rating", valueDomain: [0, 1]
          })]
      const diagnostics: Diagnostic[] = [
        ...collapse(loaded.map(({ template, rows }) => ({ templateId: template.id, values: rows.map((r) => r.value) }))),
        ...parseFailures(templates.map((t) => ({ templateId: t.template, failed: t.failed, total: t.answers }))),
        ...modelDiagnostics(inputs)
      ]
      const body: ReportBody = {
        title: "Ratings by category and dataset",
        configSummary: params.config,
        sections: [
          {
            heading: "Category × dataset",
            text:
              "Every parsed answer is mapped to 0-1 by its own template's declared range (a good/bad answer by its options' values, a 1-10 rating by 1..10, an open-ended valence by its range), never by one shared constant, " +
              "then averaged over the templates of a category and the tasks of a dataset. Intervals resample tasks. " +
              "Read across a row: a dataset rated high by one category and low by another (say adversarial requests called good when asked qualitatively but rated low when stated) is a paradox of elicitation, not of the tasks. " +
              `Datasets from highest to lowest mean: ${Object.entries(datasetOrder).map(([c, order]) => `${c}: ${order.join(" > ")}`).join("; ")}.`,
            tables: [cellTable],
            figures
          },
          { heading: "By template", text: "The same means per template, so a category's mean can be traced to the templates behind it.", tables: [templateTable] },
          { heading: "Parsing", text: "Answers per template and how many failed to parse (failures are left out of every mean).", tables: [parsingTable] },
          { heading: "Task means", tables: [meansTable] }
        ],
        diagnostics,
        summary: {
          cells: cells.map((c) => ({ category: c.category, dataset: c.dataset, mean: c.mean, lo: c.lo, hi: c.hi, n: c.n, n_tasks: c.n_tasks })),
          templates,
          dataset_order: datasetOrder
        }
      }
      return { document: Artifact.json(body) }
    })
})

/** `pipeline build reports/ratings`: mean normalized ratings by category × dataset with intervals and diagnostics. */
export const target = reportTarget("ratings: mean normalized rating by category × dataset, per template, with collapse and parse-failure checks", (config: ExperimentConfig) => {
  const g = experimentGraph(config)
  const scored = scaleTemplates(config)
  const inputs: Record<string, Stage.Node> = { tasks: g.tasks }
  for (const { template } of scored) inputs[`scores:${template.id}`] = g.scores(template)
  return Stage.node(ratingsReport, {
    label: "ratings",
    params: { config: configSummary(config) as Record<string, unknown>, templates: scored.map((x) => x.scale), bootstrap: config.probes.bootstrap, seed: config.seed },
    inputs
  })
})
