import { describe, expect, it } from "@effect/vitest"
import * as D from "../../stats/distributions"

// Closed forms: t with 1 df is Cauchy, t with 2 df has CDF 1/2 + t/(2√(2+t²)), chi-square with 2 df is exponential.
describe("distributions (closed forms, 1e-12)", () => {
  it("Student t", () => {
    for (const t of [-3, -0.5, 0, 0.7, 4]) {
      expect(D.studentTCdf(t, 1)).toBeCloseTo(0.5 + Math.atan(t) / Math.PI, 12)
      expect(D.studentTCdf(t, 2)).toBeCloseTo(0.5 + t / (2 * Math.sqrt(2 + t * t)), 12)
    }
    expect(D.studentTTwoSided(2.5, 1)).toBeCloseTo(1 - (2 * Math.atan(2.5)) / Math.PI, 12)
  })

  it("normal CDF, tail and quantile", () => {
    expect(D.normalCdf(0)).toBe(0.5)
    for (const p of [1e-12, 0.001, 0.025, 0.3, 0.5, 0.9, 0.975, 1 - 1e-9]) expect(Math.abs(D.normalCdf(D.normalQuantile(p)) - p) / Math.min(p, 1 - p)).toBeLessThan(1e-9)
    // Mills ratio bound: φ(z)/z·(1 − 1/z²) < 1 − Φ(z) < φ(z)/z.
    const z = 10, phi = Math.exp(-50) / Math.sqrt(2 * Math.PI)
    expect(D.normalSf(z)).toBeLessThan(phi / z)
    expect(D.normalSf(z)).toBeGreaterThan((phi / z) * (1 - 1 / (z * z)))
    expect(D.normalTwoSided(-1.5)).toBeCloseTo(2 * D.normalSf(1.5), 15)
  })

  it("chi-square, gamma and beta", () => {
    for (const x of [0.1, 1, 5, 30]) expect(D.chiSquareSf(x, 2)).toBeCloseTo(Math.exp(-x / 2), 12)
    expect(D.logGamma(5)).toBeCloseTo(Math.log(24), 12)
    expect(D.logGamma(0.5)).toBeCloseTo(0.5 * Math.log(Math.PI), 12)
    expect(D.regularizedBeta(0.3, 1, 1)).toBeCloseTo(0.3, 14)
    expect(D.regularizedBeta(0.3, 2, 1)).toBeCloseTo(0.09, 14)
    expect(() => D.regularizedBeta(1.5, 1, 1)).toThrow(/regularizedBeta: x must be in \[0, 1\]/)
  })
})
