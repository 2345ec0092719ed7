/**
 * summary.json `summary`:
 * {
 *   group_by: string,                      // the task column R² is split by ("origin" unless probes.groupBy says otherwise)
 *   probes: Array<{
 *     template: string, timing: "pre" | "post", layer: number,
 *     n_tasks: number, cv_r2: number,      // the probe trained on every group, and its cross-validated R² over all tasks
 *     noise_ceiling: number | null,        // the template's noise ceiling (the reliability stage's, as in every report)
 *     mean_r2: { estimate: number, lo: number, hi: number, n: number },   // mean over groups, 95% interval (normal, from the groups' intervals)
 *     by_group: Record<group, { r2: number, lo: number, hi: number, n: number }>  // out-of-fold R² within the group, 95% bootstrap interval
 *     content: Record<provider, {            // baselines on the same tasks (content.providers): see reports/contentBaselines.ts
 *       content_only: { r2: Interval, by_group: Record<group, Interval & { n }> },        // Interval = { estimate, lo, hi, resamples }
 *       content_orthogonal: { r2: Interval, by_group: Record<group, Interval & { n }>, residual_cv_r2: number }
 *     }>
 *   }>
 * }
 */
import { Effect, Schema } from "effect"
import * as Artifact from "../pipeline/Artifact"
import type { ExperimentConfig } from "../pipeline/Config"
import * as Stage from "../pipeline/Stage"
import type { ProbeEvaluation } from "../stages/probeEval"
import type { TemplateReliability } from "../stages/reliability"
import { meanOfEstimates } from "../stats/meanOfEstimates"
import { baselineCells, baselineColumns, baselineFigure, baselinesText, contentEvaluations, contentInputs } from "./contentBaselines"
import { experimentGraph, scoredTemplates } from "./experiment"
import { contentExplains, fewTasks, type Diagnostic } from "./render/diagnostics"
import { aWord, num, withInterval } from "./render/prose"
import { type Figure, intervalBarChart } from "./render/figures"
import type { Column, Table } from "./render/tables"
import { configSummary, type ReportBody, reportTarget } from "./reportTarget"

const f = (name: string): Column => ({ name, type: "float64" })
const s = (name: string): Column => ({ name, type: "utf8" })
const i = (name: string): Column => ({ name, type: "int32" })

const safeName = (name: string) => name.replace(/[^A-Za-z0-9._-]/g, "_")
const finite = (...xs: ReadonlyArray<number>) => xs.every(Number.isFinite)

