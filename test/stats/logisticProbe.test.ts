import { describe, expect, it } from "@effect/vitest"
import { logistic } from "../../stats/logistic"
import { fitLogisticProbe } from "../../stats/logisticProbe"
import { makePrng } from "../../stats/prng"

const data = (n: number, seed: number) => {
  const prng = makePrng(seed)
  const normal = () => Math.sqrt(-2 * Math.log(Math.max(prng.next(), 1e-12))) * Math.cos(2 * Math.PI * prng.next())
  const x = Array.from({ length: n }, () => [normal() * 3 + 1, normal(), normal() * 0.5])
  const y = x.map((row) => (prng.next() < 1 / (1 + Math.exp(-(0.8 * row[0]! - 1.5 * row[1]! + 0.2))) ? 1 : 0))
  return { x, y }
}

describe("logistic probe", () => {
  it("maps standardized weights back to raw space exactly (same log-odds on every row)", () => {
    const { x, y } = data(300, 3)
    const probe = fitLogisticProbe(x, y, { l2s: [0.1, 1, 10], folds: x.map((_, i) => i % 5) })
    const mean = [0, 1, 2].map((j) => x.reduce((a, r) => a + r[j]!, 0) / x.length)
    const sd = [0, 1, 2].map((j) => Math.sqrt(x.reduce((a, r) => a + (r[j]! - mean[j]!) ** 2, 0) / x.length))
    for (const row of x.slice(0, 10)) {
      const std = probe.interceptStd + row.reduce((a, v, j) => a + probe.weightsStd[j]! * ((v - mean[j]!) / sd[j]!), 0)
      const raw = probe.interceptRaw + row.reduce((a, v, j) => a + probe.weightsRaw[j]! * v, 0)
      expect(raw).toBeCloseTo(std, 9)
    }
  })
  it("recovers the sign pattern and beats chance out of fold; with a tiny penalty it equals the plain logistic fit", () => {
    const { x, y } = data(400, 5)
    const probe = fitLogisticProbe(x, y, { l2s: [1e-8], folds: x.map((_, i) => i % 4) })
    expect(probe.weightsRaw[0]!).toBeGreaterThan(0)
    expect(probe.weightsRaw[1]!).toBeLessThan(0)
    expect(probe.cvAccuracy).toBeGreaterThan(0.7)
    const plain = logistic(x, y)
    probe.weightsRaw.forEach((w, j) => expect(w).toBeCloseTo(plain.coefficients[j + 1]!, 5))
  })
})
