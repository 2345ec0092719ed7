import { describe, expect, it } from "@effect/vitest"
import { makePrng } from "../../stats/prng"
import { runSync } from "../../stats/runKernels"
import { applyQ, applyQRows, applyQt, factorShifted, quadraticShifted, solveShifted, tridiagonalize } from "../../stats/tridiagonal"

const spd = (n: number, seed: number) => {
  const p = makePrng(seed)
  const m = Array.from({ length: n * n }, () => p.next() - 0.5)
  const a = new Float64Array(n * n)
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) for (let k = 0; k < n; k++) a[i * n + j] += m[i * n + k]! * m[j * n + k]!
  return a
}

describe("tridiagonalize (reconstruction and solves, 1e-10)", () => {
  it("Q·T·Qᵀ reproduces the matrix and Q is orthogonal", () => {
    for (const n of [1, 2, 3, 17, 150]) {
      const a = spd(n, n), t = tridiagonalize(a.slice(), n)
      for (let c = 0; c < n; c++) {
        const e = new Float64Array(n)
        e[c] = 1
        applyQt(t, e)
        expect(Math.hypot(...e)).toBeCloseTo(1, 12)
        const te = e.map((v, i) => t.diag[i]! * v + (i > 0 ? t.off[i - 1]! * e[i - 1]! : 0) + (i < n - 1 ? t.off[i]! * e[i + 1]! : 0))
        applyQ(t, te)
        te.forEach((v, i) => expect(Math.abs(v - a[i * n + c]!)).toBeLessThan(1e-10))
      }
    }
  })

  it("shifted solves and quadratic forms satisfy (A + αI)·z = b", () => {
    const n = 12, a = spd(n, 5), t = tridiagonalize(a.slice(), n), alpha = 0.25
    const b = Float64Array.from({ length: n }, (_, i) => Math.cos(i))
    const qb = b.slice()
    applyQt(t, qb)
    const f = factorShifted(t, alpha)
    const z = solveShifted(f, qb)
    applyQ(t, z)
    for (let i = 0; i < n; i++) {
      let s = alpha * z[i]!
      for (let j = 0; j < n; j++) s += a[i * n + j]! * z[j]!
      expect(Math.abs(s - b[i]!)).toBeLessThan(1e-10)
    }
    expect(quadraticShifted(f, qb)).toBeCloseTo(z.reduce((s, v, i) => s + v * b[i]!, 0), 10)
  })

  it("applyQRows (blocked WY) equals applyQt and applyQ row by row across block edges", () => {
    const n = 23, t = tridiagonalize(spd(n, 8), n), rows = 70
    for (const transpose of [true, false]) {
      const x = Float64Array.from({ length: rows * n }, (_, i) => Math.sin(i * 0.37))
      const ref = x.slice()
      for (let r = 0; r < rows; r++) (transpose ? applyQt : applyQ)(t, ref, r * n)
      runSync(applyQRows(t, x, rows, transpose, 4))
      x.forEach((v, i) => expect(Math.abs(v - ref[i]!)).toBeLessThan(1e-12))
    }
  })
})
