import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { gemm } from "../../stats/gemm"
import { makeOnnxGemm } from "../../stats/onnxGemm"
import { makePrng } from "../../stats/prng"
import { fitRidge, fitRidgeWith } from "../../stats/ridge"

const random = (rows: number, cols: number, seed: number) => {
  const p = makePrng(seed)
  return { data: Float64Array.from({ length: rows * cols }, () => p.next() - 0.5), rows, cols }
}

describe("makeOnnxGemm (against the JavaScript GEMM, 1e-12)", () => {
  it.effect("every transpose combination above the small-product cutoff", () =>
    Effect.promise(async () => {
      const backend = makeOnnxGemm(1)
      try {
        const [m, k, n] = [160, 190, 170]
        for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]] as const) {
          const a = ta ? random(k, m, 1) : random(m, k, 1), b = tb ? random(n, k, 2) : random(k, n, 2)
          const got = await backend.gemm(a, b, { transA: ta, transB: tb }), want = gemm(a, b, { transA: ta, transB: tb })
          expect(got.length).toBe(want.length)
          want.forEach((v, i) => expect(Math.abs(got[i]! - v)).toBeLessThan(1e-12))
        }
      } finally {
        await backend.release()
      }
    }))

  it.effect("fitRidgeWith gives the same probe as fitRidge (k-fold and leave-one-out)", () =>
    Effect.promise(async () => {
      const backend = makeOnnxGemm(1)
      try {
        const x = random(300, 180, 4), p = makePrng(5)
        const y = Float64Array.from({ length: 300 }, (_, i) => x.data[i * 180]! * 2 + p.next())
        for (const options of [{ alphas: [0.1, 10, 1000], groups: Array.from({ length: 300 }, (_, i) => i) }, { alphas: [0.1, 10, 1000], cv: "loo" as const }]) {
          const a = fitRidge(x, y, options), b = await fitRidgeWith(backend.gemm, x, y, options)
          expect(b.alpha).toBe(a.alpha)
          a.cvR2ByAlpha.forEach((v, i) => expect(b.cvR2ByAlpha[i]).toBeCloseTo(v, 9))
          a.weightsRaw.forEach((v, i) => expect(b.weightsRaw[i]).toBeCloseTo(v, 9))
        }
      } finally {
        await backend.release()
      }
    }))
})
