import { describe, expect, it } from "@effect/vitest"
import { fitBradleyTerry } from "../../stats/bradleyTerry"
import { logistic } from "../../stats/logistic"
import { makePrng } from "../../stats/prng"

describe("fitBradleyTerry", () => {
  const prng = makePrng(11)
  const d = 5, n = 60
  const truth = [1.5, -1, 0.5, 0, 0]
  const x = Array.from({ length: n }, () => Array.from({ length: d }, (_, j) => (prng.next() - 0.5) * (j + 1)))
  const utility = x.map((r) => r.reduce((s, v, j) => s + v * truth[j]!, 0))
  const pairs = Array.from({ length: 400 }, () => {
    const a = prng.int(n), b = (a + 1 + prng.int(n - 1)) % n
    return { a, b, aWins: prng.next() < 1 / (1 + Math.exp(-(utility[a]! - utility[b]!))) ? 1 : 0 }
  })

  it("recovers the planted direction and predicts held-out choices", () => {
    const fit = fitBradleyTerry(x, pairs, { l2s: [0.01, 1, 100], seed: 2 })
    const cos = fit.weightsRaw.reduce((s, v, j) => s + v * truth[j]!, 0) / Math.hypot(...fit.weightsRaw) / Math.hypot(...truth)
    expect(cos).toBeGreaterThan(0.9)
    expect(fit.heldOutAccuracy).toBeGreaterThan(0.6)
    expect(fit.validationPairs.length).toBe(80)
  })

  it("its weights minimize the same penalized loss as Newton logistic regression without intercept", () => {
    const fit = fitBradleyTerry(x, pairs, { l2s: [3], seed: 2 })
    const diffs = pairs.map((p) => x[p.a]!.map((v, j) => (v - x[p.b]![j]!) / fit.sd[j]!))
    const newton = logistic(diffs, pairs.map((p) => p.aWins), { intercept: false, l2: 3 })
    fit.weightsStd.forEach((w, j) => expect(w).toBeCloseTo(newton.coefficients[j]!, 6))
    expect(() => fitBradleyTerry(x, [{ a: 0, b: n, aWins: 1 }], { l2s: [1] })).toThrow(/pairs\[0\] names a row outside/)
  })
})
