import { describe, expect, it } from "@effect/vitest"
import { spearman } from "../../../stats/metrics"
import { rateTrueSkill } from "../../../stats/ranking/trueskill"
import { gemma } from "./gemmaData"

describe("rateTrueSkill", () => {
  it("raises winners, lowers losers and skips refusals", () => {
    const r = rateTrueSkill([
      { task_a: "a", task_b: "b", choice: "a" },
      { task_a: "b", task_b: "c", choice: "a" },
      { task_a: "c", task_b: "a", choice: "refusal" }
    ])
    expect(r.tasks).toEqual(["a", "b", "c"])
    expect(r.games).toBe(2)
    expect(r.mu[0]).toBeGreaterThan(25)
    expect(r.mu[2]).toBeLessThan(25)
    expect(r.sigma[0]).toBeLessThan(25 / 3)
    expect(r.conservative[1]).toBeCloseTo(r.mu[1]! - 3 * r.sigma[1]!, 12)
  })

  it("rejects a task outside the given list", () => {
    expect(() => rateTrueSkill([{ task_a: "a", task_b: "b", choice: "a" }], {}, ["a"])).toThrow(/rateTrueSkill: task "b"/)
  })
})

// Reference: the SciPy Case V μ in the shared data file; TrueSkill μ must rank-correlate ≥ 0.95.
describe.skipIf(gemma === undefined)("rateTrueSkill on Gemma-3-27B choices", () => {
  it("ranks tasks like the reference Case V fit", () => {
    const { comparisons, reference } = gemma!
    const r = rateTrueSkill(comparisons)
    expect(r.games).toBe(reference.n_records - reference.n_refusals)
    expect(spearman(r.mu, r.tasks.map((t) => reference.mu[t]!))).toBeGreaterThanOrEqual(0.95)
  })
})
