/**
 * `pipeline build reports/utilities`: task utilities from revealed pairwise choices.
 *
 * summary.json `summary`:
 * - `templates[]`, one per revealed template:
 *   - `template`, `n_tasks`, `n_choices`, `n_pairs`, `tiers` (answers by parse tier)
 *   - `held_out`: `{ pairs, fraction, seed, train_records, test_records }` (a seeded share of distinct pairs held out)
 *   - `fits`: `{ case_v | full | trueskill: { accuracy, lo, hi, records, neg_log_likelihood } }`: held-out pair accuracy
 *     of each model refitted on the training pairs (Wilson 95% interval over held-out records)
 *   - `by_dataset`: `{ <origin>: { mu, lo, hi, n } }`: mean full-fit μ per origin with a 95% bootstrap interval over tasks
 *   - `position_bias`: `{ p_first, lo, hi, n, balanced_pairs, balanced_first_rate, mean_abs_error_full }`: P(choose the
 *     first-shown task) with its Wilson interval, the order-cancelled first rate over pairs asked both ways, and the mean
 *     |order-cancelled choice rate − full-fit P(x beats y)| over those pairs
 *   - `probes[]`: `{ layer, n, alpha, r2, pearson_r, pair_accuracy, pair_records }`: Ridge probes from activations to
 *     the full-fit μ of the training pairs; r2 and pearson_r (`{ estimate, lo, hi }`) are out-of-fold, and pair_accuracy
 *     scores the out-of-fold predictions on the held-out pairs; `bt_l2` and `bt_pair_accuracy`: a Bradley-Terry probe
 *     trained directly on the training choices (logistic loss on w·(x_a − x_b), L2 chosen on a validation split of
 *     them), scored on the same held-out pairs (null with fewer than 10 training choices)
 *   - `planted` (organism only): `{ n, spearman_full, spearman_case_v, spearman_trueskill }`: rank correlation of the
 *     utilities with the planted task valences
 * - `probe_template`: the template whose prompt activations the probes read (null when the experiment has no scored template)
 * - `layers`, `position`
 */
import { Effect, Schema } from "effect"
import * as Artifact from "../pipeline/Artifact"
import type { ExperimentConfig } from "../pipeline/Config"
import * as Stage from "../pipeline/Stage"
import type { Template } from "../elicitation/Template"
import { fromTable, matrixOf } from "../stages/tables"
import { utilities, type UtilityFits } from "../stages/utilities"
import { bootstrapByTask } from "../stats/bootstrap"
import { metricInterval } from "../stats/evaluation"
import { pearson, r2Score, spearman } from "../stats/metrics"
import { heldOutAccuracy, utilityMap } from "../stats/ranking/heldOut"
import type { Comparison } from "../stats/ranking/pairCounts"
import { wilson } from "../stats/regression"
import { fitBradleyTerry } from "../stats/bradleyTerry"
import { fitRidge } from "../stats/ridge"
import { type ExperimentGraph, experimentGraph, type PersonaGraph } from "./experiment"
import { type Diagnostic, fewTasks, parseFailures, positionBias } from "./render/diagnostics"
import { type Figure, intervalBarChart, scatterWithFit } from "./render/figures"
import type { Table } from "./render/tables"
import { configSummary, type ReportBody, reportTarget } from "./reportTarget"

const f = (name: string) => ({ name, type: "float64" as const })
const s = (name: string) => ({ name, type: "utf8" as const })
const i = (name: string) => ({ name, type: "int32" as const })
const b = (name: string) => ({ name, type: "bool" as const })

/** One task's utilities as the `utilities` stage writes them. */
export interface TaskUtility {
  readonly task_id: string
  readonly origin: string
  readonly mu: number
  readonly sigma: number
  readonly case_v_mu: number
  readonly trueskill_mu: number
  readonly trueskill_sigma: number
  readonly train_mu: number
  readonly choices: number
  readonly wins: number
}

/** Held-out share of distinct pairs, and the prior sd of μ that keeps undefeated tasks finite. */
const heldOutFraction = 0.2
const muPriorSd = 5

