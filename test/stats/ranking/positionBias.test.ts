import { describe, expect, it } from "@effect/vitest"
import type { Comparison } from "../../../stats/ranking/pairCounts"
import { orderCancelledRates, positionBias } from "../../../stats/ranking/positionBias"
import { gemma } from "./gemmaData"

const repeat = (n: number, c: Comparison): Comparison[] => Array.from({ length: n }, () => c)

// x vs y asked 4 times each way: x chosen 3/4 when first, and y chosen 1/4 when first (x 3/4 when second).
const balanced: Comparison[] = [
  ...repeat(3, { task_a: "x", task_b: "y", choice: "a" }),
  ...repeat(1, { task_a: "x", task_b: "y", choice: "b" }),
  ...repeat(1, { task_a: "y", task_b: "x", choice: "a" }),
  ...repeat(3, { task_a: "y", task_b: "x", choice: "b" }),
  { task_a: "y", task_b: "x", choice: "refusal" },
  // Asked one way only: counts toward the raw rate, not the balanced one.
  ...repeat(2, { task_a: "p", task_b: "q", choice: "a" })
]

describe("positionBias", () => {
  it("separates the raw first-choice rate from the order-cancelled one", () => {
    const bias = positionBias(balanced)
    expect(bias.first.successes).toBe(6)
    expect(bias.first.n).toBe(10)
    expect(bias.first.p).toBeCloseTo(0.6, 12)
    // Wilson 95% for 6/10: statsmodels proportion_confint(6, 10, method="wilson") = (0.31267, 0.83182).
    expect(bias.first.lo).toBeCloseTo(0.31267, 4)
    expect(bias.first.hi).toBeCloseTo(0.83182, 4)
    expect(bias.balancedPairs).toBe(1)
    expect(bias.balancedFirstRate).toBeCloseTo(0.5, 12)
  })

  it("cancels position in each pair's choice rate", () => {
    expect(orderCancelledRates(balanced)).toEqual([{ task_x: "x", task_y: "y", rate: 0.75 }])
    const biased = [...repeat(4, { task_a: "x", task_b: "y", choice: "a" }), ...repeat(4, { task_a: "y", task_b: "x", choice: "a" })]
    expect(orderCancelledRates(biased)[0]!.rate).toBe(0.5)
    expect(positionBias(biased).balancedFirstRate).toBe(1)
  })

  it("needs at least one answered record", () => {
    expect(() => positionBias([{ task_a: "x", task_b: "y", choice: "refusal" }])).toThrow(/positionBias/)
  })
})

describe.skipIf(gemma === undefined)("positionBias on Gemma-3-27B choices", () => {
  it("counts every answered record and brackets the rate", () => {
    const { comparisons, reference } = gemma!
    const bias = positionBias(comparisons)
    expect(bias.first.n).toBe(reference.n_records - reference.n_refusals)
    expect(bias.first.lo).toBeLessThan(bias.first.p)
    expect(bias.first.hi).toBeGreaterThan(bias.first.p)
    expect(bias.first.hi - bias.first.lo).toBeLessThan(0.02)
  })
})
