import { describe, expect, it } from "@effect/vitest"
import { meanDifference } from "../../stats/meanDifference"

describe("meanDifference", () => {
  it("top minus bottom by count and by quantile", () => {
    const x = [[1, 0], [2, 0], [3, 1], [4, 1]], y = [0.1, 0.9, 0.2, 0.8]
    const byCount = meanDifference(x, y, { count: 1 })
    expect(Array.from(byCount.direction)).toEqual([1, 0])
    const byQuantile = meanDifference(x, y, { quantile: 0.5 })
    expect(Array.from(byQuantile.top).sort()).toEqual([1, 3])
    expect(Array.from(byQuantile.direction)).toEqual([1, 0])
    expect(() => meanDifference(x, y, { count: 3 })).toThrow(/count must be an integer in 1..2/)
  })
})
