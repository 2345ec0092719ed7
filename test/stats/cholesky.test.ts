import { describe, expect, it } from "@effect/vitest"
import { choleskySolve } from "../../stats/cholesky"
import { makePrng } from "../../stats/prng"

describe("choleskySolve (residual of A·x = b, 1e-9)", () => {
  it("solves systems smaller and larger than one block, and rejects indefinite matrices", () => {
    for (const n of [5, 300]) {
      const p = makePrng(n)
      const m = Array.from({ length: n * n }, () => p.next() - 0.5)
      const a = new Float64Array(n * n)
      for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) {
        let s = i === j ? 1 : 0
        for (let k = 0; k < n; k++) s += m[i * n + k]! * m[j * n + k]!
        a[i * n + j] = a[j * n + i] = s
      }
      const b = Float64Array.from({ length: n }, (_, i) => Math.cos(i))
      const x = choleskySolve(a, n, b)
      for (let i = 0; i < n; i++) {
        let s = 0
        for (let j = 0; j < n; j++) s += a[i * n + j]! * x[j]!
        expect(Math.abs(s - b[i]!)).toBeLessThan(1e-9)
      }
    }
    expect(() => choleskySolve(Float64Array.from([1, 2, 2, 1]), 2, [1, 1])).toThrow(/not positive definite/)
  })
})