/** The `utilities[<template>]` node of a revealed template, for the trained persona or the given one (`utilities[<template>|<persona>]`). */
export const utilitiesNode = (g: ExperimentGraph, t: Template, persona: PersonaGraph = g): Stage.Node =>
  Stage.node(utilities, {
    label: persona.label(t.id),
    params: { template_id: t.id, seed: g.config.seed, heldOutFraction, muPriorSd },
    inputs: { scores: persona.scores(t), tasks: g.tasks },
    configPaths: { seed: "seed" }
  })

/** Each row's projection on raw-space weights (a Bradley-Terry utility up to a constant). */
const predictRaw = (x: { rows: number; cols: number; data: Float64Array }, w: Float64Array): Float64Array =>
  Float64Array.from({ length: x.rows }, (_, i) => {
    let s = 0
    for (let j = 0; j < x.cols; j++) s += x.data[i * x.cols + j]! * w[j]!
    return s
  })

/** The template whose prompt activations the utility probes read: the first pre-task scored template, else the first scored one. */
export const probeTemplate = (config: ExperimentConfig): Template | undefined => {
  const scored = config.templates.filter((t) => t.kind !== "revealed" && t.kind !== "ranking")
  return scored.find((t) => t.timing === "pre") ?? scored[0]
}

const finiteOrNull = (x: number) => (Number.isFinite(x) ? x : null)
const safeName = (x: string) => x.replace(/[^A-Za-z0-9._-]/g, "_")
const mean = (xs: ReadonlyArray<number>) => xs.reduce((a, v) => a + v, 0) / xs.length

const ProbeParams = Schema.Struct({
  layers: Schema.Array(Schema.Int),
  position: Schema.String,
  alphas: Schema.Array(Schema.Number),
  folds: Schema.Int,
  alphaSelection: Schema.Literal("kfold", "loo"),
  alphaRule: Schema.Literal("best", "one_se"),
  bootstrap: Schema.Int,
  seed: Schema.Int,
  template: Schema.NullOr(Schema.String)
})

/** Rows of the activation matrix at one layer and position, by task. */
const activationRows = (table: Parameters<typeof matrixOf>[0], layer: number, position: string) => {
  const keys = fromTable<{ task_id: string; layer: number; position: string }>(table.select(["task_id", "layer", "position"]))
  const rows = new Map<string, number>()
  keys.forEach((k, row) => {
    if (k.layer === layer && k.position === position) rows.set(k.task_id, row)
  })
  return rows
}

