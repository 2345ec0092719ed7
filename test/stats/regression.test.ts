import { describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { ols } from "../../stats/regression"

interface Fixture {
  readonly directions: Record<string, { coefficient: number[]; task: number[]; outcome: number[] }>
  readonly expected: Record<string, { slope: number; intercept: number; se_ols: number; p_ols: number; se_cluster: number; p_cluster: number; se_cluster_intercept: number }>
}

// The parsed rows behind reports/steering on the default experiment, with statsmodels 0.13.5's
// OLS(y, add_constant(x)).fit() and .fit(cov_type="cluster", cov_kwds={"groups": task}) on them.
const fixture = JSON.parse(fs.readFileSync(path.join(__dirname, "fixtures/steering_clustered.json"), "utf8")) as Fixture
const relative = (a: number, b: number) => Math.abs(a - b) / Math.abs(b)

describe("ols with task clusters against statsmodels on the steering report's own rows (1e-9 relative)", () => {
  for (const direction of ["probe", "control"]) {
    it(`${direction}: slope, plain and CR1-clustered standard errors and p-values`, () => {
      const rows = fixture.directions[direction]!
      const want = fixture.expected[direction]!
      const fit = ols(rows.coefficient, rows.outcome, { clusters: rows.task })
      expect(relative(fit.coefficients[1]!, want.slope)).toBeLessThan(1e-9)
      expect(relative(fit.coefficients[0]!, want.intercept)).toBeLessThan(1e-9)
      expect(relative(fit.se[1]!, want.se_ols)).toBeLessThan(1e-9)
      expect(relative(fit.p[1]!, want.p_ols)).toBeLessThan(1e-6)
      expect(relative(fit.cluster!.se[1]!, want.se_cluster)).toBeLessThan(1e-9)
      expect(relative(fit.cluster!.se[0]!, want.se_cluster_intercept)).toBeLessThan(1e-9)
      expect(relative(fit.cluster!.p[1]!, want.p_cluster)).toBeLessThan(1e-6)
      expect(fit.cluster!.groups).toBe(new Set(rows.task).size)
    })
  }
})

describe("why the clustered p-value is the smaller one in a balanced steering sweep", () => {
  it("a task's own offset cancels from the slope's clustered variance but inflates the plain OLS one", () => {
    // Every task at every coefficient of a symmetric sweep; outcomes = task offset + slope·c + a small within-task wobble.
    const coefficients = [-2, -1, 0, 1, 2]
    const offsets = [0.9, -0.7, 0.4, -0.3, 0.8, -0.9, 0.1, -0.2]
    const wobble = (t: number, k: number) => 0.05 * Math.sin(3 * t + 5 * k)
    const x = offsets.flatMap(() => coefficients)
    const task = offsets.flatMap((_, t) => coefficients.map(() => t))
    const y = offsets.flatMap((o, t) => coefficients.map((c, k) => o + 0.1 * c + wobble(t, k)))
    const withOffsets = ols(x, y, { clusters: task })
    const withoutOffsets = ols(x, y.map((v, i) => v - offsets[task[i]!]!), { clusters: task })
    // The offsets change neither the slope nor its clustered error: Σ (c − c̄) · offset = 0 within every task.
    expect(withOffsets.coefficients[1]).toBeCloseTo(withoutOffsets.coefficients[1]!, 12)
    expect(withOffsets.cluster!.se[1]).toBeCloseTo(withoutOffsets.cluster!.se[1]!, 12)
    // Plain OLS counts them as noise.
    expect(withOffsets.se[1]!).toBeGreaterThan(5 * withOffsets.cluster!.se[1]!)
    expect(withOffsets.p[1]!).toBeGreaterThan(withOffsets.cluster!.p[1]!)
  })
})
