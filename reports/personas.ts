/**
 * `pipeline build reports/personas`: how much each persona (system prompt) moves ratings and choices, how stable each
 * persona's answers are, and whether probes trained under one persona (`probes.trainPersona`, default the first)
 * track the shift another persona causes.
 *
 * summary.json `summary` (intervals are `{ estimate, lo, hi }`, 95% percentile bootstrap over tasks; null where a
 * statistic is undefined):
 * - `trained_persona`, `personas` (ids in config order)
 * - `findings[]`: `{ persona, template, layer, verdict, shift_r, ceiling, slope, n, raw_shift_r, outside_share }` for every
 *   persona but the trained one and every scored template, at the layer whose probe predicts the trained persona's
 *   answers best (out-of-fold R²); shift_r and slope are those of the shift predicted by the probe's learned directions
 *   (its weights within the directions the trained persona's activations vary along; raw_shift_r: the unprojected
 *   probe's); `verdict` is `tracks` (shift_r's interval above 0), `opposite` (below 0), `does_not_track` (it contains 0)
 *   or `undefined` (the probe predicts the same shift for every task)
 * - `ratings[]`: `{ template, persona, dataset, n_tasks, mean, shift, n_shift }`: the mean over tasks of each task's mean
 *   normalized answer (0-1 by the template's declared range), per dataset and over all tasks (`dataset` "all"), and
 *   the mean over tasks answered under both of (this persona's task mean − the trained persona's); shift null for the
 *   trained persona
 * - `stability[]`: `{ template, persona, samples, n_tasks, single_sample_r, noise_ceiling }`: the single-sample
 *   cross-seed r averaged over every pair of samples (tasks with every sample parsed) and its Spearman-Brown ceiling
 * - `utilities[]`: `{ template, persona, n_tasks, n_choices, held_out_accuracy, spearman_with_trained, n_shared,
 *   by_dataset: { <origin>: { mu, lo, hi, n } } }` for revealed templates: the full Thurstonian fit's held-out pair
 *   accuracy and the Spearman correlation of its utilities with the trained persona's over the tasks both rated
 * - `planted[]` (organism only): `{ persona, keyword, channel, template, dataset, planted_valence_shift, expected_shift,
 *   measured_shift, recovered, expected_verdict }`: the planted persona each system prompt switches on, its valence
 *   shift on the dataset relative to the trained persona's, the closed-form expected answer's shift over the tasks the
 *   measured shift averages, whether it lies in the measured shift's interval (null when that interval is one point),
 *   and what a probe should do with the shift
 *   (`tracks` for the direction channel, `does_not_track` for the behaviour channel)
 * - `transfer[]`: `{ template, layer, persona, measure, n, alpha, trained: { r2, r2_mean_adjusted, pearson_r },
 *   transfer: { r2, r2_mean_adjusted, pearson_r }, shift: { pearson_r, slope, mean_measured, mean_predicted,
 *   sd_measured, sd_predicted, ceiling, in_span, outside_share }, verdict }` (see stages/probeTransfer.ts)
 */
import { Effect, Schema } from "effect"
import { type Template, templateRange } from "../elicitation/Template"
import * as Artifact from "../pipeline/Artifact"
import { type ExperimentConfig, personasOf } from "../pipeline/Config"
import * as Stage from "../pipeline/Stage"
import { type IntervalJson, probeTransferStage, type TransferEvaluation } from "../stages/probeTransfer"
import { fromTable } from "../stages/tables"
import { taskRows } from "../stages/taskRows"
import type { UtilityFits } from "../stages/utilities"
import { bootstrapByTask, type Interval } from "../stats/bootstrap"
import { spearman } from "../stats/metrics"
import { meanPairwiseR, noiseCeiling } from "../stats/reliability"
import { type ExperimentGraph, experimentGraph, type PersonaGraph, scoredTemplates } from "./experiment"
import { collapse, type Diagnostic, fewTasks, parseFailures } from "./render/diagnostics"
import { facetedScatter, type Figure, intervalBarChart } from "./render/figures"
import type { Table } from "./render/tables"
import { configSummary, type ReportBody, reportTarget } from "./reportTarget"
import { completeSamples } from "./seed_sensitivity"
import type { TaskUtility } from "./utilities"
import { utilitiesNode } from "./utilities"

const f = (name: string) => ({ name, type: "float64" as const })
const s = (name: string) => ({ name, type: "utf8" as const })
const i = (name: string) => ({ name, type: "int32" as const })
const b = (name: string) => ({ name, type: "bool" as const })

