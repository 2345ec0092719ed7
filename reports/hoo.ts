/**
 * summary.json `summary`:
 * {
 *   group_by: string,                      // the task column held out ("origin" unless probes.groupBy says otherwise)
 *   probes: Array<{
 *     template: string, layer: number,
 *     cv_r2: number,                       // the probe trained on every group: cross-validated R² over all tasks
 *     noise_ceiling: number | null,        // the template's noise ceiling (the reliability stage's, as in every report)
 *     single_sample_r: { estimate, lo, hi } | null,
 *     mean_held_out: {                     // averaged over the held-out groups, 95% interval (normal, from the groups' intervals)
 *       r2, r2_mean_adjusted, pearson_r: { estimate: number, lo: number, hi: number, n: number }   // n: groups averaged
 *     },
 *     held_out: Record<group, { r2, r2_mean_adjusted, pearson_r: { estimate, lo, hi, resamples }, train_cv_r2: number, n: number }>,
 *     train2test2: Record<"a+b", same as held_out> | null   // with exactly four groups
 *   }>
 * }
 */
import { Effect, Schema } from "effect"
import * as Artifact from "../pipeline/Artifact"
import type { ExperimentConfig } from "../pipeline/Config"
import * as Stage from "../pipeline/Stage"
import type { ProbeEvaluation } from "../stages/probeEval"
import type { TemplateReliability } from "../stages/reliability"
import { fromTable } from "../stages/tables"
import { type EstimateMean, meanOfEstimates } from "../stats/meanOfEstimates"
import { cosine } from "../stats/metrics"
import { baselineCells, baselineColumns, baselineFigure, baselinesText, contentEvaluations, contentInputs } from "./contentBaselines"
import { experimentGraph, scoredTemplates } from "./experiment"
import { collapse, contentExplains, fewTasks, modelDiagnostics, parseFailures, parseNotice, type Diagnostic } from "./render/diagnostics"
import { intervalBarChart, scatterWithFit } from "./render/figures"
import { aWord, count, num, side, withInterval } from "./render/prose"
import type { Table } from "./render/tables"
import { configSummary, type ReportBody, reportTarget } from "./reportTarget"

type HeldOutJson = ProbeEvaluation["hoo"][string]

const f = (name: string) => ({ name, type: "float64" as const })
const s = (name: string) => ({ name, type: "utf8" as const })
const i = (name: string) => ({ name, type: "int32" as const })

const heldOutColumns = [
  f("r2"), f("r2_lo"), f("r2_hi"), f("r2_mean_adjusted"), f("r2_mean_adjusted_lo"), f("r2_mean_adjusted_hi"),
  f("pearson_r"), f("pearson_r_lo"), f("pearson_r_hi"), f("train_cv_r2"), f("alpha")
]
const heldOutRow = (h: HeldOutJson) => ({
  n: h.n_test,
  r2: h.r2.estimate, r2_lo: h.r2.lo, r2_hi: h.r2.hi,
  r2_mean_adjusted: h.r2_mean_adjusted.estimate, r2_mean_adjusted_lo: h.r2_mean_adjusted.lo, r2_mean_adjusted_hi: h.r2_mean_adjusted.hi,
  pearson_r: h.pearson_r.estimate, pearson_r_lo: h.pearson_r.lo, pearson_r_hi: h.pearson_r.hi,
  train_cv_r2: h.train_cv_r2, alpha: h.alpha
})

const interval = (x: { estimate: number; lo: number; hi: number }) => ({ value: x.estimate, lo: x.lo, hi: x.hi })

