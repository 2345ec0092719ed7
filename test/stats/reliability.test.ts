import { describe, expect, it } from "@effect/vitest"
import { pearson } from "../../stats/metrics"
import { meanPairwiseR, noiseCeiling, seedSensitivity, spearmanBrown } from "../../stats/reliability"
import { analysisData as data, analysisExpected as expected, close } from "./reference"

describe.skipIf(data === undefined)("seedSensitivity against NumPy (analysis reference, 1e-6 relative)", () => {
  it("measured k-sample correlations and the Spearman-Brown prediction", () => {
    const s = seedSensitivity(data!.seed_samples, { bootstrap: { resamples: 200 } })
    expect(s.measured.length).toBe(5)
    s.measured.forEach((m, i) => {
      expect(close(m.estimate, expected.seed_sensitivity.measured[String(i + 1)]), `measured ${i + 1}`).toBe(true)
      expect(close(s.spearmanBrown[i]!, expected.seed_sensitivity.spearman_brown[String(i + 1)]), `sb ${i + 1}`).toBe(true)
      expect(m.lo).toBeLessThan(m.estimate)
      expect(m.hi).toBeGreaterThan(m.estimate)
    })
  })
})

describe("reliability (closed forms)", () => {
  it("Spearman-Brown by hand", () => {
    expect(spearmanBrown(0.5, 1)).toBe(0.5)
    expect(spearmanBrown(0.5, 3)).toBeCloseTo(1.5 / 2, 15)
    expect(noiseCeiling(0.25, 4)).toBeCloseTo(1 / 1.75, 15)
    expect(() => spearmanBrown(0.5, 0)).toThrow(/spearmanBrown: k/)
  })

  it("identical halves correlate perfectly; uneven tasks are rejected", () => {
    const samples = [[1, 2, 1, 2], [3, 5, 3, 5], [0, 1, 0, 1], [7, 2, 7, 2]]
    const s = seedSensitivity(samples, { bootstrap: { resamples: 50 } })
    expect(s.measured[0]!.estimate).toBeCloseTo(1, 12)
    expect(s.measured[1]!.estimate).toBeCloseTo(1, 12)
    expect(() => seedSensitivity([[1, 2], [1, 2, 3], [1, 2]])).toThrow(/samples\[1\] has 3 samples/)
  })
})

describe("meanPairwiseR", () => {
  it("averages the Pearson r of every pair of sample columns (hand-worked on three samples)", () => {
    const samples = [[1, 2, 2], [2, 1, 3], [4, 5, 3], [5, 6, 6], [3, 3, 4]]
    const col = (s: number) => samples.map((row) => row[s]!)
    const expected = (pearson(col(0), col(1)) + pearson(col(0), col(2)) + pearson(col(1), col(2))) / 3
    expect(meanPairwiseR(samples)).toBeCloseTo(expected, 12)
    expect(meanPairwiseR(samples, [0, 1, 2])).toBeCloseTo((pearson([1, 2, 4], [2, 1, 5]) + pearson([1, 2, 4], [2, 3, 3]) + pearson([2, 1, 5], [2, 3, 3])) / 3, 12)
  })
})