/** The utilities report: fits and their held-out accuracy, utilities by dataset, position bias, probes, planted truth. */
export const utilitiesReport = Stage.make({
  name: "report_utilities",
  version: 2,
  params: Schema.Struct({ config: Schema.Record({ key: Schema.String, value: Schema.Unknown }), probes: ProbeParams }),
  run: ({ inputs, params }) =>
    Effect.sync(() => {
      const p = params.probes
      const truth = inputs.truth?.json<{ tasks: Array<{ task_id: string; valence: number }> }>("truth")
      const valence = new Map(truth?.tasks.map((t) => [t.task_id, t.valence]) ?? [])
      const matrixTable = inputs.activations?.table("activations")
      const matrix = matrixTable === undefined ? undefined : matrixOf(matrixTable)
      const bootstrap = { resamples: p.bootstrap, seed: p.seed }
      const templates = Object.keys(inputs)
        .filter((name) => name.startsWith("utilities:"))
        .sort()
        .map((name) => {
          const loaded = inputs[name]!
          return {
            id: name.slice("utilities:".length),
            fits: loaded.json<UtilityFits>("fits"),
            tasks: fromTable<TaskUtility>(loaded.table("utilities")),
            comparisons: fromTable<Comparison & { held_out: boolean }>(loaded.table("comparisons"))
          }
        })

      const results = templates.map((t) => {
        const fits = Object.fromEntries(
          (["case_v", "full", "trueskill"] as const).map((name) => {
            const fit = t.fits.fits[name]
            const h = fit.held_out
            const interval = h.records > 0 ? wilson(h.accuracy * h.records, h.records) : undefined
            return [name, { accuracy: finiteOrNull(h.accuracy), lo: interval?.lo ?? null, hi: interval?.hi ?? null, records: h.records, neg_log_likelihood: fit.neg_log_likelihood }]
          })
        )
        const origins = [...new Set(t.tasks.map((u) => u.origin))].sort()
        const byDataset = Object.fromEntries(
          origins.map((origin) => {
            const mus = t.tasks.filter((u) => u.origin === origin).map((u) => u.mu)
            const interval = bootstrapByTask(mus.map((_, k) => k), (rows) => mean(Array.from(rows, (r) => mus[r]!)), bootstrap)
            return [origin, { mu: interval.estimate, lo: finiteOrNull(interval.lo), hi: finiteOrNull(interval.hi), n: mus.length }]
          })
        )
        const bias = t.fits.position_bias
        const positionBiasSummary = {
          p_first: bias.first.p, lo: bias.first.lo, hi: bias.first.hi, n: bias.first.n, chosen_first: bias.first.successes,
          balanced_pairs: bias.balanced_pairs, balanced_first_rate: bias.balanced_first_rate,
          order_cancelled_pairs: t.fits.order_cancelled.pairs, mean_abs_error_full: t.fits.order_cancelled.mean_abs_error_full
        }
        const test = t.comparisons.filter((c) => c.held_out)
        const probes = matrixTable === undefined || matrix === undefined
          ? []
          : p.layers.flatMap((layer) => {
              const rows = activationRows(matrixTable, layer, p.position)
              const picked = t.tasks.filter((u) => rows.has(u.task_id))
              if (picked.length < Math.max(10, p.folds)) return []
              const dim = matrix.dim
              const x = { rows: picked.length, cols: dim, data: new Float64Array(picked.length * dim) }
              picked.forEach((u, k) => {
                const row = rows.get(u.task_id)!
                for (let j = 0; j < dim; j++) x.data[k * dim + j] = matrix.data[row * dim + j]!
              })
              const ids = picked.map((u) => u.task_id)
              const y = Float64Array.from(picked, (u) => u.train_mu)
              const probe = fitRidge(x, y, { alphas: p.alphas, groups: ids, k: p.folds, seed: p.seed, cv: p.alphaSelection, rule: p.alphaRule })
              const options = { tasks: ids, bootstrap }
              const r2 = metricInterval(y, probe.oofPredictions, probe.oofRows, r2Score, options)
              const r = metricInterval(y, probe.oofPredictions, probe.oofRows, pearson, options)
              const predicted = new Float64Array(ids.length).fill(Number.NaN)
              probe.oofRows.forEach((row, k) => (predicted[row] = probe.oofPredictions[k]!))
              const known = new Set(ids.filter((_, k) => Number.isFinite(predicted[k]!)))
              const scored = test.filter((c) => known.has(c.task_a) && known.has(c.task_b))
              const accuracy = heldOutAccuracy(utilityMap(ids, predicted), scored)
              // The Bradley-Terry probe learns a direction from the training choices themselves, not from fitted μ.
              const index = new Map(ids.map((id, k) => [id, k]))
              const trainPairs = t.comparisons.flatMap((c) =>
                c.held_out || c.choice === "refusal" || !index.has(c.task_a) || !index.has(c.task_b)
                  ? []
                  : [{ a: index.get(c.task_a)!, b: index.get(c.task_b)!, aWins: c.choice === "a" ? 1 : 0 }]
              )
              const bt = trainPairs.length < 10 ? undefined : fitBradleyTerry(x, trainPairs, { l2s: p.alphas, seed: p.seed })
              const btAccuracy = bt === undefined ? undefined : heldOutAccuracy(utilityMap(ids, predictRaw(x, bt.weightsRaw)), scored)
              return [{
                layer, n: ids.length, alpha: probe.alpha, cv_r2: probe.cvR2,
                bt_l2: bt?.l2 ?? null, bt_pair_accuracy: btAccuracy === undefined ? null : finiteOrNull(btAccuracy.accuracy),
                r2: { estimate: r2.estimate, lo: finiteOrNull(r2.lo), hi: finiteOrNull(r2.hi) },
                pearson_r: { estimate: finiteOrNull(r.estimate), lo: finiteOrNull(r.lo), hi: finiteOrNull(r.hi) },
                pair_accuracy: finiteOrNull(accuracy.accuracy), pair_records: accuracy.records
              }]
            })
        const withTruth = t.tasks.filter((u) => valence.has(u.task_id))
        const planted = truth === undefined || withTruth.length < 3
          ? undefined
          : {
              n: withTruth.length,
              spearman_full: spearman(withTruth.map((u) => u.mu), withTruth.map((u) => valence.get(u.task_id)!)),
              spearman_case_v: spearman(withTruth.map((u) => u.case_v_mu), withTruth.map((u) => valence.get(u.task_id)!)),
              spearman_trueskill: spearman(withTruth.map((u) => u.trueskill_mu), withTruth.map((u) => valence.get(u.task_id)!))
            }
        return {
          template: t.id, n_tasks: t.fits.n_tasks, n_choices: t.fits.n_choices, n_pairs: t.fits.n_pairs, tiers: t.fits.tiers,
          held_out: t.fits.held_out, fits, by_dataset: byDataset, position_bias: positionBiasSummary, probes,
          ...(planted === undefined ? {} : { planted })
        }
      })

      const fitNames = { case_v: "Thurstonian Case V", full: "Thurstonian (σ per task)", trueskill: "TrueSkill" } as const
      const fitsTable: Table = {
        name: "fits",
        columns: [s("template"), s("fit"), f("held_out_accuracy"), f("held_out_accuracy_lo"), f("held_out_accuracy_hi"), i("held_out_records"), f("neg_log_likelihood")],
        rows: results.flatMap((r) =>
          (["case_v", "full", "trueskill"] as const).map((name) => ({
            template: r.template, fit: fitNames[name], held_out_accuracy: r.fits[name]!.accuracy, held_out_accuracy_lo: r.fits[name]!.lo,
            held_out_accuracy_hi: r.fits[name]!.hi, held_out_records: r.fits[name]!.records, neg_log_likelihood: r.fits[name]!.neg_log_likelihood
          }))
        )
      }
      const datasetTable: Table = {
        name: "utilities_by_dataset",
        columns: [s("template"), s("origin"), i("n"), f("mu"), f("mu_lo"), f("mu_hi")],
        rows: results.flatMap((r) => Object.entries(r.by_dataset).map(([origin, d]) => ({ template: r.template, origin, n: d.n, mu: d.mu, mu_lo: d.lo, mu_hi: d.hi })))
      }
      const biasTable: Table = {
        name: "position_bias",
        columns: [s("template"), i("n"), f("p_first"), f("p_first_lo"), f("p_first_hi"), i("balanced_pairs"), f("balanced_first_rate"), i("order_cancelled_pairs"), f("mean_abs_error_full")],
        rows: results.map((r) => ({
          template: r.template, n: r.position_bias.n, p_first: r.position_bias.p_first, p_first_lo: r.position_bias.lo, p_first_hi: r.position_bias.hi,
          balanced_pairs: r.position_bias.balanced_pairs, balanced_first_rate: r.position_bias.balanced_first_rate,
          order_cancelled_pairs: r.position_bias.order_cancelled_pairs, mean_abs_error_full: r.position_bias.mean_abs_error_full
        }))
      }
      const probeTable: Table = {
        name: "probes",
        columns: [s("template"), i("layer"), i("n"), f("alpha"), f("r2"), f("r2_lo"), f("r2_hi"), f("pearson_r"), f("pearson_r_lo"), f("pearson_r_hi"), f("pair_accuracy"), i("pair_records"), f("bt_l2"), f("bt_pair_accuracy")],
        rows: results.flatMap((r) =>
          r.probes.map((q) => ({
            bt_l2: q.bt_l2, bt_pair_accuracy: q.bt_pair_accuracy,
            template: r.template, layer: q.layer, n: q.n, alpha: q.alpha, r2: q.r2.estimate, r2_lo: q.r2.lo, r2_hi: q.r2.hi,
            pearson_r: q.pearson_r.estimate, pearson_r_lo: q.pearson_r.lo, pearson_r_hi: q.pearson_r.hi, pair_accuracy: q.pair_accuracy, pair_records: q.pair_records
          }))
        )
      }
      const taskTable: Table = {
        name: "utilities",
        columns: [s("template"), s("task_id"), s("origin"), f("mu"), f("sigma"), f("case_v_mu"), f("trueskill_mu"), f("trueskill_sigma"), i("choices"), i("wins"), ...(truth === undefined ? [] : [f("planted_valence")])],
        rows: templates.flatMap((t) =>
          t.tasks.map((u) => ({
            template: t.id, task_id: u.task_id, origin: u.origin, mu: u.mu, sigma: u.sigma, case_v_mu: u.case_v_mu, trueskill_mu: u.trueskill_mu,
            trueskill_sigma: u.trueskill_sigma, choices: u.choices, wins: u.wins, ...(truth === undefined ? {} : { planted_valence: valence.get(u.task_id) ?? null })
          }))
        )
      }
      const plantedTable: Table = {
        name: "planted",
        columns: [s("template"), i("n"), f("spearman_full"), f("spearman_case_v"), f("spearman_trueskill"), b("meets_0_9")],
        rows: results.flatMap((r) => (r.planted === undefined ? [] : [{ template: r.template, ...r.planted, meets_0_9: r.planted.spearman_full >= 0.9 }]))
      }

      const figures: Figure[] = []
      const accuracyBars = results.flatMap((r) =>
        (["case_v", "full", "trueskill"] as const).flatMap((name) => {
          const x = r.fits[name]!
          return x.accuracy === null || x.lo === null || x.hi === null ? [] : [{ category: r.template, group: fitNames[name], value: x.accuracy, lo: x.lo, hi: x.hi }]
        })
      )
      if (accuracyBars.length > 0) {
        figures.push(intervalBarChart({
          name: "held_out_accuracy", title: "Held-out pair accuracy by fit",
          subtitle: `Fits without ${100 * heldOutFraction}% of the pairs, scored on them; whiskers: Wilson 95%`,
          rows: accuracyBars, categoryTitle: "revealed template", groupTitle: "fit", valueTitle: "held-out accuracy"
        }))
      }
      const datasetBars = datasetTable.rows.flatMap((row) =>
        row.mu_lo === null || row.mu_hi === null ? [] : [{ category: row.origin as string, group: row.template as string, value: row.mu as number, lo: row.mu_lo as number, hi: row.mu_hi as number }]
      )
      if (datasetBars.length > 0) {
        figures.push(intervalBarChart({
          name: "utilities_by_dataset", title: "Mean Thurstonian utility by dataset",
          subtitle: "Full-fit μ (defined up to a shift); whiskers: 95% bootstrap interval over tasks",
          rows: datasetBars, categoryTitle: "dataset", groupTitle: "revealed template", valueTitle: "mean μ"
        }))
      }
      for (const t of templates) {
        const points = t.tasks.filter((u) => valence.has(u.task_id)).map((u) => ({ x: valence.get(u.task_id)!, y: u.mu }))
        if (points.length >= 3) {
          figures.push(scatterWithFit({
            name: `planted_${safeName(t.id)}`, title: `Fitted utility vs planted valence: ${t.id}`,
            points, xTitle: "planted valence", yTitle: "Thurstonian μ (full fit)", pointsLabel: "task"
          }))
        }
      }

      const diagnostics: Diagnostic[] = [
        ...positionBias(results.map((r) => ({ label: r.template, chooseFirst: r.position_bias.chosen_first, total: r.position_bias.n }))),
        ...parseFailures(results.map((r) => {
          const total = Object.values(r.tiers).reduce((a, v) => a + v, 0)
          return { templateId: r.template, failed: r.tiers.failed ?? 0, total }
        })),
        ...fewTasks(results.flatMap((r) => [
          ...r.probes.map((q) => ({ label: `${r.template} probe at layer ${q.layer}`, n: q.n })),
          ...(r.planted === undefined ? [] : [{ label: `${r.template} utilities vs planted valence`, n: r.planted.n }])
        ])),
        ...results.flatMap((r) =>
          r.planted === undefined || r.planted.spearman_full >= 0.9
            ? []
            : [{
                level: "warning" as const, code: "planted-recovery",
                message: `${r.template}: utilities rank-correlate ${r.planted.spearman_full.toFixed(3)} with the planted valences (below 0.9); more pairs per task or samples would tighten the fit`
              }]
        )
      ]
      const summary = {
        probe_template: p.template,
        layers: p.layers,
        position: p.position,
        templates: results.map(({ position_bias: pb, ...rest }) => {
          const { chosen_first: _, ...bias } = pb
          return { ...rest, position_bias: bias }
        })
      }
      const body: ReportBody = {
        title: "Utilities from revealed choices",
        configSummary: params.config,
        sections: [
          {
            heading: "Fits and held-out pair accuracy",
            text:
              (templates.length === 0 ? "The experiment has no revealed template, so there are no choices to fit.\n\n" : "") +
              "Each revealed template asks the model to pick one of two tasks, in both orders. Refusals and unparsed answers are never counted as choices. " +
              "Thurstonian Case V gives every task a utility μ with unit noise; the full model also fits a noise σ per task (with a prior keeping σ near 1); TrueSkill rates the choices online. " +
              `To score them honestly, ${100 * heldOutFraction}% of the distinct pairs (seeded) are held out, every model is refitted on the rest, and its accuracy is the share of held-out choices whose chosen task has the higher utility (a tie counts ½). ` +
              "The negative log-likelihood is of the fit on all choices.",
            tables: [fitsTable],
            figures: figures.filter((x) => x.name === "held_out_accuracy")
          },
          {
            heading: "Utilities by dataset",
            text: "Mean full-fit μ of the tasks of each dataset. Utilities are identified up to a shift, so compare datasets with each other, not with zero.",
            tables: [datasetTable],
            figures: figures.filter((x) => x.name === "utilities_by_dataset")
          },
          {
            heading: "Position bias",
            text:
              "P(choose first) is the share of choices that picked the task shown as Task A, with a Wilson 95% interval; 0.5 means no bias. " +
              "Because each pair is asked in both orders, ½(P(first | x, y) + P(first | y, x)) averaged over pairs (`balanced_first_rate`) is the position effect with the tasks' own appeal cancelled. " +
              "`mean_abs_error_full` compares each pair's order-cancelled choice rate with the full fit's P(x beats y).",
            tables: [biasTable]
          },
          {
            heading: "Probes of the utilities",
            text:
              p.template === null
                ? "The experiment has no scored template whose prompt activations could be probed."
                : `Ridge probes read the activations of each task's \`${p.template}\` prompt (${p.position}) and predict the full-fit μ estimated from the training pairs only. ` +
                  "R² and Pearson r are out-of-fold (folds by task, alpha chosen inside each training fold), with 95% bootstrap intervals over tasks; the pair accuracy scores the out-of-fold predictions on the held-out pairs, comparable with the fits' own held-out accuracy.",
            tables: [probeTable]
          },
          ...(truth === undefined
            ? []
            : [{
                heading: "Recovery of the planted preferences",
                text: "For the planted-preference organism: Spearman correlation of each fit's utilities with the planted task valences (acceptance: ≥ 0.9 for the full fit).",
                tables: [plantedTable],
                figures: figures.filter((x) => x.name.startsWith("planted_"))
              }]),
          { heading: "Utilities per task", tables: [taskTable] }
        ],
        diagnostics,
        summary
      }
      return { document: Artifact.json(body) }
    })
})