/** The held-one-out report: findings, standard vs mean-adjusted R² and Pearson r, train vs test, train-2-test-2, noise ceiling, diagnostics. */
export const hooReport = Stage.make({
  name: "report_hoo",
  version: 3,
  params: Schema.Struct({
    config: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
    groupBy: Schema.String,
    /** Content providers, in config order; the first one's baselines fill the held-out table's content columns. */
    providers: Schema.Array(Schema.String)
  }),
  run: ({ inputs, params }) =>
    Effect.sync(() => {
      const evaluations = Object.entries(inputs)
        .filter(([name]) => name.startsWith("eval:"))
        .map(([, loaded]) => loaded.json<ProbeEvaluation>("evaluation"))
      const reliability = new Map(
        Object.entries(inputs)
          .filter(([name]) => name.startsWith("reliability:"))
          .map(([, loaded]) => loaded.json<TemplateReliability>("reliability"))
          .map((r) => [r.template_id, r])
      )
      const truth = inputs.truth?.json<{ directions: Array<{ layer: number; vector: number[] }> }>("truth")
      const content = contentEvaluations(inputs, params.providers)
      const hooRows = evaluations.flatMap((e) => {
        const baseline = content.of(e.template_id, e.layer, content.primary)
        return Object.entries(e.hoo).map(([group, h]) => ({
          template: e.template_id, layer: e.layer, held_out: group, ...heldOutRow(h),
          ...(baseline === undefined ? {} : baselineCells(baseline.content_only.hoo[group]?.r2, baseline.content_orthogonal.hoo[group]?.r2))
        }))
      })
      const meanOf = (xs: ReadonlyArray<number>) => xs.reduce((a, b) => a + b, 0) / xs.length
      const baselineRows = evaluations.flatMap((e) =>
        content.providers.flatMap((provider) => {
          const c = content.of(e.template_id, e.layer, provider)
          return c === undefined
            ? []
            : Object.entries(e.hoo).map(([group, h]) => ({
                template: e.template_id, layer: e.layer, provider, held_out: group, n: h.n_test, r2: h.r2.estimate, r2_lo: h.r2.lo, r2_hi: h.r2.hi,
                ...baselineCells(c.content_only.hoo[group]?.r2, c.content_orthogonal.hoo[group]?.r2),
                content_only_alpha: c.content_only.hoo[group]?.alpha ?? null,
                content_orthogonal_alpha: c.content_orthogonal.hoo[group]?.alpha ?? null,
                residual_cv_r2: c.content_orthogonal.hoo[group]?.residual_cv_r2 ?? null
              }))
        })
      )
      const t2Rows = evaluations.flatMap((e) =>
        Object.entries(e.train2test2 ?? {}).map(([train, h]) => ({ template: e.template_id, layer: e.layer, train, ...heldOutRow(h) }))
      )
      const ceiling = (template: string) => reliability.get(template)?.noise_ceiling ?? null
      const means = evaluations.map((e) => {
        const groups = Object.values(e.hoo)
        return {
          template: e.template_id,
          layer: e.layer,
          r2: meanOfEstimates(groups.map((h) => h.r2)),
          r2_mean_adjusted: meanOfEstimates(groups.map((h) => h.r2_mean_adjusted)),
          pearson_r: meanOfEstimates(groups.map((h) => h.pearson_r))
        }
      })
      const probeRows = evaluations.map((e) => {
        const planted = truth?.directions.find((d) => d.layer === e.layer)
        const r1 = reliability.get(e.template_id)?.r1 ?? null
        return {
          template: e.template_id, layer: e.layer, n: e.n_tasks, alpha: e.probe.alpha, cv_r2: e.probe.cv_r2,
          noise_ceiling: ceiling(e.template_id), single_sample_r: r1?.estimate ?? null, single_sample_r_lo: r1?.lo ?? null, single_sample_r_hi: r1?.hi ?? null,
          cosine_planted: planted === undefined ? null : Math.abs(cosine(e.probe.weights, planted.vector))
        }
      })
      const findingsTable: Table = {
        name: "generalization",
        columns: [s("template"), i("layer"), i("groups"), f("r2"), f("r2_lo"), f("r2_hi"), f("r2_mean_adjusted"), f("r2_mean_adjusted_lo"), f("r2_mean_adjusted_hi"), f("pearson_r"), f("pearson_r_lo"), f("pearson_r_hi"), f("noise_ceiling")],
        rows: means.map((m) => ({
          template: m.template, layer: m.layer, groups: m.pearson_r.n,
          ...intervalColumns("r2", m.r2), ...intervalColumns("r2_mean_adjusted", m.r2_mean_adjusted), ...intervalColumns("pearson_r", m.pearson_r),
          noise_ceiling: ceiling(m.template)
        }))
      }
      const tables: Table[] = [
        { name: "hoo", columns: [s("template"), i("layer"), s("held_out"), i("n"), ...heldOutColumns, ...(content.primary === undefined ? [] : baselineColumns)], rows: hooRows },
        { name: "train2test2", columns: [s("template"), i("layer"), s("train"), i("n"), ...heldOutColumns], rows: t2Rows },
        {
          name: "probes",
          columns: [s("template"), i("layer"), i("n"), f("alpha"), f("cv_r2"), f("noise_ceiling"), f("single_sample_r"), f("single_sample_r_lo"), f("single_sample_r_hi"), ...(truth === undefined ? [] : [f("cosine_planted")])],
          rows: probeRows
        },
        {
          name: "content_baselines",
          columns: [
            s("template"), i("layer"), s("provider"), s("held_out"), i("n"), f("r2"), f("r2_lo"), f("r2_hi"), ...baselineColumns,
            f("content_only_alpha"), f("content_orthogonal_alpha"), f("residual_cv_r2")
          ],
          rows: baselineRows
        }
      ]
      const baselineFigures = evaluations.flatMap((e) =>
        baselineFigure({
          name: `content_baselines_${e.template_id}_L${e.layer}`,
          title: `Content baselines, held-one-${params.groupBy}-out: ${e.template_id}, layer ${e.layer}`,
          subtitle: "Activation probe vs content-only vs content-orthogonal, trained on the other groups; whiskers: 95% interval",
          categoryTitle: `held-out ${params.groupBy}`,
          valueTitle: "R² on held-out tasks",
          categories: Object.entries(e.hoo).map(([group, h]) => ({
            category: group,
            activation: h.r2,
            baselines: content.providers.flatMap((provider) => {
              const c = content.of(e.template_id, e.layer, provider)
              const only = c?.content_only.hoo[group]?.r2, orthogonal = c?.content_orthogonal.hoo[group]?.r2
              return only === undefined || orthogonal === undefined ? [] : [{ provider, contentOnly: only, contentOrthogonal: orthogonal }]
            })
          }))
        })
      )
      const figures = evaluations.flatMap((e) => {
        const rows = Object.entries(e.hoo).flatMap(([group, h]) =>
          [
            { category: group, group: "standard R²", ...interval(h.r2) },
            { category: group, group: "mean-adjusted R²", ...interval(h.r2_mean_adjusted) },
            { category: group, group: "Pearson r", ...interval(h.pearson_r) }
          ].filter((r) => Number.isFinite(r.value) && Number.isFinite(r.lo) && Number.isFinite(r.hi))
        )
        return rows.length === 0
          ? []
          : [intervalBarChart({
              name: `hoo_${e.template_id}_L${e.layer}`.replace(/[^A-Za-z0-9._-]/g, "_"),
              title: `Held-one-${params.groupBy}-out: ${e.template_id}, layer ${e.layer}`,
              subtitle: "Trained on the other groups; whiskers: 95% bootstrap interval over tasks",
              rows,
              categoryTitle: `held-out ${params.groupBy}`,
              groupTitle: "metric",
              valueTitle: "value on held-out tasks",
              floor: -1
            })]
      })
      const meanBars = means.flatMap((m) =>
        Number.isFinite(m.pearson_r.estimate) && Number.isFinite(m.pearson_r.lo)
          ? [{ category: `layer ${m.layer}`, group: m.template, value: m.pearson_r.estimate, lo: m.pearson_r.lo, hi: m.pearson_r.hi }]
          : []
      )
      const findingsFigures = meanBars.length === 0
        ? []
        : [intervalBarChart({
            name: "held_out_pearson_r",
            title: `Held-out Pearson r, averaged over held-out ${params.groupBy}s`,
            subtitle: `Each probe scored on ${aWord(params.groupBy)} it never saw; whiskers: 95% interval of the mean`,
            rows: meanBars,
            categoryTitle: "layer",
            groupTitle: "template",
            valueTitle: "mean held-out Pearson r",
            floor: -1
          })]
      const trainTest = hooRows.map((r) => ({ x: r.train_cv_r2, y: r.r2_mean_adjusted, series: r.template, marker: `layer ${r.layer}` }))
      if (trainTest.length >= 3) {
        figures.push(scatterWithFit({
          name: "train_vs_test",
          title: "Train (cross-validated) R² vs held-out mean-adjusted R²",
          points: trainTest,
          xTitle: "train CV R²",
          yTitle: "held-out mean-adjusted R²",
          pointsLabel: `probe, held-out ${params.groupBy}`,
          seriesTitle: "template",
          markerTitle: "layer",
          identityLine: true
        }))
      }
      const scores = Object.entries(inputs)
        .filter(([name]) => name.startsWith("scores:"))
        .map(([name, loaded]) => ({ templateId: name.slice(7), rows: fromTable<{ value: number | null; tier: string }>(loaded.table("scores")) }))
      const parseCounts = scores.map((t) => ({ templateId: t.templateId, failed: t.rows.filter((r) => r.tier === "failed").length, total: t.rows.length }))
      const diagnostics: Diagnostic[] = [
        ...fewTasks(hooRows.map((r) => ({ label: `${r.template} layer ${r.layer}, held-out ${r.held_out}`, n: r.n }))),
        ...fewTasks(t2Rows.map((r) => ({ label: `${r.template} layer ${r.layer}, train-2-test-2 trained on ${r.train}`, n: r.n }))),
        ...parseFailures(parseCounts),
        ...collapse(scores.map((t) => ({ templateId: t.templateId, values: t.rows.map((r) => r.value) }))),
        ...contentExplains(evaluations.flatMap((e) =>
          content.providers.flatMap((provider) => {
            const rows = baselineRows.filter((b) => b.template === e.template_id && b.layer === e.layer && b.provider === provider)
            const mean = (pick: (b: (typeof rows)[number]) => number | null) => meanOf(rows.map((b) => pick(b) ?? NaN))
            return rows.length === 0
              ? []
              : [{
                  label: `${e.template_id} layer ${e.layer} (${provider}, held-out R² averaged over ${rows.length} held-out ${params.groupBy} groups)`,
                  activation: mean((b) => b.r2), contentOnly: mean((b) => b.content_only_r2), contentOrthogonal: mean((b) => b.content_orthogonal_r2)
                }]
          })
        )),
        ...modelDiagnostics(inputs)
      ]
      const heldOutSummary = (h: HeldOutJson) => ({ r2: h.r2, r2_mean_adjusted: h.r2_mean_adjusted, pearson_r: h.pearson_r, train_cv_r2: h.train_cv_r2, n: h.n_test })
      const summary = {
        group_by: params.groupBy,
        probes: evaluations.map((e, k) => ({
          template: e.template_id,
          layer: e.layer,
          cv_r2: e.probe.cv_r2,
          noise_ceiling: ceiling(e.template_id),
          single_sample_r: reliability.get(e.template_id)?.r1 ?? null,
          mean_held_out: { r2: means[k]!.r2, r2_mean_adjusted: means[k]!.r2_mean_adjusted, pearson_r: means[k]!.pearson_r },
          held_out: Object.fromEntries(Object.entries(e.hoo).map(([g, h]) => [g, heldOutSummary(h)])),
          train2test2: e.train2test2 === null ? null : Object.fromEntries(Object.entries(e.train2test2).map(([g, h]) => [g, heldOutSummary(h)])),
          content: Object.fromEntries(content.providers.flatMap((provider) => {
            const c = content.of(e.template_id, e.layer, provider)
            const heldOut = (hoo: Record<string, HeldOutJson>) =>
              Object.fromEntries(Object.entries(hoo).map(([g, h]) => [g, { r2: h.r2, r2_mean_adjusted: h.r2_mean_adjusted, pearson_r: h.pearson_r, n: h.n_test }]))
            return c === undefined
              ? []
              : [[provider, {
                  content_only: { cv_r2: c.content_only.r2, held_out: heldOut(c.content_only.hoo) },
                  content_orthogonal: { cv_r2: c.content_orthogonal.r2, held_out: heldOut(c.content_orthogonal.hoo), residual_cv_r2: c.content_orthogonal.residual.cv_r2 }
                }]]
          }))
        }))
      }
      const notice = parseNotice(parseCounts)
      const body: ReportBody = {
        title: "Held-one-out generalization of preference probes",
        configSummary: params.config,
        findings: {
          ...(notice === undefined ? {} : { notice }),
          text: hooFindings(means, params.groupBy, ceiling),
          tables: [findingsTable],
          figures: findingsFigures
        },
        sections: [
          {
            heading: `Held-one-${params.groupBy}-out`,
            text:
              `For each ${params.groupBy}, a Ridge probe is trained on the tasks of every other ${params.groupBy} (alpha chosen by cross-validation on those tasks only) and tested on the held-out tasks. ` +
              "Standard R² compares predictions with the held-out targets as they are; mean-adjusted R² first shifts the predictions so their mean equals the targets' mean, " +
              "separating a probe that ranks tasks well but misses the group's offset from one that does not rank them at all. Pearson r is scale- and offset-free. Every metric is computed on held-out tasks only, with a 95% bootstrap interval over tasks. " +
              "The figures cut the axis at −1; a standard R² below it (a probe far off the held-out group's mean) is labelled with its value.",
            tables: [tables[0]!],
            figures: figures.filter((fig) => fig.name.startsWith("hoo_"))
          },
          {
            heading: "Train vs test",
            text: "Cross-validated R² on the training groups against the held-out mean-adjusted R², one point per probe and held-out group (colour: template, shape: layer). Points below y = x lose on the unseen group what they reached on the groups they were trained on.",
            figures: figures.filter((fig) => fig.name === "train_vs_test")
          },
          { heading: "Train on two, test on two", text: t2Rows.length === 0 ? `Needs exactly four groups by ${params.groupBy}.` : "Every split of the four groups into two training and two test groups; `n` counts the test tasks.", tables: [tables[1]!] },
          {
            heading: "Probes, reliability and the noise ceiling",
            text:
              "The single-sample r is the mean Pearson r across tasks between every two samples of a template's answers (tasks with every sample parsed, 95% bootstrap interval); " +
              "the noise ceiling is its Spearman-Brown reliability for the mean of all samples, the training target: the highest R² any probe of it can reach. Both come from one stage and are the same in every report." +
              (truth === undefined ? "" : " For the planted-preference organism, `cosine_planted` is the absolute cosine between the probe's raw-space weights and the planted valence direction at that layer."),
            tables: [tables[2]!]
          },
          ...(content.providers.length === 0
            ? []
            : [{
                heading: "Content baselines",
                text:
                  `${baselinesText(content.providers)} The held-out table's \`content_*\` columns show the first provider (${content.primary}); ` +
                  `this table shows every provider, each baseline trained on the other ${params.groupBy} groups and tested on the held-out one as the activation probe is.`,
                tables: [tables[3]!],
                figures: baselineFigures
              }])
        ],
        diagnostics,
        summary
      }
      return { document: Artifact.json(body) }
    })
})

