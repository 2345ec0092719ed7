import { describe, expect, it } from "@effect/vitest"
import { makePrng, permutation } from "../../stats/prng"

describe("makePrng", () => {
  it("is reproducible per seed and differs across seeds", () => {
    const a = makePrng(42), b = makePrng(42), c = makePrng(43)
    const xs = Array.from({ length: 5 }, () => a.next())
    expect(Array.from({ length: 5 }, () => b.next())).toEqual(xs)
    expect(Array.from({ length: 5 }, () => c.next())).not.toEqual(xs)
  })

  it("is uniform on [0, 1): mean 1/2, variance 1/12, ints cover 0..n-1", () => {
    const p = makePrng(7)
    const n = 100_000
    let s = 0, s2 = 0, lo = 1, hi = 0
    for (let i = 0; i < n; i++) {
      const v = p.next()
      lo = Math.min(lo, v)
      hi = Math.max(hi, v)
      s += v
      s2 += v * v
    }
    expect(lo).toBeGreaterThanOrEqual(0)
    expect(hi).toBeLessThan(1)
    expect(Math.abs(s / n - 0.5)).toBeLessThan(0.005)
    expect(Math.abs(s2 / n - (s / n) ** 2 - 1 / 12)).toBeLessThan(0.002)
    const counts = new Array(6).fill(0)
    for (let i = 0; i < 6000; i++) counts[p.int(6)]++
    counts.forEach((c) => expect(Math.abs(c - 1000)).toBeLessThan(150))
    expect(() => p.int(0)).toThrow(/Prng.int: n must be a positive integer/)
  })

  it("permutation is a permutation", () => {
    expect(Array.from(permutation(50, makePrng(1))).sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i))
  })
})
