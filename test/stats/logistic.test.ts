import { describe, expect, it } from "@effect/vitest"
import { lbfgs } from "../../stats/lbfgs"
import { logistic, predictLogistic } from "../../stats/logistic"
import { ols, wilson } from "../../stats/regression"

describe("logistic (closed forms)", () => {
  it("one binary regressor: coefficients are the log odds, errors √(1/a+1/b+1/c+1/d)", () => {
    // Group 0: 3 of 10 good; group 1: 7 of 10 good.
    const x = [...new Array(10).fill(0), ...new Array(10).fill(1)]
    const y = [...[1, 1, 1], ...new Array(7).fill(0), ...new Array(7).fill(1), ...[0, 0, 0]]
    const fit = logistic(x, y)
    expect(fit.coefficients[0]).toBeCloseTo(Math.log(3 / 7), 10)
    expect(fit.coefficients[1]).toBeCloseTo(Math.log(7 / 3) - Math.log(3 / 7), 10)
    expect(fit.se[1]).toBeCloseTo(Math.sqrt(1 / 3 + 1 / 7 + 1 / 7 + 1 / 3), 10)
    expect(predictLogistic(fit, [0, 1])[1]).toBeCloseTo(0.7, 10)
    expect(() => logistic(x, y.map((v) => v * 2))).toThrow(/logistic: y\[0\] is 2/)
  })
})

describe("ols and wilson (hand-worked)", () => {
  it("a perfect line has zero error; two groups give the difference of means", () => {
    const fit = ols([0, 1, 2, 3], [1, 3, 5, 7.0000001])
    expect(fit.coefficients[1]).toBeCloseTo(2, 6)
    const g = ols([0, 0, 1, 1], [1, 2, 4, 6])
    expect(g.coefficients).toEqual([1.5, 3.5])
    // s² = (0.25·2 + 1·2)/2 = 1.25; se(slope) = √(s²·(1/2 + 1/2)).
    expect(g.se[1]).toBeCloseTo(Math.sqrt(1.25), 12)
  })

  it("Wilson interval by formula, and its edge at zero successes", () => {
    const w = wilson(0, 10)
    expect(w.lo).toBeCloseTo(0, 15)
    // exactly 0 and 1 at the edges, for every n (the formula's difference rounds below 0 for most n)
    for (let n = 1; n <= 200; n++) {
      expect(wilson(0, n).lo).toBe(0)
      expect(wilson(n, n).hi).toBe(1)
    }
    const z = 1.959963984540054
    expect(w.hi).toBeCloseTo((z * z) / 10 / (1 + (z * z) / 10), 12)
    expect(() => wilson(11, 10)).toThrow(/wilson: successes must be in 0..10/)
  })
})

describe("lbfgs", () => {
  it("minimizes an ill-conditioned quadratic", () => {
    const scales = [1, 10, 100, 1000]
    const { w } = lbfgs((x, g) => {
      let f = 0
      x.forEach((v, i) => {
        f += 0.5 * scales[i]! * (v - i) ** 2
        g[i] = scales[i]! * (v - i)
      })
      return f
    }, new Float64Array(4))
    w.forEach((v, i) => expect(v).toBeCloseTo(i, 6))
  })
})