/** `pipeline build reports/utilities`: Thurstonian and TrueSkill utilities of every revealed template, with probes and diagnostics. */
export const target = reportTarget("utilities from revealed choices: fits, held-out accuracy, datasets, position bias, probes", (config: ExperimentConfig) => {
  const g = experimentGraph(config)
  const inputs: Record<string, Stage.Node> = {}
  for (const t of config.templates) if (t.kind === "revealed") inputs[`utilities:${t.id}`] = utilitiesNode(g, t)
  const probe = probeTemplate(config)
  // Probes on utilities read activations, which a model served over HTTP gives only through activations.model.
  if (probe !== undefined && g.localModel !== undefined) inputs.activations = g.activations(probe)
  if (g.truth !== undefined) inputs.truth = g.truth
  const params = {
    layers: [...config.activations.layers],
    position: config.activations.selectors[0]!,
    alphas: [...config.probes.alphas],
    folds: config.probes.folds,
    alphaSelection: config.probes.alphaSelection,
    alphaRule: config.probes.alphaRule,
    bootstrap: config.probes.bootstrap,
    seed: config.seed,
    template: probe?.id ?? null
  }
  return Stage.node(utilitiesReport, { label: "utilities", params: { config: configSummary(config) as Record<string, unknown>, probes: params }, inputs })
})
