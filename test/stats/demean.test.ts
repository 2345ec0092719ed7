import { describe, expect, it } from "@effect/vitest"
import { demean } from "../../stats/demean"
import { ols } from "../../stats/regression"

describe("demean", () => {
  it("one column: subtracts group means", () => {
    const r = demean([1, 3, 10, 14, 5], [["a", "a", "b", "b", "c"]])
    expect(Array.from(r)).toEqual([-1, 1, -2, 2, 0])
  })

  it("two columns: equals OLS residuals on intercept + one-hot indicators", () => {
    const g1 = ["a", "a", "b", "b", "c", "c", "a", "b", "c", "a"], g2 = ["u", "v", "u", "v", "u", "v", "v", "u", "u", "u"]
    const y = [2.1, 3.5, -1, 0.4, 7, 6.2, 3.3, -0.5, 5.9, 1.7]
    const design = g1.map((v, i) => [v === "b" ? 1 : 0, v === "c" ? 1 : 0, g2[i] === "v" ? 1 : 0])
    const ref = ols(design, y).residuals
    const r = demean(y, [g1, g2])
    r.forEach((v, i) => expect(v).toBeCloseTo(ref[i]!, 10))
    expect(() => demean(y, [g1.slice(1)])).toThrow(/confounds\[0\] has 9 values but y has 10/)
  })
})
