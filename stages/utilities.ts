import { Effect, Schema } from "effect"
import * as Artifact from "../pipeline/Artifact"
import * as Stage from "../pipeline/Stage"
import type { Proportion } from "../stats/regression"
import { heldOutAccuracy, heldOutSplit, utilityMap } from "../stats/ranking/heldOut"
import { type Comparison, pairCounts } from "../stats/ranking/pairCounts"
import { orderCancelledRates, positionBias } from "../stats/ranking/positionBias"
import { fitThurstonian, winProbability } from "../stats/ranking/thurstonian"
import { rateTrueSkill } from "../stats/ranking/trueskill"
import { deriveSeed } from "./seeds"
import { fromTable, toTable } from "./tables"
import { taskRows } from "./taskRows"

/** A parsed revealed answer: value 1 when `task_id` was chosen over `pair_task_id`, 0 when the partner was, null otherwise. */
export interface RevealedScore {
  readonly task_id: string
  readonly pair_task_id: string | null
  readonly order: string | null
  readonly sample: number
  readonly value: number | null
  readonly tier: string
}

/** A choice with the sample it came from, in the order of the scores table. */
export interface SampledComparison extends Comparison {
  readonly sample: number
}

/**
 * Turns parsed revealed rows into comparisons (`task_a` shown first): order "ab" showed `task_id` first, "ba" its
 * partner. Refusals and parse failures (value null) become refusals, which no fit counts as a choice.
 */
export const comparisonsOf = (rows: ReadonlyArray<RevealedScore>): SampledComparison[] =>
  rows.flatMap((r) => {
    if (r.pair_task_id === null || (r.order !== "ab" && r.order !== "ba")) return []
    const taskFirst = r.order === "ab"
    const choice: Comparison["choice"] = r.value === null ? "refusal" : (r.value === 1) === taskFirst ? "a" : "b"
    return [{ task_a: taskFirst ? r.task_id : r.pair_task_id, task_b: taskFirst ? r.pair_task_id : r.task_id, choice, sample: r.sample }]
  })

/** Held-out pair accuracy of one fit in the stage's Json. */
export interface HeldOutScore {
  readonly accuracy: number
  readonly records: number
  readonly ties: number
}

/** What `utilities[<template>]` writes as `fits`; the report reads it as is. */
export interface UtilityFits {
  readonly template_id: string
  readonly n_tasks: number
  /** Answers by parse tier (exact, refusal, model, failed); only non-null choices enter the fits. */
  readonly tiers: Record<string, number>
  readonly n_choices: number
  readonly n_pairs: number
  readonly held_out: { readonly seed: number; readonly fraction: number; readonly pairs: number; readonly train_records: number; readonly test_records: number }
  readonly fits: Record<"case_v" | "full" | "trueskill", {
    /** Negative log-likelihood of all choices under the fit on all of them (null for TrueSkill). */
    readonly neg_log_likelihood: number | null
    readonly converged: boolean | null
    /** Accuracy on the held-out pairs of the same model fitted on the training pairs only. */
    readonly held_out: HeldOutScore
    /** The full model's prior sd of log σ, chosen by cross-validation over the pairs it was fitted to (all / training); null otherwise. */
    readonly log_sigma_prior_sd: { readonly all: number; readonly train: number } | null
  }>
  readonly position_bias: { readonly first: Proportion; readonly balanced_pairs: number; readonly balanced_first_rate: number | null }
  /** Pairs asked in both orders: their order-cancelled choice rates and how well the full fit's P(x beats y) matches them. */
  readonly order_cancelled: { readonly pairs: number; readonly mean_abs_error_full: number | null }
}

/** Revealed choices from which no utilities can be fitted. */
export class UtilitiesError extends Schema.TaggedError<UtilitiesError>()("UtilitiesError", {
  template_id: Schema.String,
  reason: Schema.String
}) {
  get message() {
    return `utilities of ${this.template_id}: ${this.reason}`
  }
}

const UtilitiesParams = Schema.Struct({
  template_id: Schema.String,
  seed: Schema.Int,
  heldOutFraction: Schema.Number.pipe(Schema.between(0, 1)),
  /** Prior sd of each μ: keeps the μ of a task that always (or never) won finite. */
  muPriorSd: Schema.Number.pipe(Schema.positive())
})

const thurstonian = (comparisons: ReadonlyArray<Comparison>, tasks: ReadonlyArray<string>, muPriorSd: number) => {
  const counts = pairCounts(comparisons, tasks)
  const caseV = fitThurstonian(counts, { model: "caseV", muPriorSd })
  const full = fitThurstonian(counts, { model: "full", muPriorSd, initialMu: caseV.mu })
  return { caseV, full }
}

const nullable = (x: number) => (Number.isFinite(x) ? x : null)

/**
 * Utilities of tasks from one revealed template's parsed choices: Thurstonian Case V and full (σ per task, its prior's
 * τ chosen by cross-validation over the pairs fitted) fits and
 * TrueSkill on every choice, each also refitted on a seeded 80% of the distinct pairs and scored on the rest, with
 * position bias and order-cancelled choice rates. Outputs `fits` (Json, `UtilityFits`), `utilities` (one row per task:
 * task_id, origin, mu and sigma of the full fit, case_v_mu, trueskill_mu, trueskill_sigma, train_mu of the full fit
 * on the training pairs, choices, wins) and `comparisons` (task_a shown first, task_b, choice, sample, held_out).
 */
