import { describe, expect, it } from "@effect/vitest"
import { normalizedMeans, templatePairs } from "../../stats/templateScales"
import { analysisData as data, analysisExpected as expected, close } from "./reference"

describe.skipIf(data === undefined)("templatePairs against SciPy (analysis reference, 1e-6 relative)", () => {
  it("Pearson r and the OLS line of b on a", () => {
    const scores = [
      ...data!.template_a.map((value, i) => ({ template: "template_a", task: `t${i}`, value })),
      ...data!.template_b.map((value, i) => ({ template: "template_b", task: `t${i}`, value }))
    ]
    const [pair] = templatePairs(scores, { template_a: { min: 0, max: 1 }, template_b: { min: 0, max: 1 } })
    expect(pair!.correlation.n).toBe(200)
    expect(close(pair!.correlation.r, expected.template_pair.pearson_r)).toBe(true)
    expect(close(pair!.slope, expected.template_pair.ols_slope_b_on_a)).toBe(true)
    expect(close(pair!.intercept, expected.template_pair.ols_intercept)).toBe(true)
    expect(pair!.correlation.lo).toBeLessThan(pair!.correlation.r)
  })
})

describe("template scales (hand-worked)", () => {
  it("normalizes each template by its own range and uses only shared tasks", () => {
    const scores = [
      { template: "ten", task: "a", value: 1 }, { template: "ten", task: "b", value: 10 }, { template: "ten", task: "c", value: 5.5 }, { template: "ten", task: "z", value: 3 },
      { template: "five", task: "a", value: 1 }, { template: "five", task: "b", value: 5 }, { template: "five", task: "c", value: 3 }
    ]
    const [pair] = templatePairs(scores, { ten: { min: 1, max: 10 }, five: { min: 1, max: 5 } })
    expect(pair!.a).toBe("five")
    expect(pair!.correlation.n).toBe(3)
    expect(pair!.slope).toBeCloseTo(1, 12)
    expect(pair!.intercept).toBeCloseTo(0, 12)
    expect(() => templatePairs(scores, { ten: { min: 1, max: 10 } })).toThrow(/no declared range for template "five"/)
  })

  it("means by category × dataset", () => {
    const rows = [
      { template: "ten", task: "a", value: 10, category: "x", dataset: "d1" },
      { template: "five", task: "b", value: 3, category: "x", dataset: "d1" },
      { template: "five", task: "c", value: 1, category: "y", dataset: "d1" }
    ]
    const means = normalizedMeans(rows, { ten: { min: 0, max: 10 }, five: { min: 1, max: 5 } })
    expect(means).toEqual([{ category: "x", dataset: "d1", mean: 0.75, n: 2 }, { category: "y", dataset: "d1", mean: 0, n: 1 }])
  })
})
