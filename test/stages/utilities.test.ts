import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { type Loaded, loadedOutputs } from "../../pipeline/Artifact"
import { comparisonsOf, type RevealedScore, utilities, type UtilityFits } from "../../stages/utilities"
import { fromTable, ScoresSchema, TasksSchema, toTable } from "../../stages/tables"
import { spearman } from "../../stats/metrics"
import { normalCdf } from "../../stats/ranking/normal"
import { makePrng } from "../../stats/prng"

const params = { template_id: "revealed_test", seed: 7, heldOutFraction: 0.2, muPriorSd: 5 }
const silent = { total: () => Effect.void, done: () => Effect.void }

/** 12 tasks with known utilities, every pair asked in both orders 3 times; P(first chosen) gets a +0.1 shift. */
const synthetic = () => {
  const ids = Array.from({ length: 12 }, (_, k) => `t${String(k).padStart(2, "0")}`)
  const trueMu = new Map(ids.map((id, k) => [id, (k - 5.5) / 3]))
  const prng = makePrng(11)
  const rows: RevealedScore[] = []
  for (let a = 0; a < ids.length; a++) for (let b = a + 1; b < ids.length; b++) {
    for (const order of ["ab", "ba"] as const) for (let sample = 0; sample < 3; sample++) {
      const [first, second] = order === "ab" ? [ids[a]!, ids[b]!] : [ids[b]!, ids[a]!]
      const pFirst = Math.min(1, normalCdf((trueMu.get(first)! - trueMu.get(second)!) / Math.SQRT2) + 0.1)
      const firstChosen = prng.next() < pFirst
      const taskChosen = firstChosen === (order === "ab")
      rows.push({ task_id: ids[a]!, pair_task_id: ids[b]!, order, sample, value: taskChosen ? 1 : 0, tier: "exact" })
    }
  }
  return { ids, trueMu, rows }
}

const scoresTable = (rows: ReadonlyArray<RevealedScore>) =>
  toTable(ScoresSchema, rows.map((r) => ({
    ...r, template_id: params.template_id, normalized: r.value, expected: null, reason: r.value === null ? "no choice" : null
  })))

const tasksTable = (ids: ReadonlyArray<string>) =>
  toTable(TasksSchema, ids.map((id, k) => ({ task_id: id, origin: k % 2 === 0 ? "even" : "odd", prompt: `task ${id}`, meta: "{}" })))

const runStage = (rows: ReadonlyArray<RevealedScore>, ids: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const table = (t: ReturnType<typeof toTable>): Loaded => ({ _tag: "Table", table: t })
    const outputs = yield* utilities.run({
      node: "utilities[revealed_test]",
      key: "test",
      params,
      inputs: {
        scores: loadedOutputs("parse", { scores: table(scoresTable(rows)) }),
        tasks: loadedOutputs("sample", { tasks: table(tasksTable(ids)) })
      },
      progress: silent
    })
    const get = (name: string) => outputs[name] as { _tag: string; table?: ReturnType<typeof toTable>; value?: unknown }
    return {
      fits: get("fits").value as UtilityFits,
      tasks: fromTable<{ task_id: string; origin: string; mu: number; case_v_mu: number; trueskill_mu: number; train_mu: number; sigma: number; choices: number; wins: number }>(get("utilities").table!),
      comparisons: fromTable<{ task_a: string; task_b: string; choice: string; sample: number; held_out: boolean }>(get("comparisons").table!)
    }
  })

describe("comparisonsOf", () => {
  it("puts the first-shown task in task_a and maps value 1 to the row's own task", () => {
    const rows: RevealedScore[] = [
      { task_id: "x", pair_task_id: "y", order: "ab", sample: 0, value: 1, tier: "exact" },
      { task_id: "x", pair_task_id: "y", order: "ab", sample: 1, value: 0, tier: "exact" },
      { task_id: "x", pair_task_id: "y", order: "ba", sample: 0, value: 1, tier: "exact" },
      { task_id: "x", pair_task_id: "y", order: "ba", sample: 1, value: 0, tier: "model" },
      { task_id: "x", pair_task_id: "y", order: "ba", sample: 2, value: null, tier: "refusal" },
      { task_id: "x", pair_task_id: null, order: null, sample: 0, value: 1, tier: "exact" }
    ]
    expect(comparisonsOf(rows)).toEqual([
      { task_a: "x", task_b: "y", choice: "a", sample: 0 },
      { task_a: "x", task_b: "y", choice: "b", sample: 1 },
      { task_a: "y", task_b: "x", choice: "b", sample: 0 },
      { task_a: "y", task_b: "x", choice: "a", sample: 1 },
      { task_a: "y", task_b: "x", choice: "refusal", sample: 2 }
    ])
  })
})

