/**
 * summary.json `summary`:
 * {
 *   templates: Array<{
 *     template: string, kind: string,
 *     total: number,                                         // answers parsed (tasks × samples, × pairs × orders for revealed)
 *     tiers: { exact: number, refusal: number, model: number, failed: number },
 *     failures: Record<reason, number>,                      // failed answers by the parser's reason
 *     failure_rate: { p: number, lo: number, hi: number },   // failed / total with a Wilson 95% interval
 *     top_value: number | null, top_share: number | null     // the most frequent parsed value and its share of parsed answers (null for revealed)
 *   }>
 * }
 */
import { Effect, Schema } from "effect"
import { type ParseTier, parseReport } from "../elicitation/parse/Parse"
import * as Artifact from "../pipeline/Artifact"
import type { ExperimentConfig } from "../pipeline/Config"
import * as Stage from "../pipeline/Stage"
import { fromTable } from "../stages/tables"
import { wilson } from "../stats/regression"
import { experimentGraph } from "./experiment"
import { collapse, type Diagnostic, parseFailures, positionBias, modelDiagnostics } from "./render/diagnostics"
import { categoryBarChart, type Figure } from "./render/figures"
import type { Column, Table } from "./render/tables"
import { configSummary, type ReportBody, reportTarget } from "./reportTarget"

const f = (name: string): Column => ({ name, type: "float64" })
const s = (name: string): Column => ({ name, type: "utf8" })
const i = (name: string): Column => ({ name, type: "int32" })

const TIERS: ReadonlyArray<ParseTier> = ["exact", "refusal", "model", "failed"]

interface ScoreRow {
  readonly template_id: string
  readonly value: number | null
  readonly tier: ParseTier
  readonly reason: string | null
  readonly order: "ab" | "ba" | null
}

/** The most frequent non-null value and its share of the non-null values; nulls when there are none. */
export const topValue = (values: ReadonlyArray<number | null>): { value: number | null; share: number | null } => {
  const counts = new Map<number, number>()
  for (const v of values) if (v !== null) counts.set(v, (counts.get(v) ?? 0) + 1)
  const total = [...counts.values()].reduce((a, b) => a + b, 0)
  if (total === 0) return { value: null, share: null }
  const [value, count] = [...counts.entries()].reduce((a, b) => (b[1] > a[1] ? b : a))
  return { value, share: count / total }
}