const safeName = (x: string) => x.replace(/[^A-Za-z0-9._-]/g, "_")
const finite = (x: number) => (Number.isFinite(x) ? x : null)
const json = (x: Interval): IntervalJson => ({ estimate: finite(x.estimate), lo: finite(x.lo), hi: finite(x.hi), resamples: x.resamples })
const mean = (xs: ArrayLike<number>) => {
  let sum = 0
  for (let k = 0; k < xs.length; k++) sum += xs[k]!
  return sum / xs.length
}
const fmt = (x: number | null, digits = 2) => (x === null ? "undefined" : x.toFixed(digits))
const fmtInterval = (x: IntervalJson, digits = 2) =>
  x.estimate === null ? "undefined" : `${fmt(x.estimate, digits)} [${fmt(x.lo, digits)}, ${fmt(x.hi, digits)}]`

/** Whether a probe's predicted shift tracks the measured one, from the interval of their correlation over tasks. */
export type Verdict = "tracks" | "opposite" | "does_not_track" | "undefined"

/** `tracks` when the shift correlation's 95% interval lies above 0, `opposite` below, `does_not_track` when it holds 0. */
export const verdictOf = (r: IntervalJson): Verdict =>
  r.estimate === null || r.lo === null || r.hi === null ? "undefined" : r.lo > 0 ? "tracks" : r.hi < 0 ? "opposite" : "does_not_track"

const verdictText: Record<Verdict, string> = {
  tracks: "the probe tracks its shift",
  opposite: "the probe's predicted shift runs opposite to the measured one",
  does_not_track: "the probe does not track its shift",
  undefined: "the probe predicts the same shift for every task, so it does not track the shift"
}

/** The `probe_transfer[<template>|<persona>@<layer>]` node: the trained persona's probe read under `persona`. */
export const transferNode = (g: ExperimentGraph, persona: PersonaGraph, t: Template, layer: number): Stage.Node =>
  Stage.node(probeTransferStage, {
    label: `${persona.label(t.id)}@${layer}`,
    params: {
      template_id: t.id,
      layer,
      position: g.config.activations.selectors[0]!,
      probes: {
        alphas: g.config.probes.alphas,
        folds: g.config.probes.folds,
        alphaSelection: g.config.probes.alphaSelection,
        alphaRule: g.config.probes.alphaRule,
        bootstrap: g.config.probes.bootstrap
      },
      seed: g.config.seed
    },
    inputs: { trained_scores: g.scores(t), trained_activations: g.activations(t), scores: persona.scores(t), activations: persona.activations(t), tasks: g.tasks },
    configPaths: { probes: "probes", seed: "seed" }
  })

/** The parts of the organism's ground truth (model/Organism.ts) this report reads. */
interface PersonaTruth {
  readonly expected: ReadonlyArray<{ task_id: string; template_id: string; persona_id: string; expected_value: number }>
  readonly personas: ReadonlyArray<{ id: string; keyword: string | null; channel: "direction" | "behaviour" | null; shifts: Readonly<Record<string, number>> }>
}

interface ScoreRow {
  readonly task_id: string
  readonly sample: number
  readonly value: number | null
  readonly normalized: number | null
  readonly tier: string
}

/** Each task's mean normalized answer (parsed answers only). */
const taskMeans = (rows: ReadonlyArray<ScoreRow>): Map<string, number> => {
  const sums = new Map<string, { sum: number; n: number }>()
  for (const r of rows) {
    if (r.normalized === null) continue
    const acc = sums.get(r.task_id) ?? { sum: 0, n: 0 }
    sums.set(r.task_id, { sum: acc.sum + r.normalized, n: acc.n + 1 })
  }
  return new Map([...sums].map(([task, { sum, n }]) => [task, sum / n]))
}

const Params = Schema.Struct({
  config: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
  trained: Schema.String,
  personas: Schema.Array(Schema.String),
  scored: Schema.Array(Schema.String),
  /** Each scored template's declared range, which maps the planted truth's expected answers to 0-1. */
  ranges: Schema.Record({ key: Schema.String, value: Schema.Struct({ min: Schema.Number, max: Schema.Number }) }),
  revealed: Schema.Array(Schema.String),
  layers: Schema.Array(Schema.Int),
  samples: Schema.Int,
  bootstrap: Schema.Struct({ resamples: Schema.Int, seed: Schema.Int })
})

