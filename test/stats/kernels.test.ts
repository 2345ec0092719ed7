import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { isBanded, type Reduced } from "../../stats/banded"
import { basis, forms, moments, product, reduced, rotate, shiftedSolutions, solveSpd, standardized, type Steps, transposedProduct, tridiagonal } from "../../stats/kernels"
import { makePrng } from "../../stats/prng"
import { runSync, runWith } from "../../stats/runKernels"
import { factorShifted, quadraticShifted } from "../../stats/tridiagonal"
import { standardizedRows } from "../../stats/standardizedRows"
import { kernelBackend } from "../../stats/kernelBackend"
import { nativeKernelsMissing } from "../../stats/nativeKernels"
import { openBlasAbsent } from "../support/externalTools"
import { kernelBackends } from "../support/kernelBackends"

const random = (rows: number, cols: number, seed: number) => {
  const p = makePrng(seed)
  return { data: Float64Array.from({ length: rows * cols }, () => p.next() - 0.5), rows, cols }
}

const naive = (a: { data: ArrayLike<number>; rows: number; cols: number }, b: typeof a, ta: boolean, tb: boolean) => {
  const m = ta ? a.cols : a.rows, k = ta ? a.rows : a.cols, n = tb ? b.rows : b.cols
  const c = new Float64Array(m * n)
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
    let s = 0
    for (let p = 0; p < k; p++) s += (ta ? a.data[p * a.cols + i]! : a.data[i * a.cols + p]!) * (tb ? b.data[j * b.cols + p]! : b.data[p * b.cols + j]!)
    c[i * n + j] = s
  }
  return c
}

const spd = (n: number, seed: number) => {
  const m = random(n, n + 3, seed)
  const a = naive(m, m, false, true)
  for (let i = 0; i < n; i++) a[i * n + i] += 0.5
  return a
}

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let worst = 0
  for (let i = 0; i < b.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!))
  return worst
}

// Every row p of the row-major rows×n matrix, B·p for the reduced matrix B: a new array.
const timesReduced = (r: Reduced, p: Float64Array, rows: number) => {
  const n = r.n, out = new Float64Array(rows * n)
  const entry = (i: number, j: number): number => {
    if (i < j) return entry(j, i)
    if (isBanded(r)) return i - j <= r.kd ? r.band[j * (r.kd + 1) + i - j]! : 0
    return i === j ? r.diag[i]! : i === j + 1 ? r.off[j]! : 0
  }
  for (let row = 0; row < rows; row++) for (let i = 0; i < n; i++) {
    let s = 0
    for (let j = 0; j < n; j++) s += entry(i, j) * p[row * n + j]!
    out[row * n + i] = s
  }
  return out
}

