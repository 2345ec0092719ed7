/**
 * summary.json `summary`:
 * {
 *   samples: number,                       // elicitation samples per task in the config
 *   max_k: number,                         // floor(samples / 2): the largest k two disjoint halves allow
 *   templates: Array<{
 *     template: string, timing: "pre" | "post",
 *     n_tasks: number,                     // tasks with every sample parsed (the correlations' n)
 *     n_incomplete: number,                // tasks left out for a missing or unparsed sample
 *     by_k: Array<{ k: number, r: number, lo: number, hi: number, n: number, spearman_brown: number }>,
 *                                          // r: Pearson r between the means of samples 0..k−1 and h..h+k−1 (h = max_k), 95% bootstrap interval over tasks;
 *                                          // spearman_brown: k·r₁/(1+(k−1)·r₁) from the measured r at k = 1
 *     noise_ceiling: number | null         // Spearman-Brown reliability of the mean of all samples
 *   }>
 * }
 */
import { Effect, Schema } from "effect"
import * as Artifact from "../pipeline/Artifact"
import type { ExperimentConfig } from "../pipeline/Config"
import * as Stage from "../pipeline/Stage"
import { taskTargets } from "../stages/probeEval"
import { fromTable } from "../stages/tables"
import { noiseCeiling, seedSensitivity } from "../stats/reliability"
import { experimentGraph, scoredTemplates } from "./experiment"
import { type Diagnostic, fewTasks, modelDiagnostics } from "./render/diagnostics"
import { type BandPoint, type Figure, lineWithBand } from "./render/figures"
import type { Column, Table } from "./render/tables"
import { configSummary, type ReportBody, reportTarget } from "./reportTarget"

const f = (name: string): Column => ({ name, type: "float64" })
const s = (name: string): Column => ({ name, type: "utf8" })
const i = (name: string): Column => ({ name, type: "int32" })

const safeName = (name: string) => name.replace(/[^A-Za-z0-9._-]/g, "_")

/** Per task with all `samples` parsed: its normalized scores in sample order; and how many tasks lacked one. */
export const completeSamples = (
  rows: ReadonlyArray<{ task_id: string; sample: number; normalized: number | null }>,
  samples: number
): { readonly tasks: string[]; readonly values: number[][]; readonly incomplete: number } => {
  const byTask = taskTargets(rows)
  const allTasks = [...new Set(rows.map((r) => r.task_id))].sort()
  const tasks = allTasks.filter((t) => Array.from({ length: samples }, (_, j) => byTask.get(t)?.has(j) === true).every(Boolean))
  return {
    tasks,
    values: tasks.map((t) => Array.from({ length: samples }, (_, j) => byTask.get(t)!.get(j)!)),
    incomplete: allTasks.length - tasks.length
  }
}

