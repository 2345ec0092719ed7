import { describe, expect, it } from "@effect/vitest"
import { cosine, fisherInterval, meanAdjustedR2, pearson, r2Score, rank, spearman } from "../../stats/metrics"

describe("metrics (hand-worked)", () => {
  it("R² as scikit-learn r2_score, including constant targets", () => {
    expect(r2Score([1, 2, 3], [1, 2, 4])).toBeCloseTo(0.5, 15)
    expect(r2Score([2, 2], [2, 2])).toBe(1)
    expect(r2Score([2, 2], [1, 2])).toBe(0)
    expect(() => r2Score([1, 2], [1])).toThrow(/r2Score: yTrue has 2 values but yPred has 1/)
  })

  it("mean-adjusted R² removes a constant offset only", () => {
    expect(meanAdjustedR2([1, 2, 3], [11, 12, 13])).toBe(1)
    expect(meanAdjustedR2([1, 2, 3], [1, 2, 4])).toBeCloseTo(r2Score([1, 2, 3], [2 / 3, 5 / 3, 11 / 3]), 15)
  })

  it("Pearson, Spearman with ties, cosine", () => {
    expect(pearson([1, 2, 3, 4], [2, 4, 6, 8])).toBeCloseTo(1, 15)
    expect(pearson([1, 2, 3], [1, 3, 2])).toBeCloseTo(0.5, 15)
    expect(Array.from(rank([10, 20, 20, 5]))).toEqual([2, 3.5, 3.5, 1])
    expect(spearman([1, 2, 3, 4], [1, 4, 9, 16])).toBeCloseTo(1, 15)
    expect(cosine([1, 0], [1, 1])).toBeCloseTo(Math.SQRT1_2, 15)
  })

  it("Fisher-z interval", () => {
    const iv = fisherInterval(0.5, 28)
    expect(iv.lo).toBeCloseTo(Math.tanh(Math.atanh(0.5) - 1.959963984540054 / 5), 12)
    expect(iv.hi).toBeCloseTo(Math.tanh(Math.atanh(0.5) + 1.959963984540054 / 5), 12)
    expect(Number.isNaN(fisherInterval(0.5, 3).lo)).toBe(true)
  })
})