// The same kernel calls on every backend; each case returns the largest deviation from its reference.
const cases: Record<string, () => Steps<number>> = {
  "products in every transpose combination, into a block of a larger target, accumulating": function* () {
    let worst = 0
    for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]] as const) {
      const a = ta ? random(37, 29, 1) : random(29, 37, 1), b = tb ? random(23, 37, 2) : random(37, 23, 2)
      const want = naive(a, b, ta, tb)
      worst = Math.max(worst, maxDiff(yield* product(a, b, { transA: ta, transB: tb }), want))
      // A 29×23 block at row 3, column 5 of a 40×31 target that already holds ones.
      const target = new Float64Array(40 * 31).fill(1)
      yield* product(a, b, { transA: ta, transB: tb }, { data: target, offset: 3 * 31 + 5, stride: 31, accumulate: true })
      for (let i = 0; i < 40; i++) for (let j = 0; j < 31; j++) {
        const inside = i >= 3 && i < 32 && j >= 5 && j < 28
        worst = Math.max(worst, Math.abs(target[i * 31 + j]! - (inside ? 1 + want[(i - 3) * 23 + j - 5]! : 1)))
      }
    }
    return worst
  },
  "symmetric products: the lower triangle into a target, the whole matrix into a new array": function* () {
    let worst = 0
    for (const [ta, tb] of [[true, false], [false, true]] as const) {
      const a = random(31, 19, 3)
      const want = naive(a, a, ta, tb), size = ta ? 19 : 31
      worst = Math.max(worst, maxDiff(yield* product(a, a, { transA: ta, transB: tb, symmetric: true }), want))
      const target = new Float64Array(size * size)
      yield* product(a, a, { transA: ta, transB: tb, symmetric: true }, { data: target, offset: 0, stride: size, accumulate: false })
      for (let i = 0; i < size; i++) for (let j = 0; j <= i; j++) worst = Math.max(worst, Math.abs(target[i * size + j]! - want[i * size + j]!))
    }
    return worst
  },
  "tridiagonal form: Q·T·Qᵀ reproduces the matrix, rows rotated both ways": function* () {
    let worst = 0
    // 300 spans three blocks of reflectors in the native kernel.
    for (const n of [3, 17, 40, 300]) {
      const a = spd(n, n)
      const t = yield* tridiagonal(a.slice(), n)
      // Rows of the identity rotated by Qᵀ are the rows of Q; T applied in that basis and rotated back gives A.
      const q = new Float64Array(n * n)
      for (let i = 0; i < n; i++) q[i * n + i] = 1
      yield* rotate(t, q, n, true)
      const tq = new Float64Array(n * n)
      for (let r = 0; r < n; r++) for (let i = 0; i < n; i++) {
        const v = q[r * n + i]!
        tq[r * n + i] += t.diag[i]! * v
        if (i > 0) tq[r * n + i - 1] += t.off[i - 1]! * v
        if (i < n - 1) tq[r * n + i + 1] += t.off[i]! * v
      }
      yield* rotate(t, tq, n, false)
      worst = Math.max(worst, maxDiff(tq, a))
      // A few rows at a time (the native kernel's blocks shrink with their count): p·Q' with Q' the rows of Q above, and back.
      for (const m of [1, 5, 20, 64]) {
        const p = random(m, n, m + n)
        const turned = yield* rotate(t, p.data.slice(), m, true)
        worst = Math.max(worst, maxDiff(turned, naive(p, { data: q, rows: n, cols: n }, false, false)), maxDiff(yield* rotate(t, turned, m, false), p.data))
      }
    }
    return worst
  },
  "Q formed from a tridiagonal form: the identity's rows rotated by Qᵀ, also from a matrix with rows further apart": function* () {
    let worst = 0
    for (const n of [3, 17, 300]) {
      const a = spd(n, n + 7), stride = n + 5
      const spread = new Float64Array(n * stride).fill(Number.NaN)
      for (let i = 0; i < n; i++) spread.set(a.subarray(i * n, i * n + n), i * stride)
      const rows = new Float64Array(n * n)
      for (let i = 0; i < n; i++) rows[i * n + i] = 1
      const want = yield* rotate(yield* tridiagonal(a.slice(), n), rows, n, true)
      worst = Math.max(worst, maxDiff(yield* basis(yield* tridiagonal(a.slice(), n)), want))
      const t = yield* tridiagonal(spread.slice(), n, stride)
      const again = new Float64Array(n * n)
      for (let i = 0; i < n; i++) again[i * n + i] = 1
      worst = Math.max(worst, maxDiff(yield* rotate(t, again, n, true), want), maxDiff(yield* basis(t), want))
    }
    return worst
  },
  "reduced forms, tridiagonal or banded: Q·B·Qᵀ reproduces the matrix, shifted solves solve it": function* () {
    let worst = 0
    // From n = 66 the native kernel under test reduces to a band of 64 sub-diagonals (three panels at 200).
    for (const n of [17, 150, 200]) {
      const a = spd(n, n + 11), stride = n + 3
      const spread = new Float64Array(n * stride).fill(Number.NaN)
      for (let i = 0; i < n; i++) spread.set(a.subarray(i * n, i * n + i + 1), i * stride)
      const r = yield* reduced(spread, n, stride)
      const q = new Float64Array(n * n)
      for (let i = 0; i < n; i++) q[i * n + i] = 1
      yield* rotate(r, q, n, true)
      worst = Math.max(worst, maxDiff(yield* rotate(r, timesReduced(r, q, n), n, false), a))
      const b = random(2, n, n + 12).data, alphas = [0.1, 3]
      const x = yield* rotate(r, yield* shiftedSolutions(r, alphas, yield* rotate(r, b.slice(), 2, true), 2), 4, false)
      for (let t = 0; t < 2; t++) alphas.forEach((alpha, s) => {
        const xs = x.subarray((t * 2 + s) * n, (t * 2 + s + 1) * n)
        const ax = naive({ data: a, rows: n, cols: n }, { data: xs, rows: n, cols: 1 }, false, false)
        for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(ax[i]! + alpha * xs[i]! - b[t * n + i]!))
      })
    }
    return worst
  },
  "quadratic forms in shifted inverses of T": function* () {
    const n = 30, t = yield* tridiagonal(spd(n, 4), n)
    const factors = [0.1, 2, 50].map((alpha) => factorShifted(t, alpha))
    const p = random(9, n, 5).data
    const got = yield* forms(factors, p, 9)
    let worst = 0
    for (let r = 0; r < 9; r++) factors.forEach((f, s) => (worst = Math.max(worst, Math.abs(got[r * 3 + s]! - quadraticShifted(f, p, r * n)))))
    return worst
  },
  "rows (all columns or a range of them) standardized from float32 and float64 sources, in any order and repeated": function* () {
    const source = random(20, 13, 6)
    const mean = Float64Array.from({ length: 13 }, (_, j) => 0.1 * j), sd = Float64Array.from({ length: 13 }, (_, j) => 1 + j)
    const rows = Int32Array.from([7, 0, 19, 7, 3])
    let worst = 0
    for (const data of [source.data, Float32Array.from(source.data)]) {
      for (const [from, to] of [[0, 13], [4, 9]] as const) {
        const w = to - from, into = new Float64Array(rows.length * w + 4).fill(7).subarray(2, 2 + rows.length * w)
        for (const got of [yield* standardized({ data, rows: 20, cols: 13 }, rows, mean, sd, from, to), yield* standardized({ data, rows: 20, cols: 13 }, rows, mean, sd, from, to, into)]) {
          expect(got.length).toBe(rows.length * w)
          rows.forEach((r, i) => {
            for (let j = from; j < to; j++) worst = Math.max(worst, Math.abs(got[i * w + j - from]! - (data[r * 13 + j]! - mean[j]!) / sd[j]!))
          })
        }
        expect(into.buffer === (yield* standardized({ data, rows: 20, cols: 13 }, rows, mean, sd, from, to, into)).buffer).toBe(true)
      }
    }
    return worst
  },
  "column means and sds (ddof 0, a constant column's sd 1) of listed rows of float32 and float64 sources": function* () {
    const source = random(20, 13, 8)
    for (let r = 0; r < 20; r++) source.data[r * 13 + 4] = 0.25
    const rows = Int32Array.from([7, 0, 19, 7, 3, 11])
    let worst = 0
    for (const data of [source.data, Float32Array.from(source.data)]) {
      const { mean, sd } = yield* moments({ data, rows: 20, cols: 13 }, rows)
      for (let j = 0; j < 13; j++) {
        const column = Array.from(rows, (r) => data[r * 13 + j]!)
        const m = column.reduce((s, v) => s + v, 0) / rows.length
        const s = Math.sqrt(column.reduce((acc, v) => acc + (v - m) ** 2, 0) / rows.length)
        worst = Math.max(worst, Math.abs(mean[j]! - m), Math.abs(sd[j]! - (s === 0 ? 1 : s)))
      }
      expect(sd[4]).toBe(1)
    }
    return worst
  },
  "Zᵀ·C for standardized rows of float32 and float64 sources (far from zero), C one to six columns wide": function* () {
    const source = random(20, 13, 9)
    for (let i = 0; i < source.data.length; i++) source.data[i] = 1000 + 3 * source.data[i]!
    const rows = Int32Array.from([7, 0, 19, 7, 3, 11, 12])
    let worst = 0
    for (const data of [source.data, Float32Array.from(source.data)]) {
      const x = { data, rows: 20, cols: 13 }
      const { mean, sd } = yield* moments(x, rows)
      for (const m of [1, 4, 6]) {
        const c = random(rows.length, m, 10 + m).data
        const got = yield* transposedProduct(standardizedRows(x, rows, mean, sd), c, m)
        expect(got.length).toBe(13 * m)
        for (let j = 0; j < 13; j++) for (let t = 0; t < m; t++) {
          let want = 0
          rows.forEach((r, i) => (want += ((data[r * 13 + j]! - mean[j]!) / sd[j]!) * c[i * m + t]!))
          worst = Math.max(worst, Math.abs(got[j * m + t]! - want))
        }
      }
    }
    return worst
  },
  "symmetric positive definite solves with several right-hand sides": function* () {
    let worst = 0
    for (const n of [5, 64, 150]) {
      const a = spd(n, n + 1), b = random(n, 3, n + 2).data
      const x = yield* solveSpd(a.slice(), n, b, 3)
      const ax = naive({ data: a, rows: n, cols: n }, { data: x, rows: n, cols: 3 }, false, false)
      worst = Math.max(worst, maxDiff(ax, b))
    }
    return worst
  }
}

