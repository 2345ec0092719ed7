import { describe, expect, it } from "@effect/vitest"
import { projectOnto, variedSpan } from "../../stats/variedSpan"
import { makePrng } from "../../stats/prng"

const dense = (rows: number[][]) => ({ data: Float64Array.from(rows.flat()), rows: rows.length, cols: rows[0]!.length })
const all = (n: number) => Int32Array.from({ length: n }, (_, i) => i)

describe("variedSpan", () => {
  it("hand-worked: rows a·(1, 2, 0) + b·(0, 0, 1) vary along a plane; (2, −1, 0) is projected away", () => {
    const prng = makePrng(2)
    const rows = Array.from({ length: 10 }, () => {
      const a = prng.next() - 0.5
      const b = prng.next() - 0.5
      return [a, 2 * a, b]
    })
    const span = variedSpan(dense(rows), all(10))
    expect(span.rank).toBe(2)
    const p = projectOnto(span, [2, -1, 0])
    p.forEach((v) => expect(Math.abs(v)).toBeLessThan(1e-12))
    const q = projectOnto(span, [1, 2, 3])
    ;[1, 2, 3].forEach((v, j) => expect(q[j]!).toBeCloseTo(v, 12))
    // The basis is orthonormal.
    for (let i = 0; i < 2; i++) for (let k = 0; k < 2; k++) {
      let dot = 0
      for (let j = 0; j < 3; j++) dot += span.basis[i * 3 + j]! * span.basis[k * 3 + j]!
      expect(dot).toBeCloseTo(i === k ? 1 : 0, 12)
    }
  })

  it("fewer rows than columns (the row Gram) and more (the covariance) give the same projector", () => {
    const prng = makePrng(5)
    const directions = [[1, 0, 2, 0, -1], [0, 1, 1, 3, 0]]
    const rows = (n: number) => Array.from({ length: n }, () => {
      const c = [prng.next() - 0.5, prng.next() - 0.5]
      return directions[0]!.map((_, j) => c[0]! * directions[0]![j]! + c[1]! * directions[1]![j]!)
    })
    const few = variedSpan(dense(rows(4)), all(4))
    const many = variedSpan(dense(rows(40)), all(40))
    expect(few.rank).toBe(2)
    expect(many.rank).toBe(2)
    const v = [0.3, -1, 2, 0.5, 1]
    const a = projectOnto(few, v)
    const b = projectOnto(many, v)
    a.forEach((x, j) => expect(x).toBeCloseTo(b[j]!, 10))
  })

  it("a direction whose spread is below 1e-4 of the largest one's (float32 rounding) does not count; above it, it does", () => {
    const prng = makePrng(8)
    const rows = (tiny: number) => Array.from({ length: 30 }, () => [prng.next() - 0.5, tiny * (prng.next() - 0.5)])
    expect(variedSpan(dense(rows(1e-6)), all(30)).rank).toBe(1)
    expect(variedSpan(dense(rows(1e-2)), all(30)).rank).toBe(2)
  })

  it("reads only the given rows", () => {
    const x = dense([[1, 0], [2, 0], [0, 5], [0, 7]])
    expect(variedSpan(x, [0, 1]).rank).toBe(1)
    expect(projectOnto(variedSpan(x, [0, 1]), [0, 1])[1]).toBe(0)
    expect(() => variedSpan(x, [0])).toThrow(/variedSpan: rows has 1 entries/)
  })
})
