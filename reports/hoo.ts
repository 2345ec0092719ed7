import { Effect, Schema } from "effect"
import * as Artifact from "../pipeline/Artifact"
import type { ExperimentConfig } from "../pipeline/Config"
import * as Stage from "../pipeline/Stage"
import type { ProbeEvaluation } from "../stages/probeEval"
import { fromTable } from "../stages/tables"
import { cosine } from "../stats/metrics"
import { experimentGraph, scoredTemplates } from "./experiment"
import { collapse, fewTasks, parseFailures, type Diagnostic, modelDiagnostics } from "./render/diagnostics"
import { intervalBarChart, scatterWithFit } from "./render/figures"
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

/** The held-one-out report: standard vs mean-adjusted R², train vs test, train-2-test-2, noise ceiling, diagnostics. */
export const hooReport = Stage.make({
  name: "report_hoo",
  version: 1,
  params: Schema.Struct({ config: Schema.Record({ key: Schema.String, value: Schema.Unknown }), groupBy: Schema.String }),
  run: ({ inputs, params }) =>
    Effect.sync(() => {
      const evaluations = Object.entries(inputs)
        .filter(([name]) => name.startsWith("eval:"))
        .map(([, loaded]) => loaded.json<ProbeEvaluation>("evaluation"))
      const truth = inputs.truth?.json<{ directions: Array<{ layer: number; vector: number[] }> }>("truth")
      const hooRows = evaluations.flatMap((e) =>
        Object.entries(e.hoo).map(([group, h]) => ({ template: e.template_id, layer: e.layer, held_out: group, ...heldOutRow(h) }))
      )
      const t2Rows = evaluations.flatMap((e) =>
        Object.entries(e.train2test2 ?? {}).map(([train, h]) => ({ template: e.template_id, layer: e.layer, train, ...heldOutRow(h) }))
      )
      const probeRows = evaluations.map((e) => {
        const planted = truth?.directions.find((d) => d.layer === e.layer)
        return {
          template: e.template_id, layer: e.layer, n: e.n_tasks, alpha: e.probe.alpha, cv_r2: e.probe.cv_r2,
          noise_ceiling: e.reliability.noise_ceiling, single_sample_r: e.reliability.r1?.estimate ?? null,
          cosine_planted: planted === undefined ? null : Math.abs(cosine(e.probe.weights, planted.vector))
        }
      })
      const tables: Table[] = [
        { name: "hoo", columns: [s("template"), i("layer"), s("held_out"), i("n"), ...heldOutColumns], rows: hooRows },
        { name: "train2test2", columns: [s("template"), i("layer"), s("train"), i("n"), ...heldOutColumns], rows: t2Rows },
        {
          name: "probes",
          columns: [s("template"), i("layer"), i("n"), f("alpha"), f("cv_r2"), f("noise_ceiling"), f("single_sample_r"), ...(truth === undefined ? [] : [f("cosine_planted")])],
          rows: probeRows
        }
      ]
      const figures = evaluations.flatMap((e) => {
        const rows = Object.entries(e.hoo).flatMap(([group, h]) => [
          { category: group, group: "standard R²", ...interval(h.r2) },
          { category: group, group: "mean-adjusted R²", ...interval(h.r2_mean_adjusted) }
        ])
        return rows.length === 0
          ? []
          : [intervalBarChart({
              name: `hoo_${e.template_id}_L${e.layer}`.replace(/[^A-Za-z0-9._-]/g, "_"),
              title: `Held-one-${params.groupBy}-out R²: ${e.template_id}, layer ${e.layer}`,
              subtitle: "Trained on the other groups; whiskers: 95% bootstrap interval over tasks",
              rows,
              categoryTitle: `held-out ${params.groupBy}`,
              groupTitle: "metric",
              valueTitle: "R² on held-out tasks"
            })]
      })
      const trainTest = hooRows.map((r) => ({ x: r.train_cv_r2, y: r.r2_mean_adjusted, label: `${r.template} L${r.layer} ${r.held_out}` }))
      if (trainTest.length >= 3) {
        figures.push(scatterWithFit({
          name: "train_vs_test",
          title: "Train (cross-validated) R² vs held-out mean-adjusted R²",
          points: trainTest,
          xTitle: "train CV R²",
          yTitle: "held-out mean-adjusted R²",
          pointsLabel: "template, layer, held-out group",
          identityLine: true
        }))
      }
      const scores = Object.entries(inputs)
        .filter(([name]) => name.startsWith("scores:"))
        .map(([name, loaded]) => ({ templateId: name.slice(7), rows: fromTable<{ value: number | null; tier: string }>(loaded.table("scores")) }))
      const diagnostics: Diagnostic[] = [
        ...fewTasks(hooRows.map((r) => ({ label: `${r.template} layer ${r.layer}, held-out ${r.held_out}`, n: r.n }))),
        ...parseFailures(scores.map((t) => ({ templateId: t.templateId, failed: t.rows.filter((r) => r.tier === "failed").length, total: t.rows.length }))),
        ...collapse(scores.map((t) => ({ templateId: t.templateId, values: t.rows.map((r) => r.value) }))),
        ...modelDiagnostics(inputs)
      ]
      const summary = {
        group_by: params.groupBy,
        probes: evaluations.map((e) => ({
          template: e.template_id,
          layer: e.layer,
          cv_r2: e.probe.cv_r2,
          noise_ceiling: e.reliability.noise_ceiling,
          held_out: Object.fromEntries(
            Object.entries(e.hoo).map(([g, h]) => [g, { r2: h.r2, r2_mean_adjusted: h.r2_mean_adjusted, pearson_r: h.pearson_r, train_cv_r2: h.train_cv_r2, n: h.n_test }])
          ),
          train2test2: e.train2test2 === null ? null : Object.fromEntries(
            Object.entries(e.train2test2).map(([g, h]) => [g, { r2: h.r2, r2_mean_adjusted: h.r2_mean_adjusted, pearson_r: h.pearson_r, train_cv_r2: h.train_cv_r2, n: h.n_test }])
          )
        }))
      }
      const body: ReportBody = {
        title: "Held-one-out generalization of preference probes",
        configSummary: params.config,
        sections: [
          {
            heading: `Held-one-${params.groupBy}-out`,
            text:
              `For each ${params.groupBy}, a Ridge probe is trained on the tasks of every other ${params.groupBy} (alpha chosen by cross-validation on those tasks only) and tested on the held-out tasks. ` +
              "Standard R² compares predictions with the held-out targets as they are; mean-adjusted R² first shifts the predictions so their mean equals the targets' mean, " +
              "separating a probe that ranks tasks well but misses the group's offset from one that does not rank them at all. Every metric is computed on held-out tasks only, with a 95% bootstrap interval over tasks.",
            tables: [tables[0]!],
            figures: figures.filter((fig) => fig.name.startsWith("hoo_"))
          },
          { heading: "Train vs test", text: "Cross-validated R² on the training groups beside the held-out R².", figures: figures.filter((fig) => fig.name === "train_vs_test") },
          { heading: "Train on two, test on two", text: t2Rows.length === 0 ? `Needs exactly four groups by ${params.groupBy}.` : "Every split of the four groups into two training and two test groups.", tables: [tables[1]!] },
          {
            heading: "Probes, reliability and the noise ceiling",
            text:
              "The noise ceiling is the Spearman-Brown reliability of the training target (the mean of the samples per task): the highest R² any probe of it can reach." +
              (truth === undefined ? "" : " For the planted-preference organism, `cosine_planted` is the absolute cosine between the probe's raw-space weights and the planted valence direction at that layer."),
            tables: [tables[2]!]
          }
        ],
        diagnostics,
        summary
      }
      return { document: Artifact.json(body) }
    })
})

/** `pipeline build reports/hoo`: held-one-dataset-out probe generalization for every template and layer. */
export const target = reportTarget("held-one-out probe generalization, train-2-test-2 beside it", (config: ExperimentConfig) => {
  const g = experimentGraph(config)
  const inputs: Record<string, Stage.Node> = {}
  for (const t of scoredTemplates(config)) {
    inputs[`scores:${t.id}`] = g.scores(t)
    for (const layer of config.activations.layers) inputs[`eval:${t.id}@${layer}`] = g.probeEval(t, layer)
  }
  if (g.truth !== undefined) inputs.truth = g.truth
  return Stage.node(hooReport, { label: "hoo", params: { config: configSummary(config) as Record<string, unknown>, groupBy: config.probes.groupBy }, inputs })
})
