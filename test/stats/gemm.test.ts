import { describe, expect, it } from "@effect/vitest"
import { gemm } from "../../stats/gemm"
import { makePrng } from "../../stats/prng"

const random = (rows: number, cols: number, seed: number) => {
  const p = makePrng(seed)
  return { data: Float64Array.from({ length: rows * cols }, () => p.next() - 0.5), rows, cols }
}

const naive = (a: { data: ArrayLike<number>; rows: number; cols: number }, b: typeof a, ta: boolean, tb: boolean) => {
  const m = ta ? a.cols : a.rows, k = ta ? a.rows : a.cols, n = tb ? b.rows : b.cols
  const at = (i: number, p: number) => (ta ? a.data[p * a.cols + i]! : a.data[i * a.cols + p]!)
  const bt = (p: number, j: number) => (tb ? b.data[j * b.cols + p]! : b.data[p * b.cols + j]!)
  const c = new Float64Array(m * n)
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
    let s = 0
    for (let p = 0; p < k; p++) s += at(i, p) * bt(p, j)
    c[i * n + j] = s
  }
  return c
}

describe("gemm (against the triple loop, 1e-12)", () => {
  it("every transpose combination, with sizes that cross the block edges", () => {
    const [m, k, n] = [101, 263, 7]
    for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]] as const) {
      const a = ta ? random(k, m, 1) : random(m, k, 1)
      const b = tb ? random(n, k, 2) : random(k, n, 2)
      const c = gemm(a, b, { transA: ta, transB: tb }), ref = naive(a, b, ta, tb)
      ref.forEach((v, i) => expect(Math.abs(c[i]! - v)).toBeLessThan(1e-12))
    }
  })

  it("symmetric products computed from the lower triangle, float32 input", () => {
    const x = random(130, 45, 3)
    const x32 = { data: Float32Array.from(x.data), rows: 130, cols: 45 }
    const g = gemm(x32, x32, { transB: true, symmetric: true }), ref = naive(x32, x32, false, true)
    ref.forEach((v, i) => expect(Math.abs(g[i]! - v)).toBeLessThan(1e-12))
    expect(() => gemm(x, x)).toThrow(/gemm: inner dimensions differ/)
  })
})
