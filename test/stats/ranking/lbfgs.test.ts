import { describe, expect, it } from "@effect/vitest"
import { minimizeLbfgs } from "../../../stats/ranking/lbfgs"

describe("minimizeLbfgs", () => {
  it("finds the minimum of the 10-dimensional Rosenbrock function at (1, …, 1) (tolerance 1e-4)", () => {
    const n = 10
    const rosenbrock = (x: Float64Array, g: Float64Array): number => {
      g.fill(0)
      let f = 0
      for (let k = 0; k < n - 1; k++) {
        const a = x[k + 1]! - x[k]! * x[k]!
        const b = 1 - x[k]!
        f += 100 * a * a + b * b
        g[k] = g[k]! - 400 * x[k]! * a - 2 * b
        g[k + 1] = g[k + 1]! + 200 * a
      }
      return f
    }
    const result = minimizeLbfgs(rosenbrock, new Float64Array(n).fill(-1.2), { gradientTolerance: 1e-8, relativeTolerance: 0 })
    expect(result.converged).toBe(true)
    expect(result.value).toBeLessThan(1e-10)
    for (const v of result.x) expect(Math.abs(v - 1)).toBeLessThan(1e-4)
  })

  it("solves a badly scaled quadratic exactly (tolerance 1e-6)", () => {
    const scales = Float64Array.from({ length: 50 }, (_, k) => 10 ** (k / 10))
    const quadratic = (x: Float64Array, g: Float64Array): number => {
      let f = 0
      for (let k = 0; k < x.length; k++) {
        const d = x[k]! - k
        f += 0.5 * scales[k]! * d * d
        g[k] = scales[k]! * d
      }
      return f
    }
    const result = minimizeLbfgs(quadratic, new Float64Array(50), { gradientTolerance: 1e-9, relativeTolerance: 0 })
    expect(result.converged).toBe(true)
    result.x.forEach((v, k) => expect(Math.abs(v - k)).toBeLessThan(1e-6))
  })

  it("reports non-convergence when the iteration cap is hit", () => {
    const result = minimizeLbfgs((x, g) => {
      g[0] = 2 * (x[0]! - 3)
      g[1] = 200 * (x[1]! + 1)
      return (x[0]! - 3) ** 2 + 100 * (x[1]! + 1) ** 2
    }, new Float64Array(2), { maxIterations: 1, relativeTolerance: 0 })
    expect(result.iterations).toBe(1)
    expect(result.converged).toBe(false)
  })

  it("rejects a non-finite start", () => {
    expect(() => minimizeLbfgs(() => Number.NaN, new Float64Array(1))).toThrow(/minimizeLbfgs/)
  })
})