type MeanRow = { template: string; layer: number; r2: EstimateMean; r2_mean_adjusted: EstimateMean; pearson_r: EstimateMean }

/** The findings' sentences: one per template at its best layer (by mean held-out Pearson r), saying whether its probe generalizes. */
export const hooFindings = (means: ReadonlyArray<MeanRow>, groupBy: string, ceiling: (template: string) => number | null): string => {
  const templates = [...new Set(means.map((m) => m.template))]
  if (templates.length === 0) return "No probe could be evaluated."
  const sentences = templates.map((template) => {
    const rows = means.filter((m) => m.template === template && Number.isFinite(m.pearson_r.estimate))
    if (rows.length === 0) return `${template}: no held-out ${groupBy} gave a defined Pearson r.`
    const best = rows.reduce((a, b) => (b.pearson_r.estimate > a.pearson_r.estimate ? b : a))
    const groups = count(best.pearson_r.n, `held-out ${groupBy}`)
    const nc = ceiling(template)
    const ceilingNote = nc === null ? "" : ` (noise ceiling ${num(nc)})`
    if (side(best.pearson_r) < 0) {
      return `${template}: no layer's probe generalizes to an unseen ${groupBy}; even the best, layer ${best.layer}, anti-correlates with the held-out targets, Pearson r ${withInterval(best.pearson_r)} averaged over ${groups}.`
    }
    if (side(best.pearson_r) === 0) {
      return `${template}: no layer's probe generalizes to an unseen ${groupBy}; the best, layer ${best.layer}, reaches Pearson r ${withInterval(best.pearson_r)} averaged over ${groups}, an interval that includes 0.`
    }
    const offsets =
      best.r2_mean_adjusted.estimate - best.r2.estimate > 0.1
        ? ` Standard R² is lower, ${withInterval(best.r2)}: the probe ranks an unseen ${groupBy}'s tasks but misses that ${groupBy}'s mean, so its predictions are comparable within ${aWord(groupBy)}, not across ${groupBy}s.`
        : ` Standard R² is close to it, ${withInterval(best.r2)}: the probe also predicts an unseen ${groupBy}'s mean.`
    return (
      `${template}: the probe at layer ${best.layer} generalizes to unseen ${groupBy}s, Pearson r ${withInterval(best.pearson_r)} and mean-adjusted R² ${withInterval(best.r2_mean_adjusted)}${ceilingNote}, averaged over ${groups}.` +
      offsets
    )
  })
  return [
    `Per template and layer, the held-out metrics averaged over the ${groupBy}s left out in turn (95% intervals combine each ${groupBy}'s bootstrap interval as an independent normal error).`,
    ...sentences
  ].join("\n\n")
}