/** Parsing quality per template: which tier decided each answer, why answers failed, and answers collapsing onto one value. */
export const parsingReport = Stage.make({
  name: "report_parsing",
  version: 1,
  params: Schema.Struct({
    config: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
    kinds: Schema.Record({ key: Schema.String, value: Schema.String })
  }),
  run: ({ inputs, params }) =>
    Effect.sync(() => {
      const scores = Object.entries(inputs)
        .filter(([name]) => name.startsWith("scores:"))
        .map(([name, loaded]) => ({ template: name.slice("scores:".length), rows: fromTable<ScoreRow>(loaded.table("scores")) }))
      const kindOf = (template: string) => params.kinds[template] ?? "unknown"
      const reports = parseReport(scores.flatMap((t) => t.rows.map((r) => ({ template_id: t.template, tier: r.tier, reason: r.reason }))))
      const templates = reports.map((r) => {
        // A revealed value says which of the pair was chosen, balanced by showing both orders: its spread says nothing about discrimination.
        const top = kindOf(r.template_id) === "revealed"
          ? { value: null, share: null }
          : topValue(scores.find((t) => t.template === r.template_id)!.rows.map((x) => x.value))
        const rate = wilson(r.tiers.failed, r.total)
        return {
          template: r.template_id,
          kind: kindOf(r.template_id),
          total: r.total,
          tiers: r.tiers,
          failures: r.failures,
          failure_rate: { p: rate.p, lo: rate.lo, hi: rate.hi },
          top_value: top.value,
          top_share: top.share
        }
      })
      const tiersTable: Table = {
        name: "tiers",
        columns: [s("template"), s("kind"), i("total"), ...TIERS.map(i), f("failure_rate"), f("failure_rate_lo"), f("failure_rate_hi"), f("top_value"), f("top_share")],
        rows: templates.map((t) => ({
          template: t.template, kind: t.kind, total: t.total, ...t.tiers,
          failure_rate: t.failure_rate.p, failure_rate_lo: t.failure_rate.lo, failure_rate_hi: t.failure_rate.hi,
          top_value: t.top_value, top_share: t.top_share
        }))
      }
      const failuresTable: Table = {
        name: "failures",
        columns: [s("template"), s("reason"), i("count"), f("share_of_answers")],
        rows: templates.flatMap((t) =>
          Object.entries(t.failures)
            .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
            .map(([reason, count]) => ({ template: t.template, reason, count, share_of_answers: count / t.total }))
        )
      }
      const figures: Figure[] = templates.length === 0
        ? []
        : [categoryBarChart({
            name: "tiers",
            title: "Which tier parsed each answer",
            subtitle: "Share of each template's answers",
            rows: templates.flatMap((t) => TIERS.map((tier) => ({ category: t.template, dataset: tier, value: t.tiers[tier] / t.total }))),
            categoryTitle: "template",
            datasetTitle: "tier",
            valueTitle: "share of answers",
            valueDomain: [0, 1]
          })]
      const revealed = scores.filter((t) => kindOf(t.template) === "revealed")
      const diagnostics: Diagnostic[] = [
        ...modelDiagnostics(inputs),
        ...parseFailures(templates.map((t) => ({ templateId: t.template, failed: t.tiers.failed, total: t.total }))),
        ...collapse(scores.filter((t) => kindOf(t.template) !== "revealed").map((t) => ({ templateId: t.template, values: t.rows.map((r) => r.value) }))),
        // A revealed row's value is 1 when its own task was chosen; it was shown first when the order is "ab".
        ...positionBias(revealed.map((t) => {
          const decided = t.rows.filter((r) => r.value !== null && r.order !== null)
          return {
            label: t.template,
            chooseFirst: decided.filter((r) => (r.value === 1) === (r.order === "ab")).length,
            total: decided.length
          }
        }))
      ]
      const body: ReportBody = {
        title: "Parsing of elicited answers",
        configSummary: params.config,
        sections: [
          {
            heading: "Tiers",
            text:
              "Every answer is parsed in tiers: exact (the template's patterns or lexicon), refusal (the model declined), model (a parsing model or judge read it), failed (nobody could). " +
              "The failure rate carries a Wilson 95% interval; a rate above 10% is flagged, since the scores left are biased towards answers that are easy to parse. " +
              "`top_share` is the share of parsed answers on the single most frequent value; above 60% the template barely discriminates between tasks.",
            tables: [tiersTable],
            figures
          },
          {
            heading: "Failure reasons",
            text: failuresTable.rows.length === 0 ? "No answer failed to parse." : "Why answers failed, most frequent first.",
            tables: failuresTable.rows.length === 0 ? [] : [failuresTable]
          }
        ],
        diagnostics,
        summary: { templates }
      }
      return { document: Artifact.json(body) }
    })
})

/** The parsing report's node for an experiment: every template whose answers are parsed into scores (all but ranking). */
export const parsingNode = (config: ExperimentConfig): Stage.Node => {
  const g = experimentGraph(config)
  const inputs: Record<string, Stage.Node> = {}
  const kinds: Record<string, string> = {}
  for (const t of config.templates) {
    if (t.kind === "ranking") continue
    kinds[t.id] = t.kind
    inputs[`scores:${t.id}`] = g.scores(t)
  }
  return Stage.node(parsingReport, { label: "parsing", params: { config: configSummary(config), kinds }, inputs })
}

/** `pipeline build reports/parsing`: tier counts, failure reasons, failure rates and collapse per template. */
export const target = reportTarget("parse tiers, failure reasons and rates, and answer collapse per template", parsingNode)