describe("utilities stage", () => {
  const { ids, trueMu, rows } = synthetic()

  it.effect("recovers the planted order and reports counts that match its own comparisons table", () =>
    Effect.gen(function* () {
      const { fits, tasks, comparisons } = yield* runStage(rows, ids)
      expect(tasks.map((t) => t.task_id)).toEqual(ids)
      expect(tasks.map((t) => t.origin)).toEqual(ids.map((_, k) => (k % 2 === 0 ? "even" : "odd")))
      const truth = tasks.map((t) => trueMu.get(t.task_id)!)
      for (const column of ["mu", "case_v_mu", "trueskill_mu", "train_mu"] as const) {
        expect(spearman(tasks.map((t) => t[column]), truth)).toBeGreaterThan(0.9)
      }
      expect(tasks[0]!.case_v_mu).toBe(0)
      expect(fits.n_tasks).toBe(12)
      expect(fits.n_pairs).toBe(66)
      expect(fits.n_choices).toBe(rows.length)
      expect(tasks.reduce((a, t) => a + t.wins, 0)).toBe(rows.length)
      expect(tasks.reduce((a, t) => a + t.choices, 0)).toBe(2 * rows.length)
      // ⌊0.2 · 66⌋ held-out pairs, each asked in 2 orders × 3 samples.
      expect(fits.held_out.pairs).toBe(13)
      const test = comparisons.filter((c) => c.held_out)
      expect(test.length).toBe(13 * 6)
      expect(fits.held_out.test_records).toBe(test.length)
      expect(new Set(test.map((c) => [c.task_a, c.task_b].sort().join("|"))).size).toBe(13)
      for (const fit of Object.values(fits.fits)) {
        expect(fit.held_out.records).toBe(test.length)
        expect(fit.held_out.accuracy).toBeGreaterThan(0.6)
      }
      const firstChosen = comparisons.filter((c) => c.choice === "a").length
      expect(fits.position_bias.first.successes).toBe(firstChosen)
      expect(fits.position_bias.first.n).toBe(rows.length)
      expect(fits.position_bias.first.p).toBeGreaterThan(0.55)
      expect(fits.position_bias.balanced_pairs).toBe(66)
      expect(fits.order_cancelled.pairs).toBe(66)
    }))

  it.effect("never counts refusals or parse failures as choices", () =>
    Effect.gen(function* () {
      const base = yield* runStage(rows, ids)
      const extra: RevealedScore[] = rows.slice(0, 40).map((r, k) => ({ ...r, sample: 10 + k, value: null, tier: k % 2 === 0 ? "refusal" : "failed" }))
      const withRefusals = yield* runStage([...rows, ...extra], ids)
      expect(withRefusals.fits.n_choices).toBe(base.fits.n_choices)
      expect(withRefusals.fits.tiers).toEqual({ exact: rows.length, refusal: 20, failed: 20 })
      expect(withRefusals.tasks.map((t) => t.mu)).toEqual(base.tasks.map((t) => t.mu))
      expect(withRefusals.tasks.map((t) => t.trueskill_mu)).toEqual(base.tasks.map((t) => t.trueskill_mu))
      expect(withRefusals.fits.fits.case_v.held_out.accuracy).toBe(base.fits.fits.case_v.held_out.accuracy)
      expect(withRefusals.fits.position_bias.first.n).toBe(base.fits.position_bias.first.n)
    }))

  it.effect("fails with UtilitiesError when a chosen task is missing from the tasks table", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(runStage(rows, ids.slice(1)))
      expect(error._tag).toBe("UtilitiesError")
      expect(error.message).toContain('"t00"')
    }))
})