/** Probe R² by task type: out-of-fold R² within each group of one probe trained on all groups, pre- and post-task side by side. */
export const probeR2Report = Stage.make({
  name: "report_probe_r2",
  version: 3,
  params: Schema.Struct({
    config: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
    timings: Schema.Record({ key: Schema.String, value: Schema.Literal("pre", "post") }),
    /** Content providers, in config order; the first one's baselines fill the main tables' content columns. */
    providers: Schema.Array(Schema.String)
  }),
  run: ({ inputs, params }) =>
    Effect.sync(() => {
      const timing = (template: string) => params.timings[template] ?? "pre"
      const byTiming = (a: string, b: string) => (timing(a) === timing(b) ? 0 : timing(a) === "pre" ? -1 : 1)
      // Pre-task templates first, so that every table and figure reads pre → post from left to right.
      const evaluations = Object.entries(inputs)
        .filter(([name]) => name.startsWith("eval:"))
        .map(([, loaded]) => loaded.json<ProbeEvaluation>("evaluation"))
        .sort((a, b) => byTiming(a.template_id, b.template_id) || a.layer - b.layer)
      const ceilings = new Map(
        Object.entries(inputs)
          .filter(([name]) => name.startsWith("reliability:"))
          .map(([, loaded]) => loaded.json<TemplateReliability>("reliability"))
          .map((r) => [r.template_id, r.noise_ceiling])
      )
      const ceiling = (template: string) => ceilings.get(template) ?? null
      const groupBy = evaluations[0]?.group_by ?? "origin"
      const content = contentEvaluations(inputs, params.providers)
      const rows = evaluations.flatMap((e) => {
        const baseline = content.of(e.template_id, e.layer, content.primary)
        return Object.entries(e.r2_by_group).map(([group, r]) => ({
          template: e.template_id, timing: timing(e.template_id), layer: e.layer, group, n: r.n,
          r2: r.estimate, r2_lo: r.lo, r2_hi: r.hi, noise_ceiling: ceiling(e.template_id),
          ...baselineCells(baseline?.content_only.r2_by_group[group], baseline?.content_orthogonal.r2_by_group[group])
        }))
      })
      const templates = [...new Set(evaluations.map((e) => e.template_id))]
      const layers = [...new Set(evaluations.map((e) => e.layer))].sort((a, b) => a - b)
      const groups = [...new Set(rows.map((r) => r.group))].sort()
      const sideBySide = layers.flatMap((layer) =>
        groups.map((group) => {
          const row: Record<string, unknown> = { layer, group }
          for (const t of templates) {
            const r = rows.find((x) => x.template === t && x.layer === layer && x.group === group)
            if (r !== undefined) Object.assign(row, { [t]: r.r2, [`${t}_lo`]: r.r2_lo, [`${t}_hi`]: r.r2_hi })
          }
          return row
        })
      )
      const probes = evaluations.map((e) => {
        const baseline = content.of(e.template_id, e.layer, content.primary)
        return {
          template: e.template_id, timing: timing(e.template_id), layer: e.layer, n: e.n_tasks, n_dropped: e.n_dropped,
          alpha: e.probe.alpha, cv_r2: e.probe.cv_r2, noise_ceiling: ceiling(e.template_id),
          ...baselineCells(baseline?.content_only.r2, baseline?.content_orthogonal.r2)
        }
      })
      const baselineRows = evaluations.flatMap((e) =>
        content.providers.flatMap((provider) => {
          const c = content.of(e.template_id, e.layer, provider)
          return c === undefined
            ? []
            : [{
                template: e.template_id, timing: timing(e.template_id), layer: e.layer, provider, n: c.n_tasks, features: c.features.dim,
                activation_cv_r2: e.probe.cv_r2, ...baselineCells(c.content_only.r2, c.content_orthogonal.r2),
                content_only_share: e.probe.cv_r2 > 0 ? c.content_only.r2.estimate / e.probe.cv_r2 : null,
                residual_alpha: c.content_orthogonal.residual.alpha, residual_cv_r2: c.content_orthogonal.residual.cv_r2
              }]
        })
      )
      const tables: Record<string, Table> = {
        byGroup: {
          name: "r2_by_group",
          columns: [s("template"), s("timing"), i("layer"), s("group"), i("n"), f("r2"), f("r2_lo"), f("r2_hi"), f("noise_ceiling"), ...(content.primary === undefined ? [] : baselineColumns)],
          rows
        },
        sideBySide: {
          name: "r2_pre_post",
          columns: [i("layer"), s("group"), ...templates.flatMap((t) => [f(t), f(`${t}_lo`), f(`${t}_hi`)])],
          rows: sideBySide
        },
        probes: {
          name: "probes",
          columns: [s("template"), s("timing"), i("layer"), i("n"), i("n_dropped"), f("alpha"), f("cv_r2"), f("noise_ceiling"), ...(content.primary === undefined ? [] : baselineColumns)],
          rows: probes
        },
        baselines: {
          name: "content_baselines",
          columns: [
            s("template"), s("timing"), i("layer"), s("provider"), i("n"), i("features"), f("activation_cv_r2"), ...baselineColumns,
            f("content_only_share"), f("residual_alpha"), f("residual_cv_r2")
          ],
          rows: baselineRows
        }
      }
      const unplotted = rows.filter((r) => !finite(r.r2, r.r2_lo, r.r2_hi))
      const figures: Figure[] = layers.flatMap((layer) => {
        const bars = rows
          .filter((r) => r.layer === layer && finite(r.r2, r.r2_lo, r.r2_hi))
          .map((r) => ({ category: r.group, group: `${r.template} (${r.timing})`, value: r.r2, lo: r.r2_lo, hi: r.r2_hi }))
        return bars.length === 0
          ? []
          : [intervalBarChart({
              name: safeName(`r2_by_${groupBy}_L${layer}`),
              title: `Probe R² by ${groupBy}, layer ${layer}`,
              subtitle: "Out-of-fold, one probe for all groups; whiskers: 95% bootstrap interval",
              rows: bars,
              categoryTitle: groupBy,
              groupTitle: "template (timing)",
              valueTitle: "R² within group"
            })]
      })
      const baselineFigures = evaluations.flatMap((e) =>
        baselineFigure({
          name: `content_baselines_${e.template_id}_L${e.layer}`,
          title: `Content baselines by ${groupBy}: ${e.template_id}, layer ${e.layer}`,
          subtitle: "Activation probe vs content-only vs content-orthogonal, out of fold; whiskers: 95% interval",
          categoryTitle: groupBy,
          valueTitle: "R² within group",
          categories: Object.entries(e.r2_by_group).map(([group, r]) => ({
            category: group,
            activation: r,
            baselines: content.providers.flatMap((provider) => {
              const c = content.of(e.template_id, e.layer, provider)
              const only = c?.content_only.r2_by_group[group], orthogonal = c?.content_orthogonal.r2_by_group[group]
              return only === undefined || orthogonal === undefined ? [] : [{ provider, contentOnly: only, contentOrthogonal: orthogonal }]
            })
          }))
        })
      )
      const diagnostics: Diagnostic[] = [
        ...fewTasks(rows.map((r) => ({ label: `${r.template} layer ${r.layer}, ${groupBy} ${r.group}`, n: r.n }))),
        ...unplotted.map((r): Diagnostic => ({
          level: "warning",
          code: "undefined-r2",
          message: `${r.template} layer ${r.layer}, ${groupBy} ${r.group}: R² or its interval is not finite (targets without spread in the group or its resamples); left out of the figure`
        })),
        ...contentExplains(baselineRows.map((b) => ({
          label: `${b.template} layer ${b.layer} (${b.provider}, out-of-fold over all tasks)`,
          activation: b.activation_cv_r2, contentOnly: b.content_only_r2 ?? NaN, contentOrthogonal: b.content_orthogonal_r2 ?? NaN
        })))
      ]
      const summary = {
        group_by: groupBy,
        probes: evaluations.map((e) => ({
          template: e.template_id,
          timing: timing(e.template_id),
          layer: e.layer,
          n_tasks: e.n_tasks,
          cv_r2: e.probe.cv_r2,
          noise_ceiling: ceiling(e.template_id),
          mean_r2: meanOfEstimates(Object.values(e.r2_by_group)),
          by_group: Object.fromEntries(Object.entries(e.r2_by_group).map(([g, r]) => [g, { r2: r.estimate, lo: r.lo, hi: r.hi, n: r.n }])),
          content: Object.fromEntries(content.providers.flatMap((provider) => {
            const c = content.of(e.template_id, e.layer, provider)
            return c === undefined
              ? []
              : [[provider, {
                  content_only: { r2: c.content_only.r2, by_group: c.content_only.r2_by_group },
                  content_orthogonal: { r2: c.content_orthogonal.r2, by_group: c.content_orthogonal.r2_by_group, residual_cv_r2: c.content_orthogonal.residual.cv_r2 }
                }]]
          }))
        }))
      }
      const body: ReportBody = {
        title: `Probe R² by ${groupBy}`,
        configSummary: params.config,
        findings: { text: probeR2Findings(evaluations.map((e) => ({ template: e.template_id, timing: timing(e.template_id), layer: e.layer, byGroup: e.r2_by_group })), groupBy, ceiling) },
        sections: [
          {
            heading: `R² within each ${groupBy}`,
            text:
              `One Ridge probe per template and layer is trained on the tasks of every ${groupBy} (alpha by cross-validation); its out-of-fold predictions are then scored within each ${groupBy} separately: ` +
              `R² = 1 − SS_res/SS_tot with the ${groupBy}'s own mean in SS_tot, so a probe that only recovers the differences between ${groupBy}s scores near zero here. ` +
              "Intervals are 95% bootstrap intervals over tasks. The noise ceiling beside each R² is the Spearman-Brown reliability of the averaged target, the most any probe of it can explain.",
            tables: [tables.byGroup!],
            figures
          },
          {
            heading: "Pre-task and post-task side by side",
            text: `The same R² with one column per template, pre-task templates first (${templates.map((t) => `${t}: ${timing(t)}`).join(", ")}).`,
            tables: [tables.sideBySide!]
          },
          { heading: "Probes", text: "The probe behind each row: tasks used (and dropped for lacking a score or activation), chosen alpha, cross-validated R² over all tasks, noise ceiling.", tables: [tables.probes!] },
          ...(content.providers.length === 0
            ? []
            : [{
                heading: "Content baselines",
                text:
                  `${baselinesText(content.providers)} The main tables' \`content_*\` columns show the first provider (${content.primary}); ` +
                  "this table shows every provider with R² out of fold over all tasks, `content_only_share` the content-only R² as a share of the activation probe's.",
                tables: [tables.baselines!],
                figures: baselineFigures
              }])
        ],
        diagnostics,
        summary
      }
      return { document: Artifact.json(body) }
    })
})

