import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { loadedOutputs } from "../../pipeline/Artifact"
import { completeSamples, reliability, type TemplateReliability } from "../../stages/reliability"
import { ScoresSchema, toTable } from "../../stages/tables"
import { pearson } from "../../stats/metrics"
import { spearmanBrown } from "../../stats/reliability"

// Three samples of five tasks; task t5 misses sample 2 (unparsed) and t6 was never parsed at all.
const values: Record<string, Array<number | null>> = {
  t1: [0.1, 0.2, 0.1],
  t2: [0.9, 0.7, 0.8],
  t3: [0.4, 0.6, 0.5],
  t4: [0.6, 0.3, 0.7],
  t5: [0.2, 0.1, null],
  t6: [null, null, null]
}
const rows = Object.entries(values).flatMap(([task_id, samples]) =>
  samples.map((v, sample) => ({ task_id, template_id: "q", sample, value: v, normalized: v, expected: null, tier: v === null ? "failed" : "exact", reason: null, pair_task_id: null, order: null }))
)

const run = (samples: number) =>
  reliability
    .run({
      node: "reliability[q]",
      key: "k",
      params: { template_id: "q", samples, resamples: 200, seed: 3 },
      inputs: { scores: loadedOutputs("parse[q]", { scores: { _tag: "Table", table: toTable(ScoresSchema, rows) } }) },
      progress: { total: () => Effect.void, done: () => Effect.void }
    })
    .pipe(Effect.map((out) => (out.reliability as { value: TemplateReliability }).value))

describe("reliability", () => {
  it("keeps only tasks with every sample parsed", () => {
    const complete = completeSamples(rows, 3)
    expect(complete.tasks).toEqual(["t1", "t2", "t3", "t4"])
    expect(complete.incomplete).toBe(2)
    expect(complete.values[3]).toEqual([0.6, 0.3, 0.7])
  })

  it.effect("r₁ is the mean r over the three sample pairs; the ceiling is its Spearman-Brown for three samples (hand-worked)", () =>
    Effect.gen(function* () {
      const result = yield* run(3)
      const column = (s: number) => ["t1", "t2", "t3", "t4"].map((t) => values[t]![s]!)
      const r1 = (pearson(column(0), column(1)) + pearson(column(0), column(2)) + pearson(column(1), column(2))) / 3
      expect(result.n_tasks).toBe(4)
      expect(result.n_incomplete).toBe(2)
      expect(result.r1!.estimate).toBeCloseTo(r1, 12)
      expect(result.noise_ceiling!).toBeCloseTo((3 * r1) / (1 + 2 * r1), 12)
      expect(result.noise_ceiling!).toBeCloseTo(spearmanBrown(r1, 3), 12)
      expect(result.r1!.lo).toBeLessThanOrEqual(result.r1!.estimate)
      expect(result.r1!.hi).toBeGreaterThanOrEqual(result.r1!.estimate)
    })
  )

  it.effect("has no r₁ with a single sample", () =>
    Effect.gen(function* () {
      const result = yield* run(1)
      expect(result.r1).toBeNull()
      expect(result.noise_ceiling).toBeNull()
    })
  )
})