describe("kernel backends (one contract, every backend built here, 1e-10)", () => {
  for (const [name, run] of Object.entries(cases)) {
    it.effect(name, () =>
      Effect.promise(async () => {
        expect(runSync(run())).toBeLessThan(1e-10)
        for (const b of kernelBackends()) {
          try {
            expect(await runWith(run(), b.backend), b.name).toBeLessThan(1e-10)
          } finally {
            await b.release()
          }
        }
      })
    )
  }

  it.effect("a matrix that is not positive definite is refused by every backend", () =>
    Effect.promise(async () => {
      const a = Float64Array.from([1, 2, 2, 1])
      for (const b of kernelBackends()) {
        await expect(runWith(solveSpd(a.slice(), 2, Float64Array.from([1, 1]), 1), b.backend), b.name).rejects.toThrow(/not positive definite/)
        await b.release()
      }
    })
  )
})

describe("the backend probe stages get", () => {
  it.effect("is OpenBLAS when the addon loads, else onnxruntime's Gemm with the reason and how to build the addon", () =>
    Effect.promise(async () => {
      const chosen = kernelBackend(1)
      try {
        const why = nativeKernelsMissing()
        if (why === undefined) {
          expect(chosen.backend.name).toBe("openblas")
          expect(chosen.fallback).toBeUndefined()
        } else {
          openBlasAbsent(why)
          expect(chosen.backend.name).toBe("onnxruntime")
          expect(chosen.fallback).toMatch(/did not load .*npm run build:native.*libopenblas-dev/)
        }
      } finally {
        await chosen.release()
      }
    })
  )
})