const intervalColumns = (name: string, x: EstimateMean) => ({ [name]: finiteOrNull(x.estimate), [`${name}_lo`]: finiteOrNull(x.lo), [`${name}_hi`]: finiteOrNull(x.hi) })
const finiteOrNull = (x: number) => (Number.isFinite(x) ? x : null)

/** `pipeline build reports/hoo`: held-one-dataset-out probe generalization for every template and layer. */
export const target = reportTarget("held-one-out probe generalization, train-2-test-2 beside it", (config: ExperimentConfig) => {
  const g = experimentGraph(config)
  const inputs: Record<string, Stage.Node> = {}
  for (const t of scoredTemplates(config)) {
    inputs[`scores:${t.id}`] = g.scores(t)
    inputs[`reliability:${t.id}`] = g.reliability(t)
    for (const layer of config.activations.layers) inputs[`eval:${t.id}@${layer}`] = g.probeEval(t, layer)
  }
  Object.assign(inputs, contentInputs(g, config, scoredTemplates(config)))
  if (g.truth !== undefined) inputs.truth = g.truth
  return Stage.node(hooReport, {
    label: "hoo",
    params: { config: configSummary(config) as Record<string, unknown>, groupBy: config.probes.groupBy, providers: config.content.providers },
    inputs,
    configPaths: { groupBy: "probes.groupBy", providers: "content.providers" }
  })
})