/** Seed sensitivity: cross-seed correlations of single samples and of k-sample means, beside the Spearman-Brown prediction. */
export const seedSensitivityReport = Stage.make({
  name: "report_seed_sensitivity",
  version: 1,
  params: Schema.Struct({
    config: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
    samples: Schema.Int,
    bootstrap: Schema.Struct({ resamples: Schema.Int, seed: Schema.Int }),
    timings: Schema.Record({ key: Schema.String, value: Schema.Literal("pre", "post") })
  }),
  run: ({ inputs, params }) =>
    Effect.sync(() => {
      const maxK = Math.floor(params.samples / 2)
      const skipped: string[] = []
      const results = Object.entries(inputs)
        .filter(([name]) => name.startsWith("scores:"))
        .flatMap(([name, loaded]) => {
          const template = name.slice("scores:".length)
          const complete = completeSamples(fromTable(loaded.table("scores")), params.samples)
          if (maxK < 1 || complete.tasks.length < 3) {
            skipped.push(`${template} (${complete.tasks.length} tasks with all ${params.samples} samples parsed)`)
            return []
          }
          const sensitivity = seedSensitivity(complete.values, { maxK, bootstrap: params.bootstrap })
          const r1 = sensitivity.measured[0]!.estimate
          return [{
            template,
            timing: params.timings[template] ?? "pre",
            n_tasks: sensitivity.tasks,
            n_incomplete: complete.incomplete,
            by_k: sensitivity.measured.map((m, j) => ({ k: j + 1, r: m.estimate, lo: m.lo, hi: m.hi, n: sensitivity.tasks, spearman_brown: sensitivity.spearmanBrown[j]! })),
            noise_ceiling: Number.isFinite(r1) ? noiseCeiling(r1, params.samples) : null
          }]
        })
      const table: Table = {
        name: "seed_sensitivity",
        columns: [s("template"), s("timing"), i("k"), i("n"), f("r"), f("r_lo"), f("r_hi"), f("spearman_brown")],
        rows: results.flatMap((t) => t.by_k.map((b) => ({ template: t.template, timing: t.timing, k: b.k, n: b.n, r: b.r, r_lo: b.lo, r_hi: b.hi, spearman_brown: b.spearman_brown })))
      }
      const templatesTable: Table = {
        name: "templates",
        columns: [s("template"), s("timing"), i("n_tasks"), i("n_incomplete"), f("single_sample_r"), f("single_sample_r_lo"), f("single_sample_r_hi"), f("noise_ceiling")],
        rows: results.map((t) => ({
          template: t.template, timing: t.timing, n_tasks: t.n_tasks, n_incomplete: t.n_incomplete,
          single_sample_r: t.by_k[0]!.r, single_sample_r_lo: t.by_k[0]!.lo, single_sample_r_hi: t.by_k[0]!.hi, noise_ceiling: t.noise_ceiling
        }))
      }
      const figures: Figure[] = results.flatMap((t) => {
        const points: BandPoint[] = t.by_k.flatMap((b) => [
          ...(Number.isFinite(b.r) ? [{ series: "measured", x: b.k, y: b.r, ...(Number.isFinite(b.lo) && Number.isFinite(b.hi) ? { lo: b.lo, hi: b.hi } : {}) }] : []),
          ...(Number.isFinite(b.spearman_brown) ? [{ series: "Spearman-Brown", x: b.k, y: b.spearman_brown }] : [])
        ])
        return points.length === 0
          ? []
          : [lineWithBand({
              name: safeName(`seed_sensitivity_${t.template}`),
              title: `Seed sensitivity: ${t.template}`,
              subtitle: `${t.n_tasks} tasks; band: 95% bootstrap interval of the measured r`,
              points,
              xTitle: "samples averaged per half (k)",
              yTitle: "cross-seed Pearson r",
              seriesTitle: "estimate"
            })]
      })
      const diagnostics: Diagnostic[] = [
        ...modelDiagnostics(inputs),
        ...fewTasks(results.map((t) => ({ label: `${t.template} cross-seed r`, n: t.n_tasks }))),
        ...skipped.map((t): Diagnostic => ({
          level: "warning",
          code: "too-few-samples",
          message: `${t}: seed sensitivity needs at least 2 samples per task and 3 tasks with every sample parsed; not reported`
        })),
        ...results
          .filter((t) => !Number.isFinite(t.by_k[0]!.r))
          .map((t): Diagnostic => ({ level: "warning", code: "undefined-r", message: `${t.template}: a half's means have no spread across tasks, so the cross-seed r is undefined` }))
      ]
      const body: ReportBody = {
        title: "Seed sensitivity of elicited scores",
        configSummary: params.config,
        sections: [
          {
            heading: "Cross-seed correlation by samples averaged",
            text:
              `Each task was asked ${params.samples} times with different seeds. The samples are split into two disjoint halves; for k = 1..${maxK}, the mean of the first k samples of one half is correlated (Pearson, across tasks) with the mean of the first k of the other. ` +
              "The Spearman-Brown column is what classical test theory predicts from the single-sample r₁: k·r₁/(1+(k−1)·r₁); a measured value far outside it (beyond its interval) suggests the samples are not exchangeable, e.g. answers that drift with the seed's position. " +
              "Only tasks with every sample parsed enter; intervals are 95% bootstrap intervals over tasks.",
            tables: [table],
            figures
          },
          {
            heading: "Single-sample reliability and the noise ceiling",
            text: `The noise ceiling is the Spearman-Brown reliability of the mean of all ${params.samples} samples: the most variance any predictor of that mean (a probe) can explain.`,
            tables: [templatesTable]
          }
        ],
        diagnostics,
        summary: { samples: params.samples, max_k: maxK, templates: results }
      }
      return { document: Artifact.json(body) }
    })
})

/** The seed sensitivity report's node for an experiment: every scored (non-revealed, non-ranking) template. */
export const seedSensitivityNode = (config: ExperimentConfig): Stage.Node => {
  const g = experimentGraph(config)
  const inputs: Record<string, Stage.Node> = {}
  const timings: Record<string, "pre" | "post"> = {}
  for (const t of scoredTemplates(config)) {
    timings[t.id] = t.timing
    inputs[`scores:${t.id}`] = g.scores(t)
  }
  return Stage.node(seedSensitivityReport, {
    label: "seed_sensitivity",
    params: {
      config: configSummary(config),
      samples: config.elicitation.samples,
      bootstrap: { resamples: config.probes.bootstrap, seed: config.seed },
      timings
    },
    inputs
  })
}

/** `pipeline build reports/seed_sensitivity`: cross-seed reliability of every scored template against Spearman-Brown. */
export const target = reportTarget("cross-seed correlation of k-sample means vs the Spearman-Brown prediction, per template", seedSensitivityNode)
