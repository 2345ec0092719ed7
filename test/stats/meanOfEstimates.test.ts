import { describe, expect, it } from "@effect/vitest"
import { normalQuantile } from "../../stats/distributions"
import { meanOfEstimates } from "../../stats/meanOfEstimates"

describe("meanOfEstimates", () => {
  it("averages the estimates and combines their intervals as independent normal errors (hand-worked)", () => {
    const z = normalQuantile(0.975)
    // Standard errors 0.1 and 0.2: the mean's is √(0.01 + 0.04)/2.
    const mean = meanOfEstimates([
      { estimate: 0.5, lo: 0.5 - 0.1 * z, hi: 0.5 + 0.1 * z },
      { estimate: 0.7, lo: 0.7 - 0.2 * z, hi: 0.7 + 0.2 * z }
    ])
    const se = Math.sqrt(0.05) / 2
    expect(mean.estimate).toBeCloseTo(0.6, 14)
    expect(mean.lo).toBeCloseTo(0.6 - z * se, 12)
    expect(mean.hi).toBeCloseTo(0.6 + z * se, 12)
    expect(mean.n).toBe(2)
  })

  it("narrows as independent estimates of equal precision accumulate: four give half the width of one", () => {
    const one = { estimate: 0.3, lo: 0.1, hi: 0.5 }
    const four = meanOfEstimates([one, one, one, one])
    expect(four.hi - four.lo).toBeCloseTo((one.hi - one.lo) / 2, 12)
  })

  it("leaves out estimates that are not finite and says how many it averaged", () => {
    const mean = meanOfEstimates([{ estimate: 0.4, lo: 0.3, hi: 0.5 }, { estimate: Number.NaN, lo: Number.NaN, hi: Number.NaN }])
    expect(mean.n).toBe(1)
    expect(mean.estimate).toBe(0.4)
    expect(meanOfEstimates([]).n).toBe(0)
    expect(Number.isNaN(meanOfEstimates([]).estimate)).toBe(true)
    expect(() => meanOfEstimates([{ estimate: 0, lo: 1, hi: 0 }])).toThrow(/meanOfEstimates: estimates\[0\] has lo 1 above hi 0/)
  })
})