/** The personas report: rating shifts, stability, revealed utilities and probe transfer across personas. */
export const personasReport = Stage.make({
  name: "report_personas",
  version: 1,
  params: Params,
  run: ({ inputs, params }) =>
    Effect.sync(() => {
      const { trained, personas, bootstrap } = params
      const others = personas.filter((p) => p !== trained)
      const origin = new Map(taskRows(inputs.tasks!.table("tasks")).map((t) => [t.task_id, t.origin]))
      const datasets = [...new Set(origin.values())].sort()
      const interval = (tasks: ReadonlyArray<string>, values: ArrayLike<number>) =>
        json(bootstrapByTask(tasks, (rows) => mean(Float64Array.from(rows, (r) => values[r]!)), bootstrap))

      // Ratings and their shift from the trained persona, per template × persona × dataset.
      const scores = new Map<string, ScoreRow[]>()
      for (const t of params.scored) for (const p of personas) scores.set(`${t}|${p}`, fromTable<ScoreRow>(inputs[`scores:${t}|${p}`]!.table("scores")))
      const means = new Map([...scores].map(([k, rows]) => [k, taskMeans(rows)]))
      const ratings = params.scored.flatMap((t) =>
        personas.flatMap((p) =>
          ["all", ...datasets].flatMap((dataset) => {
            const own = means.get(`${t}|${p}`)!
            const base = means.get(`${t}|${trained}`)!
            const inDataset = [...own.keys()].filter((task) => dataset === "all" || origin.get(task) === dataset).sort()
            if (inDataset.length === 0) return []
            const paired = p === trained ? [] : inDataset.filter((task) => base.has(task))
            return [{
              template: t, persona: p, dataset, n_tasks: inDataset.length,
              mean: interval(inDataset, inDataset.map((task) => own.get(task)!)),
              shift: paired.length === 0 ? null : interval(paired, paired.map((task) => own.get(task)! - base.get(task)!)),
              n_shift: paired.length,
              paired
            }]
          })
        )
      )

      // Stability: single-sample cross-seed r (every pair of samples) and its Spearman-Brown ceiling.
      const stability = params.scored.flatMap((t) =>
        personas.flatMap((p) => {
          const complete = completeSamples(scores.get(`${t}|${p}`)!, params.samples)
          if (params.samples < 2 || complete.tasks.length < 3) return []
          const r1 = bootstrapByTask(complete.tasks, (rows) => meanPairwiseR(complete.values, rows), bootstrap)
          return [{ template: t, persona: p, samples: params.samples, n_tasks: complete.tasks.length, single_sample_r: json(r1), noise_ceiling: finite(noiseCeiling(r1.estimate, params.samples)) }]
        })
      )

      // Revealed choices: utilities per persona and their rank agreement with the trained persona's.
      const fitted = new Map(
        params.revealed.flatMap((t) =>
          personas.map((p) => {
            const loaded = inputs[`utilities:${t}|${p}`]!
            return [`${t}|${p}`, { fits: loaded.json<UtilityFits>("fits"), tasks: fromTable<TaskUtility>(loaded.table("utilities")) }] as const
          })
        )
      )
      const utilities = params.revealed.flatMap((t) =>
        personas.map((p) => {
          const { fits, tasks } = fitted.get(`${t}|${p}`)!
          const base = new Map(fitted.get(`${t}|${trained}`)!.tasks.map((u) => [u.task_id, u.mu]))
          const shared = tasks.filter((u) => base.has(u.task_id))
          const rho = p === trained || shared.length < 3
            ? null
            : json(bootstrapByTask(shared.map((u) => u.task_id), (rows) => spearman(Float64Array.from(rows, (r) => shared[r]!.mu), Float64Array.from(rows, (r) => base.get(shared[r]!.task_id)!)), bootstrap))
          const byDataset = Object.fromEntries(
            datasets.flatMap((d) => {
              const own = tasks.filter((u) => u.origin === d)
              if (own.length === 0) return []
              const mu = interval(own.map((u) => u.task_id), own.map((u) => u.mu))
              return [[d, { mu: mu.estimate, lo: mu.lo, hi: mu.hi, n: own.length }]]
            })
          )
          return {
            template: t, persona: p, n_tasks: fits.n_tasks, n_choices: fits.n_choices, tiers: fits.tiers,
            held_out_accuracy: finite(fits.fits.full.held_out.accuracy), spearman_with_trained: rho, n_shared: shared.length, by_dataset: byDataset
          }
        })
      )

      // Probes across personas.
      const transfers = params.scored.flatMap((t) =>
        params.layers.flatMap((layer) =>
          others.map((p) => {
            const loaded = inputs[`transfer:${t}|${p}@${layer}`]!
            const e = loaded.json<TransferEvaluation>("transfer")
            const tasks = fromTable<{ task_id: string; origin: string; target_trained: number; target: number; predicted_trained: number; predicted: number; predicted_shift_in_span: number }>(loaded.table("tasks"))
            return { template: t, layer, persona: p, e, tasks, verdict: verdictOf(e.shift.in_span.pearson_r), rawVerdict: verdictOf(e.shift.pearson_r) }
          })
        )
      )
      // The probe a researcher would read: per template, the layer whose probe predicts the trained persona best.
      const bestLayer = new Map(
        params.scored.flatMap((t) => {
          const own = transfers.filter((x) => x.template === t)
          if (own.length === 0) return []
          const best = own.reduce((a, b) => ((b.e.trained.r2.estimate ?? -Infinity) > (a.e.trained.r2.estimate ?? -Infinity) ? b : a))
          return [[t, best.layer] as const]
        })
      )
      const findings = transfers
        .filter((x) => bestLayer.get(x.template) === x.layer)
        .map((x) => ({
          persona: x.persona, template: x.template, layer: x.layer, verdict: x.verdict, shift_r: x.e.shift.in_span.pearson_r, ceiling: x.e.shift.ceiling,
          slope: x.e.shift.in_span.slope, n: x.e.n_tasks, raw_shift_r: x.e.shift.pearson_r, outside_share: x.e.shift.outside_share
        }))

      // The organism's planted truth, when every persona has one: what each persona switches on, and the expected
      // answers' shift over the very tasks each measured shift averages.
      const truths = new Map(personas.flatMap((p) => (inputs[`truth:${p}`] === undefined ? [] : [[p, inputs[`truth:${p}`]!.json<PersonaTruth>("truth")] as const])))
      const plantedOf = (p: string) => truths.get(p)?.personas.find((x) => x.id === p)
      const planted = truths.size < personas.length
        ? []
        : others.flatMap((p) => {
            const own = plantedOf(p)!
            const base = plantedOf(trained)!
            return params.scored.flatMap((t) => {
              const expected = (persona: string) => {
                const { min, max } = params.ranges[t]!
                return new Map(truths.get(persona)!.expected.filter((e) => e.template_id === t && e.persona_id === persona).map((e) => [e.task_id, (e.expected_value - min) / (max - min)]))
              }
              const ep = expected(p)
              const et = expected(trained)
              return ratings.flatMap((cell) => {
                if (cell.template !== t || cell.persona !== p || cell.shift === null) return []
                const tasks = cell.paired.filter((task) => ep.has(task) && et.has(task))
                if (tasks.length === 0) return []
                const expectedShift = mean(tasks.map((task) => ep.get(task)! - et.get(task)!))
                return [{
                  persona: p, keyword: own.keyword, channel: own.channel, template: t, dataset: cell.dataset,
                  planted_valence_shift: cell.dataset === "all" ? null : (own.shifts[cell.dataset] ?? 0) - (base.shifts[cell.dataset] ?? 0),
                  expected_shift: expectedShift, measured_shift: cell.shift,
                  // A degenerate interval (every task answered alike under both personas, as the same seeds draw both) resolves nothing.
                  recovered: cell.shift.lo === null || cell.shift.hi === null || cell.shift.lo === cell.shift.hi
                    ? null
                    : cell.shift.lo <= expectedShift && expectedShift <= cell.shift.hi
                }]
              })
            })
          })
      // What a probe should do with each persona's shift, from its planted channel relative to the trained persona's.
      const expectedVerdict = (p: string): "tracks" | "does_not_track" | null => {
        const own = plantedOf(p)
        const base = plantedOf(trained)
        if (own === undefined || base === undefined) return null
        const moved = (channel: "direction" | "behaviour") => (x: typeof own) => x.channel === channel && Object.values(x.shifts).some((v) => v !== 0)
        if (moved("direction")(own) || moved("direction")(base)) return "tracks"
        return moved("behaviour")(own) || moved("behaviour")(base) ? "does_not_track" : null
      }

      const findingLines = others.map((p) => {
        const shifts = ratings
          .filter((r) => r.persona === p && r.dataset === "all" && r.shift !== null)
          .map((r) => `${r.template} ${fmtInterval(r.shift!)}`)
        const probes = findings
          .filter((x) => x.persona === p)
          .map((x) =>
            `${verdictText[x.verdict]} on ${x.template} at layer ${x.layer} (shift r = ${fmtInterval(x.shift_r)} over ${x.n} tasks, at most ${fmt(x.ceiling)} through the measurement's noise; slope ${fmt(x.slope.estimate)})` +
            (verdictOf(x.raw_shift_r) === x.verdict
              ? ""
              : `, though the raw probe's prediction gives r = ${fmtInterval(x.raw_shift_r)}: ${fmt(x.outside_share === null ? null : 100 * x.outside_share, 0)}% of the activation change lies along directions that never varied under ${trained}, where the probe's weights come from its standardization, not from data`)
          )
        const choices = utilities
          .filter((u) => u.persona === p && u.spearman_with_trained !== null)
          .map((u) => `utilities from ${u.template} rank-correlate ${fmtInterval(u.spearman_with_trained!)} with ${trained}'s`)
        const own = plantedOf(p)
        const expectation = expectedVerdict(p)
        const plantedText = own === undefined
          ? []
          : [own.keyword === null
              ? "the organism plants nothing for its system prompt"
              : `planted: "${own.keyword}" on the ${own.channel} channel, so a probe ${expectation === "tracks" ? "should track" : "should not track"} its shift` +
                (findings.some((x) => x.persona === p) ? (findings.filter((x) => x.persona === p).every((x) => (x.verdict === "tracks") === (expectation === "tracks")) ? " (as found)" : " (not as found)") : "")]
        return `- **${p}** (against ${trained}): ` +
          [
            shifts.length === 0 ? "no scored template" : `mean normalized rating shift ${shifts.join(", ")}`,
            ...probes,
            ...choices,
            ...plantedText
          ].join("; ") + "."
      })

      const ratingsTable: Table = {
        name: "ratings",
        columns: [s("template"), s("persona"), s("dataset"), i("n_tasks"), f("mean"), f("mean_lo"), f("mean_hi"), i("n_shift"), f("shift"), f("shift_lo"), f("shift_hi")],
        rows: ratings.map((r) => ({
          template: r.template, persona: r.persona, dataset: r.dataset, n_tasks: r.n_tasks, mean: r.mean.estimate, mean_lo: r.mean.lo, mean_hi: r.mean.hi,
          n_shift: r.n_shift, shift: r.shift?.estimate ?? null, shift_lo: r.shift?.lo ?? null, shift_hi: r.shift?.hi ?? null
        }))
      }
      const stabilityTable: Table = {
        name: "stability",
        columns: [s("template"), s("persona"), i("samples"), i("n_tasks"), f("single_sample_r"), f("single_sample_r_lo"), f("single_sample_r_hi"), f("noise_ceiling")],
        rows: stability.map((x) => ({
          template: x.template, persona: x.persona, samples: x.samples, n_tasks: x.n_tasks, single_sample_r: x.single_sample_r.estimate,
          single_sample_r_lo: x.single_sample_r.lo, single_sample_r_hi: x.single_sample_r.hi, noise_ceiling: x.noise_ceiling
        }))
      }
      const utilitiesTable: Table = {
        name: "utilities",
        columns: [s("template"), s("persona"), i("n_tasks"), i("n_choices"), f("held_out_accuracy"), i("n_shared"), f("spearman_with_trained"), f("spearman_lo"), f("spearman_hi")],
        rows: utilities.map((u) => ({
          template: u.template, persona: u.persona, n_tasks: u.n_tasks, n_choices: u.n_choices, held_out_accuracy: u.held_out_accuracy, n_shared: u.n_shared,
          spearman_with_trained: u.spearman_with_trained?.estimate ?? null, spearman_lo: u.spearman_with_trained?.lo ?? null, spearman_hi: u.spearman_with_trained?.hi ?? null
        }))
      }
      const utilitiesByDataset: Table = {
        name: "utilities_by_dataset",
        columns: [s("template"), s("persona"), s("origin"), i("n"), f("mu"), f("mu_lo"), f("mu_hi")],
        rows: utilities.flatMap((u) => Object.entries(u.by_dataset).map(([o, d]) => ({ template: u.template, persona: u.persona, origin: o, n: d.n, mu: d.mu, mu_lo: d.lo, mu_hi: d.hi })))
      }
      const iv = (prefix: string, x: IntervalJson) => ({ [prefix]: x.estimate, [`${prefix}_lo`]: x.lo, [`${prefix}_hi`]: x.hi })
      const ivColumns = (prefix: string) => [f(prefix), f(`${prefix}_lo`), f(`${prefix}_hi`)]
      const transferTable: Table = {
        name: "transfer",
        columns: [
          s("template"), i("layer"), s("persona"), s("measure"), i("n"), f("alpha"), f("trained_r2"), ...ivColumns("r2"), ...ivColumns("r2_mean_adjusted"), ...ivColumns("pearson_r"),
          ...ivColumns("shift_r"), ...ivColumns("shift_slope"), ...ivColumns("mean_measured_shift"), ...ivColumns("mean_predicted_shift"), f("shift_r_ceiling"),
          f("outside_share"), ...ivColumns("raw_shift_r"), ...ivColumns("raw_mean_predicted_shift"), s("verdict")
        ],
        rows: transfers.map((x) => ({
          template: x.template, layer: x.layer, persona: x.persona, measure: x.e.measure, n: x.e.n_tasks, alpha: x.e.probe.alpha, trained_r2: x.e.trained.r2.estimate,
          ...iv("r2", x.e.transfer.r2), ...iv("r2_mean_adjusted", x.e.transfer.r2_mean_adjusted), ...iv("pearson_r", x.e.transfer.pearson_r),
          ...iv("shift_r", x.e.shift.in_span.pearson_r), ...iv("shift_slope", x.e.shift.in_span.slope), ...iv("mean_measured_shift", x.e.shift.mean_measured),
          ...iv("mean_predicted_shift", x.e.shift.in_span.mean_predicted), shift_r_ceiling: x.e.shift.ceiling, outside_share: x.e.shift.outside_share,
          ...iv("raw_shift_r", x.e.shift.pearson_r), ...iv("raw_mean_predicted_shift", x.e.shift.mean_predicted), verdict: x.verdict
        }))
      }
      const shiftTasksTable: Table = {
        name: "shift_tasks",
        columns: [s("template"), i("layer"), s("persona"), s("task_id"), s("origin"), f("measured_shift"), f("predicted_shift"), f("raw_predicted_shift")],
        rows: transfers.flatMap((x) =>
          x.tasks.map((k) => ({
            template: x.template, layer: x.layer, persona: x.persona, task_id: k.task_id, origin: k.origin, measured_shift: k.target - k.target_trained,
            predicted_shift: k.predicted_shift_in_span, raw_predicted_shift: k.predicted - k.predicted_trained
          }))
        )
      }

      const plantedTable: Table = {
        name: "planted",
        columns: [s("persona"), s("keyword"), s("channel"), s("template"), s("dataset"), f("planted_valence_shift"), f("expected_shift"), ...ivColumns("measured_shift"), b("recovered")],
        rows: planted.map((x) => ({
          persona: x.persona, keyword: x.keyword, channel: x.channel, template: x.template, dataset: x.dataset, planted_valence_shift: x.planted_valence_shift,
          expected_shift: x.expected_shift, ...iv("measured_shift", x.measured_shift), recovered: x.recovered
        }))
      }
      const bars = (rows: ReadonlyArray<{ category: string; group: string; x: IntervalJson | null }>) =>
        rows.flatMap((r) => (r.x === null || r.x.estimate === null || r.x.lo === null || r.x.hi === null ? [] : [{ category: r.category, group: r.group, value: r.x.estimate, lo: r.x.lo, hi: r.x.hi }]))
      const figures: Figure[] = []
      for (const t of params.scored) {
        const own = ratings.filter((r) => r.template === t)
        const level = bars(own.map((r) => ({ category: r.dataset, group: r.persona, x: r.mean })))
        if (level.length > 0) {
          figures.push(intervalBarChart({
            name: safeName(`ratings_${t}`), title: `Mean normalized rating by persona: ${t}`,
            subtitle: "Mean over tasks of each task's mean answer (0-1); whiskers: 95% bootstrap interval over tasks",
            rows: level, categoryTitle: "dataset", groupTitle: "persona", valueTitle: "mean normalized rating"
          }))
        }
        const shift = bars(own.map((r) => ({ category: r.dataset, group: r.persona, x: r.shift })))
        if (shift.length > 0) {
          figures.push(intervalBarChart({
            name: safeName(`shift_${t}`), title: `Rating shift from ${trained}: ${t}`,
            subtitle: `Mean over tasks of (persona's task mean − ${trained}'s); whiskers: 95% interval over tasks`,
            rows: shift, categoryTitle: "dataset", groupTitle: "persona", valueTitle: "rating shift (0-1)"
          }))
        }
        for (const layer of params.layers) {
          const points = transfers
            .filter((x) => x.template === t && x.layer === layer)
            .flatMap((x) => x.tasks.map((k) => ({ panel: x.persona, group: k.origin, x: k.predicted_shift_in_span, y: k.target - k.target_trained })))
          if (points.length > 0) {
            figures.push(facetedScatter({
              name: safeName(`shift_tracking_${t}_L${layer}`),
              title: `Predicted vs measured shift: ${t}, layer ${layer}`,
              subtitle: `Per task, out of fold; probe trained under ${trained}, learned directions`,
              points, xTitle: "predicted shift", yTitle: "measured shift", panelTitle: "persona", groupTitle: "dataset"
            }))
          }
        }
      }
      const stabilityBars = bars(stability.map((x) => ({ category: x.template, group: x.persona, x: x.single_sample_r })))
      if (stabilityBars.length > 0) {
        figures.push(intervalBarChart({
          name: "stability", title: "Single-sample cross-seed correlation by persona",
          subtitle: "Mean Pearson r over every pair of samples; whiskers: 95% bootstrap interval over tasks",
          rows: stabilityBars, categoryTitle: "template", groupTitle: "persona", valueTitle: "single-sample r"
        }))
      }

      const label = (t: string, p: string) => `${t} under persona ${p}`
      const diagnostics: Diagnostic[] = [
        ...collapse([...scores].map(([k, rows]) => ({ templateId: label(...(k.split("|") as [string, string])), values: rows.map((r) => r.value) }))),
        ...parseFailures([...scores].map(([k, rows]) => ({ templateId: label(...(k.split("|") as [string, string])), failed: rows.filter((r) => r.tier === "failed").length, total: rows.length }))),
        ...parseFailures(utilities.map((u) => ({ templateId: label(u.template, u.persona), failed: u.tiers.failed ?? 0, total: Object.values(u.tiers).reduce((a, b) => a + b, 0) }))),
        ...fewTasks([
          ...transfers.map((x) => ({ label: `${x.template} layer ${x.layer}, shift of ${x.persona}`, n: x.e.n_tasks })),
          ...stability.map((x) => ({ label: `${label(x.template, x.persona)}, cross-seed r`, n: x.n_tasks })),
          ...utilities.filter((u) => u.spearman_with_trained !== null).map((u) => ({ label: `${label(u.template, u.persona)}, Spearman with ${trained}`, n: u.n_shared }))
        ]),
        ...transfers
          .filter((x) => x.rawVerdict !== x.verdict)
          .map((x): Diagnostic => ({
            level: "warning", code: "extrapolated-shift",
            message:
              `${x.template} layer ${x.layer}, ${x.persona}: the ${trained}-trained probe's raw predicted shift (r = ${fmtInterval(x.e.shift.pearson_r)}) and the shift its learned directions predict (r = ${fmtInterval(x.e.shift.in_span.pearson_r)}) disagree; ` +
              `${fmt(x.e.shift.outside_share === null ? null : 100 * x.e.shift.outside_share, 0)}% of the activation change lies along directions that never varied under ${trained}, where the raw prediction is extrapolation`
          })),
        ...transfers
          .filter((x) => x.verdict === "undefined")
          .map((x): Diagnostic => ({
            level: "warning", code: "constant-prediction",
            message: `${x.template} layer ${x.layer}: the ${trained}-trained probe predicts the same shift for every task of ${x.persona} (its activations differ from ${trained}'s by a constant along the probe), so its shift correlation is undefined`
          }))
      ]

      const body: ReportBody = {
        title: "Personas: how system prompts shift preferences, and whether probes track the shift",
        configSummary: params.config,
        sections: [
          {
            heading: "Findings",
            text:
              (others.length === 0
                ? `The experiment has one persona (${trained}); list several under \`personas\` to compare them.`
                : `Probes are trained under ${trained} (\`probes.trainPersona\`). Per persona, the rating shift over all tasks per template, and per template whether the probe at the layer that predicts ${trained} best tracks the persona's shift (its 95% interval of the per-task correlation between predicted and measured shift lies above 0):\n\n` +
                  findingLines.join("\n"))
          },
          {
            heading: "Ratings by persona and dataset",
            text:
              "Each task's answers are mapped to 0-1 by the template's declared range and averaged per task; a cell is the mean of those task means (each task weighs the same), " +
              `and its shift is the mean over the tasks answered under both personas of (the persona's task mean − ${trained}'s), so that the same tasks are compared. Intervals resample tasks.`,
            tables: [ratingsTable],
            figures: figures.filter((x) => x.name.startsWith("ratings_") || (x.name.startsWith("shift_") && !x.name.startsWith("shift_tracking_")))
          },
          {
            heading: "Stability of each persona's answers",
            text:
              `Each task was asked ${params.samples} times with different seeds. The single-sample r is the Pearson correlation across tasks between two samples, averaged over every pair of samples (tasks with every sample parsed); ` +
              `the noise ceiling is its Spearman-Brown reliability for the mean of all ${params.samples}, the most variance a probe of that mean can explain. A persona with a lower r has less stable preferences.`,
            tables: [stabilityTable],
            figures: figures.filter((x) => x.name === "stability")
          },
          {
            heading: "Revealed choices by persona",
            text:
              params.revealed.length === 0
                ? "The experiment has no revealed template."
                : `Thurstonian utilities (σ per task) fitted to each persona's pairwise choices; the held-out accuracy is on a seeded 20% of the pairs, and the Spearman correlation compares each persona's utilities with ${trained}'s over the tasks both rated (interval: bootstrap over tasks). Utilities are identified up to a shift, so compare datasets within a persona.`,
            tables: [utilitiesTable, utilitiesByDataset]
          },
          {
            heading: "Probes across personas",
            text:
              `For each template and layer, a Ridge probe is trained on ${trained}'s activations and per-task targets and read on the same tasks under every other persona. ` +
              "A task's target (`measure`) is its expected normalized answer from option probabilities when every answer of both personas has them (local models: no sampling noise), else its mean parsed answer. " +
              "Predictions are out of fold over tasks (`probes.folds` folds): a task is never predicted by a probe trained on it. " +
              "R², mean-adjusted R² and Pearson r score the predictions against the other persona's targets. " +
              `The predicted shift of a task is the probe's prediction under the persona minus its prediction under ${trained}; the measured shift is the same difference of targets. ` +
              "Their Pearson r over tasks (with a bootstrap interval) says whether the probe sees which tasks the persona moves and by how much relative to each other; the slope of measured on predicted says whether it gets the size (1: exactly). " +
              "A Ridge probe on standardized activations also puts weight on directions that never varied among its training activations: each coordinate's scale, not any target, sets it there. " +
              `A persona that moves activations along such directions gets a predicted shift from them that no training data supports (and whose sign is an accident of the scales), so the predicted shift above is the probe's weights projected onto the directions ${trained}'s activations varied along (standard deviation above 1e-4 of the largest, in each fold's training tasks): the shift the probe learned to read. ` +
              "`outside_share` is the mean share of a task's activation change that lies outside those directions; `raw_shift_r` is the correlation of the unprojected prediction, what the probe as fitted outputs. " +
              "`shift_r_ceiling` is the highest r any predictor could reach through the sampling noise of the measured shift: the square root of its split-half reliability (shifts from even and from odd samples, correlated across tasks, Spearman-Brown); a shift r near its ceiling is as good as the measurement allows.",
            tables: [transferTable, shiftTasksTable],
            figures: figures.filter((x) => x.name.startsWith("shift_tracking_"))
          },
          ...(truths.size < personas.length
            ? []
            : [{
                heading: "Planted personas (organism)",
                text:
                  "What the organism plants for each persona's system prompt: the keyword it switches on, the channel (`direction`: along the planted preference direction, which a probe should track; `behaviour`: a channel of its own that moves every answer but nothing a probe reads) and the valence shift per dataset relative to " +
                  `${trained}. \`expected_shift\` is the closed-form expected answer's shift (0-1) averaged over the same tasks as the measured shift; \`recovered\` says whether it lies in the measured shift's 95% interval ` +
                  "(empty when that interval is a single point: the same seeds draw every persona's answers, so a shift too small to flip any sampled answer measures as exactly 0).",
                tables: [plantedTable]
              }])
        ],
        diagnostics,
        summary: {
          trained_persona: trained,
          personas,
          findings,
          ratings: ratings.map((r) => ({ template: r.template, persona: r.persona, dataset: r.dataset, n_tasks: r.n_tasks, mean: r.mean, shift: r.shift, n_shift: r.n_shift })),
          stability,
          planted: planted.map((x) => ({ ...x, expected_verdict: expectedVerdict(x.persona) })),
          utilities: utilities.map(({ tiers: _, ...u }) => u),
          transfer: transfers.map((x) => ({
            template: x.template, layer: x.layer, persona: x.persona, measure: x.e.measure, n: x.e.n_tasks, alpha: x.e.probe.alpha,
            trained: x.e.trained, transfer: x.e.transfer, shift: x.e.shift, verdict: x.verdict
          }))
        }
      }
      return { document: Artifact.json(body) }
    })
})