/**
 * The findings' sentences: per template, at the layer with the highest mean within-group R², the range over groups and
 * the mean against the noise ceiling; then pre-task against post-task templates.
 */
export const probeR2Findings = (
  probes: ReadonlyArray<{ template: string; timing: "pre" | "post"; layer: number; byGroup: Record<string, { estimate: number; lo: number; hi: number }> }>,
  groupBy: string,
  ceiling: (template: string) => number | null
): string => {
  const templates = [...new Set(probes.map((p) => p.template))]
  if (templates.length === 0) return "No probe could be evaluated."
  const best = templates.flatMap((template) => {
    const rows = probes
      .filter((p) => p.template === template)
      .map((p) => ({ ...p, mean: meanOfEstimates(Object.values(p.byGroup)) }))
      .filter((p) => Number.isFinite(p.mean.estimate))
    return rows.length === 0 ? [] : [rows.reduce((a, b) => (b.mean.estimate > a.mean.estimate ? b : a))]
  })
  const sentences = best.map((b) => {
    const groups = Object.entries(b.byGroup).filter(([, r]) => Number.isFinite(r.estimate)).sort((x, y) => x[1].estimate - y[1].estimate)
    const [low, high] = [groups[0]!, groups[groups.length - 1]!]
    const nc = ceiling(b.template)
    const range = `from ${num(low[1].estimate)} (${low[0]}) to ${num(high[1].estimate)} (${high[0]})`
    if (!(b.mean.estimate > 0)) {
      return `${b.template} (${b.timing}-task): no layer's probe explains variance within ${aWord(groupBy)}; the best, layer ${b.layer}, has mean R² ${withInterval(b.mean)}, ${range}.`
    }
    const share = nc === null || !(nc > 0) ? "" : `, ${Math.round((100 * b.mean.estimate) / nc)}% of the noise ceiling (${num(nc)})`
    return `${b.template} (${b.timing}-task): at layer ${b.layer}, R² within ${aWord(groupBy)} is ${withInterval(b.mean)} on average${share}, ${range}.`
  })
  const byTiming = (timing: "pre" | "post") => best.filter((b) => b.timing === timing)
  const [pre, post] = [byTiming("pre"), byTiming("post")]
  const top = (xs: typeof best) => xs.reduce((a, b) => (b.mean.estimate > a.mean.estimate ? b : a))
  const comparison =
    pre.length === 0 || post.length === 0
      ? []
      : [(() => {
          const [a, b] = [top(pre), top(post)]
          const overlap = a.mean.lo <= b.mean.hi && b.mean.lo <= a.mean.hi
          return overlap
            ? `Pre-task (${a.template}, ${num(a.mean.estimate)}) and post-task (${b.template}, ${num(b.mean.estimate)}) probes explain about as much within ${aWord(groupBy)}: their intervals overlap.`
            : `${a.mean.estimate > b.mean.estimate ? "Pre" : "Post"}-task probes explain more within ${aWord(groupBy)}: ${a.template} ${withInterval(a.mean)} against ${b.template} ${withInterval(b.mean)}.`
        })()]
  return [...sentences, ...comparison].join("\n\n")
}

/** The probe R² report's node for an experiment: every scored (non-revealed, non-ranking) template at every configured layer. */
export const probeR2Node = (config: ExperimentConfig): Stage.Node => {
  const g = experimentGraph(config)
  const inputs: Record<string, Stage.Node> = {}
  const timings: Record<string, "pre" | "post"> = {}
  for (const t of scoredTemplates(config)) {
    timings[t.id] = t.timing
    inputs[`reliability:${t.id}`] = g.reliability(t)
    for (const layer of config.activations.layers) inputs[`eval:${t.id}@${layer}`] = g.probeEval(t, layer)
  }
  Object.assign(inputs, contentInputs(g, config, scoredTemplates(config)))
  return Stage.node(probeR2Report, {
    label: "probe_r2",
    params: { config: configSummary(config), timings, providers: config.content.providers },
    inputs,
    configPaths: { providers: "content.providers" }
  })
}

/** `pipeline build reports/probe_r2`: probe R² within each task type by template and layer, with the noise ceiling. */
export const target = reportTarget("probe R² by task type and layer, pre-task vs post-task, beside the noise ceiling", probeR2Node)
