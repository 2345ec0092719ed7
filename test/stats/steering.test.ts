import { describe, expect, it } from "@effect/vitest"
import { steeringAnalysis, steeringByDirection } from "../../stats/steering"
import { analysisData as data, analysisExpected as expected, close } from "./reference"

describe.skipIf(data === undefined)("steeringAnalysis against statsmodels (analysis reference, 1e-6 relative)", () => {
  it("Wilson intervals, OLS slope and t p-value, logistic slope and Wald p-value", () => {
    const result = steeringAnalysis(data!.steering.map((r) => ({ coefficient: r.coefficient, outcome: r.good })))
    const want = expected.steering
    for (const row of result.byCoefficient) {
      const w = want.wilson[String(row.coefficient)]
      expect(row.n).toBe(w.n)
      expect(row.successes).toBe(w.successes)
      expect(close(row.p, w.p)).toBe(true)
      expect(close(row.lo, w.lo), `lo ${row.coefficient}`).toBe(true)
      expect(close(row.hi, w.hi), `hi ${row.coefficient}`).toBe(true)
    }
    expect(close(result.ols.slope, want.ols_slope)).toBe(true)
    expect(close(result.ols.intercept, want.ols_intercept)).toBe(true)
    expect(close(result.ols.se, want.ols_se)).toBe(true)
    expect(close(result.ols.p, want.ols_p), `ols p ${result.ols.p}`).toBe(true)
    expect(close(result.logit.slope, want.logit_slope)).toBe(true)
    expect(close(result.logit.intercept, want.logit_intercept)).toBe(true)
    expect(close(result.logit.se, want.logit_se)).toBe(true)
    expect(close(result.logit.p, want.logit_p), `logit p ${result.logit.p}`).toBe(true)
    expect(result.clustered).toBeUndefined()
  })
})

describe("steeringAnalysis (closed forms)", () => {
  const rows = [-2, -2, -1, -1, 0, 0, 1, 1, 2, 2, 2, -1].map((c, i) => ({ coefficient: c, outcome: (i * 7) % 3 === 0 ? 1 : c > 0 ? 1 : 0, task: `t${i}` }))

  it("with one task per row the clustered error is the HC1 sandwich", () => {
    const r = steeringAnalysis(rows)
    const n = rows.length
    const x = rows.map((q) => q.coefficient), y = rows.map((q) => q.outcome)
    const mx = x.reduce((s, v) => s + v, 0) / n, my = y.reduce((s, v) => s + v, 0) / n
    const sxx = x.reduce((s, v) => s + (v - mx) ** 2, 0)
    const slope = x.reduce((s, v, i) => s + (v - mx) * (y[i]! - my), 0) / sxx
    const e = y.map((v, i) => v - my - slope * (x[i]! - mx))
    const hc1 = Math.sqrt((x.reduce((s, v, i) => s + (v - mx) ** 2 * e[i]! ** 2, 0) / sxx ** 2) * (n / (n - 2)))
    expect(r.ols.slope).toBeCloseTo(slope, 12)
    expect(r.clustered!.se).toBeCloseTo(hc1, 12)
    expect(r.clustered!.tasks).toBe(n)
  })

  it("splits rows by direction and rejects non-binary outcomes", () => {
    const both = [...rows.map((q) => ({ ...q, direction: "a" })), ...rows.map((q) => ({ ...q, outcome: 1 - q.outcome, direction: "b" }))]
    const res = steeringByDirection(both)
    expect(res.a!.ols.slope).toBeCloseTo(-res.b!.ols.slope, 12)
    expect(() => steeringAnalysis([...rows, { coefficient: 1, outcome: 2 }])).toThrow(/outcome is 2/)
  })
})