/** The personas report's node: every persona's scores and revealed utilities, and every other persona's probe transfer. */
export const personasNode = (config: ExperimentConfig): Stage.Node => {
  const g = experimentGraph(config)
  const scored = scoredTemplates(config)
  const revealed = config.templates.filter((t) => t.kind === "revealed")
  const inputs: Record<string, Stage.Node> = { tasks: g.tasks }
  for (const p of g.personas) {
    const id = p.persona.id
    if (p.truth !== undefined) inputs[`truth:${id}`] = p.truth
    for (const t of scored) inputs[`scores:${t.id}|${id}`] = p.scores(t)
    for (const t of revealed) inputs[`utilities:${t.id}|${id}`] = utilitiesNode(g, t, p)
    if (id === g.persona.id) continue
    for (const t of scored) for (const layer of config.activations.layers) inputs[`transfer:${t.id}|${id}@${layer}`] = transferNode(g, p, t, layer)
  }
  return Stage.node(personasReport, {
    label: "personas",
    params: {
      config: configSummary(config),
      trained: g.persona.id,
      personas: personasOf(config).map((p) => p.id),
      scored: scored.map((t) => t.id),
      ranges: Object.fromEntries(scored.map((t) => [t.id, templateRange(t)])),
      revealed: revealed.map((t) => t.id),
      layers: [...config.activations.layers],
      samples: config.elicitation.samples,
      bootstrap: { resamples: config.probes.bootstrap, seed: config.seed }
    },
    inputs
  })
}

/** `pipeline build reports/personas`: rating shifts, stability, utilities and probe transfer across the experiment's personas. */
export const target = reportTarget("personas: rating shifts with intervals, stability, revealed utilities, and whether trained probes track each persona's shift", personasNode)