export const utilities = Stage.make({
  name: "utilities",
  version: 2,
  params: UtilitiesParams,
  run: ({ inputs, params }) =>
    Effect.gen(function* () {
      const rows = fromTable<RevealedScore>(inputs.scores!.table("scores"))
      const comparisons = comparisonsOf(rows)
      const named = new Set(comparisons.flatMap((c) => [c.task_a, c.task_b]))
      const origins = new Map(taskRows(inputs.tasks!.table("tasks")).map((t) => [t.task_id, t.origin]))
      const tasks = [...named].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
      const unknown = tasks.find((t) => !origins.has(t))
      if (unknown !== undefined) return yield* new UtilitiesError({ template_id: params.template_id, reason: `task "${unknown}" of the choices is not in the tasks table` })
      const choices = comparisons.filter((c) => c.choice !== "refusal")
      if (tasks.length < 2 || choices.length === 0) {
        return yield* new UtilitiesError({ template_id: params.template_id, reason: `${choices.length} parsed choices over ${tasks.length} tasks; a fit needs at least one choice between two tasks` })
      }
      const all = thurstonian(comparisons, tasks, params.muPriorSd)
      const skill = rateTrueSkill(comparisons, {}, tasks)
      const seed = deriveSeed(params.seed, "utilities", params.template_id)
      const split = heldOutSplit(comparisons, { seed, fraction: params.heldOutFraction })
      const train = thurstonian(split.train, tasks, params.muPriorSd)
      const trainSkill = rateTrueSkill(split.train, {}, tasks)
      const score = (mu: Float64Array): HeldOutScore => {
        const s = heldOutAccuracy(utilityMap(tasks, mu), split.test)
        return { accuracy: s.accuracy, records: s.records, ties: s.ties }
      }
      const bias = positionBias(comparisons)
      const index = new Map(tasks.map((t, k) => [t, k]))
      const cancelled = orderCancelledRates(comparisons)
      const errors = cancelled.map((c) => Math.abs(c.rate - winProbability(all.full, index.get(c.task_x)!, index.get(c.task_y)!)))
      const tiers: Record<string, number> = {}
      for (const r of rows) tiers[r.tier] = (tiers[r.tier] ?? 0) + 1
      const fits: UtilityFits = {
        template_id: params.template_id,
        n_tasks: tasks.length,
        tiers,
        n_choices: choices.length,
        n_pairs: pairCounts(comparisons, tasks).i.length,
        held_out: { seed, fraction: params.heldOutFraction, pairs: split.heldOutPairs, train_records: split.train.length, test_records: split.test.length },
        fits: {
          case_v: { neg_log_likelihood: all.caseV.negLogLikelihood, converged: all.caseV.converged, held_out: score(train.caseV.mu), log_sigma_prior_sd: null },
          full: {
            neg_log_likelihood: all.full.negLogLikelihood, converged: all.full.converged, held_out: score(train.full.mu),
            log_sigma_prior_sd: { all: all.full.sigmaPrior!.tau, train: train.full.sigmaPrior!.tau }
          },
          trueskill: { neg_log_likelihood: null, converged: null, held_out: score(trainSkill.mu), log_sigma_prior_sd: null }
        },
        position_bias: { first: bias.first, balanced_pairs: bias.balancedPairs, balanced_first_rate: nullable(bias.balancedFirstRate) },
        order_cancelled: { pairs: cancelled.length, mean_abs_error_full: errors.length === 0 ? null : errors.reduce((a, b) => a + b, 0) / errors.length }
      }
      const wins = new Map<string, number>()
      const seen = new Map<string, number>()
      for (const c of choices) {
        const winner = c.choice === "a" ? c.task_a : c.task_b
        wins.set(winner, (wins.get(winner) ?? 0) + 1)
        for (const t of [c.task_a, c.task_b]) seen.set(t, (seen.get(t) ?? 0) + 1)
      }
      const table = toTable(
        {
          task_id: ["utf8", false], origin: ["utf8", false], mu: ["float64", false], sigma: ["float64", false], case_v_mu: ["float64", false],
          trueskill_mu: ["float64", false], trueskill_sigma: ["float64", false], train_mu: ["float64", false], choices: ["int32", false], wins: ["int32", false]
        },
        tasks.map((t, k) => ({
          task_id: t, origin: origins.get(t)!, mu: all.full.mu[k]!, sigma: all.full.sigma[k]!, case_v_mu: all.caseV.mu[k]!,
          trueskill_mu: skill.mu[k]!, trueskill_sigma: skill.sigma[k]!, train_mu: train.full.mu[k]!, choices: seen.get(t) ?? 0, wins: wins.get(t) ?? 0
        }))
      )
      const testSet = new Set(split.test)
      const comparisonTable = toTable(
        { task_a: ["utf8", false], task_b: ["utf8", false], choice: ["utf8", false], sample: ["int32", false], held_out: ["bool", false] },
        comparisons.map((c) => ({ task_a: c.task_a, task_b: c.task_b, choice: c.choice, sample: c.sample, held_out: testSet.has(c) }))
      )
      return { fits: Artifact.json(fits), utilities: Artifact.table(table), comparisons: Artifact.table(comparisonTable) }
    })
})
