import { describe, expect, it } from "@effect/vitest"
import { Matrix } from "ml-matrix"
import * as fs from "node:fs"
import { fitRidge, fitRidgeTargets, fitRidgeWith, predictRidge } from "../../stats/ridge"
import { makePrng } from "../../stats/prng"
import { onEveryBackend } from "../support/kernelBackends"
import { analysisData as data, analysisExpected as expected, close } from "./reference"


const expectClose = (actual: ArrayLike<number>, wanted: ArrayLike<number>, rel = 1e-6) => {
  expect(actual.length).toBe(wanted.length)
  for (let i = 0; i < wanted.length; i++) expect(close(actual[i]!, wanted[i]!, rel), `index ${i}: ${actual[i]} vs ${wanted[i]}`).toBe(true)
}

const synthetic = (n: number, d: number, seed: number) => {
  const prng = makePrng(seed)
  const x = Array.from({ length: n }, () => Array.from({ length: d }, () => prng.next() * 2 - 1 + (prng.next() < 0.1 ? 3 : 0)))
  const y = x.map((r) => r.reduce((s, v, j) => s + v * Math.sin(j + 1), 0.5) + prng.next() - 0.5)
  return { x, y }
}

// Direct ridge by normal equations on standardized features (reference for the decomposition path).
const directRidge = (x: number[][], y: number[], alpha: number, scale = true) => {
  const n = x.length, d = x[0]!.length
  const mean = Array.from({ length: d }, (_, j) => x.reduce((s, r) => s + r[j]!, 0) / n)
  const sd = mean.map((m, j) => (scale ? Math.sqrt(x.reduce((s, r) => s + (r[j]! - m) ** 2, 0) / n) || 1 : 1))
  const z = x.map((r) => r.map((v, j) => (v - mean[j]!) / sd[j]!))
  const ym = y.reduce((s, v) => s + v, 0) / n
  const a = Array.from({ length: d }, (_, i) => Array.from({ length: d }, (_, j) => z.reduce((s, r) => s + r[i]! * r[j]!, 0) + (i === j ? alpha : 0)))
  const b = Array.from({ length: d }, (_, i) => z.reduce((s, r, k) => s + r[i]! * (y[k]! - ym), 0))
  for (let c = 0; c < d; c++) for (let r = c + 1; r < d; r++) {
    const f = a[r]![c]! / a[c]![c]!
    for (let k = c; k < d; k++) a[r]![k]! -= f * a[c]![k]!
    b[r]! -= f * b[c]!
  }
  const w = new Array<number>(d).fill(0)
  for (let r = d - 1; r >= 0; r--) w[r] = (b[r]! - a[r]!.slice(r + 1).reduce((s, v, k) => s + v * w[r + 1 + k]!, 0)) / a[r]![r]!
  return { w, b: ym, mean }
}

// Out-of-fold predictions per alpha by direct normal equations, standardizing on each training fold.
const outOfFold = (x: number[][], y: number[], folds: number[], alpha: number) => {
  const pred = new Array<number>(x.length).fill(0)
  for (const f of new Set(folds)) {
    const train = x.flatMap((_, i) => (folds[i] !== f ? [i] : []))
    const n = train.length, d = x[0]!.length
    const mean = Array.from({ length: d }, (_, j) => train.reduce((s, i) => s + x[i]![j]!, 0) / n)
    const sd = mean.map((m, j) => Math.sqrt(train.reduce((s, i) => s + (x[i]![j]! - m) ** 2, 0) / n) || 1)
    const ref = directRidge(train.map((i) => x[i]!), train.map((i) => y[i]!), alpha)
    x.forEach((r, i) => {
      if (folds[i] === f) pred[i] = ref.b + r.reduce((s, v, j) => s + ((v - mean[j]!) / sd[j]!) * ref.w[j]!, 0)
    })
  }
  return pred
}

describe("fitRidge (closed forms)", () => {
  it("matches normal equations in the primal (n > d) and dual (n < d) orientation", () => {
    for (const [n, d] of [[40, 7], [9, 15]] as const) {
      const { x, y } = synthetic(n, d, n + d)
      const fit = fitRidge(x, y, { alphas: [0.7], groups: x.map((_, i) => i), k: 3 })
      const ref = directRidge(x, y, 0.7)
      expectClose(fit.weightsStd, ref.w, 1e-9)
      expect(close(fit.interceptStd, ref.b, 1e-12)).toBe(true)
      const pred = predictRidge(fit, x)
      const zPred = x.map((r) => r.reduce((s, v, j) => s + ((v - fit.mean[j]!) / fit.sd[j]!) * fit.weightsStd[j]!, fit.interceptStd))
      expectClose(pred, zPred, 1e-9)
    }
  })

  it("leave-one-out predictions equal refits without each row", () => {
    // Primal with Q formed (n ≥ 2d) and rotated by reflectors (d ≤ n < 2d), and dual.
    for (const [n, d] of [[30, 6], [12, 8], [8, 12]] as const) {
      const { x, y } = synthetic(n, d, 7 * n + d)
      const alphas = [0.3, 3]
      const fit = fitRidge(x, y, { alphas, cv: "loo" })
      for (let i = 0; i < n; i++) {
        // Standardization stays that of all rows (as RidgeCV after a StandardScaler): refit on fixed z.
        const z = x.map((r) => r.map((v, j) => (v - fit.mean[j]!) / fit.sd[j]!))
        const rest = z.filter((_, k) => k !== i), yRest = y.filter((_, k) => k !== i)
        const ref = directRidge(rest, yRest, fit.alpha, false)
        const pred = ref.b + z[i]!.reduce((s, v, j) => s + (v - ref.mean[j]!) * ref.w[j]!, 0)
        expect(close(fit.oofPredictions[i]!, pred, 1e-8), `row ${i}`).toBe(true)
      }
    }
  })

  it.effect("k-fold out-of-fold predictions equal direct fits on each fold's own standardization", () =>
    onEveryBackend(async (b) => {
      // Each fold's Gram matrix the whole one less the held-out rows' (40 × 7, and 200 × 80 reduced to band form by
      // the native kernels under test), or computed afresh (13 × 9, and 100 × 120 in the dual, banded natively). A
      // column with a mean of 1,000 and an sd of 0.01 would show cancellation in the subtraction.
      for (const [n, d] of [[40, 7], [13, 9], [200, 80], [100, 120]] as const) {
        const { x, y } = synthetic(n, d, 3 * n + d)
        x.forEach((r, i) => (r[2] = 1000 + 0.01 * Math.cos(i)))
        const folds = x.map((_, i) => i % 4)
        const fit = await fitRidgeWith(b.backend, x, y, { alphas: [0.2], folds })
        const direct = outOfFold(x, y, folds, 0.2), scale = Math.max(...direct.map(Math.abs))
        // The column's values carry 1e-13 of rounding, 1e-11 of its spread, so the bound is on the predictions' scale.
        direct.forEach((p, i) => expect(Math.abs(fit.oofPredictions[i]! - p), `${b.name} ${n}×${d} row ${i}`).toBeLessThan(1e-9 * scale))
      }
    }))

  it("keeps rows of one group in one fold", () => {
    const { x, y } = synthetic(30, 4, 3)
    const groups = x.map((_, i) => `t${Math.floor(i / 3)}`)
    const fit = fitRidge(x, y, { alphas: [1], groups, k: 5 })
    expect(fit.oofRows.length).toBe(30)
    expect(() => fitRidge(x, y, { alphas: [1] })).toThrow(/folds or groups/)
    const viaMatrix = fitRidge(new Matrix(x), y, { alphas: [1], groups, k: 5 })
    expect(Array.from(viaMatrix.weightsRaw)).toEqual(Array.from(fit.weightsRaw))
    expect(() => fitRidge(x, y.slice(1), { alphas: [1], groups })).toThrow(/fitRidge: x has 30 rows but y has 29/)
  })
})

describe("fitRidge alpha rules", () => {

  it("one_se takes the largest alpha within one standard error of the per-row error difference from the best", () => {
    // One informative feature and several that barely vary: the cross-validated curve is flat at small alphas.
    const prng = makePrng(11)
    const x = Array.from({ length: 80 }, () => [prng.next() * 2 - 1, ...Array.from({ length: 6 }, () => (prng.next() - 0.5) * 1e-3)])
    const y = x.map((r) => r[0]! + 0.8 * (prng.next() - 0.5))
    const folds = x.map((_, i) => i % 4)
    const alphas = [0.01, 0.1, 1, 10, 100, 1000]
    const errors = alphas.map((a) => outOfFold(x, y, folds, a).map((p, i) => (y[i]! - p) ** 2))
    const sse = errors.map((e) => e.reduce((s, v) => s + v, 0))
    const best = sse.indexOf(Math.min(...sse))
    const within = alphas.map((_, a) => {
      const d = errors[a]!.map((v, i) => v - errors[best]![i]!)
      const m = d.reduce((s, v) => s + v, 0) / d.length
      const se = Math.sqrt(d.reduce((s, v) => s + (v - m) ** 2, 0) / (d.length - 1) / d.length)
      return m <= se
    })
    const expectedIndex = Math.max(...alphas.map((_, a) => (within[a] ? a : -1)))
    expect(expectedIndex).toBeGreaterThan(best)
    const oneSe = fitRidge(x, y, { alphas, folds, rule: "one_se" })
    const bestFit = fitRidge(x, y, { alphas, folds })
    expect(oneSe.alpha).toBe(alphas[expectedIndex])
    expect(bestFit.alpha).toBe(alphas[best])
    const tot = y.reduce((s, v) => s + (v - y.reduce((a, b) => a + b, 0) / y.length) ** 2, 0)
    expect(close(oneSe.cvR2, 1 - sse[expectedIndex]! / tot, 1e-8)).toBe(true)
    expect(close(bestFit.cvR2, 1 - sse[best]! / tot, 1e-8)).toBe(true)
  })
})

describe.skipIf(data === undefined)("fitRidge against scikit-learn (analysis reference, 1e-6 relative)", () => {
  it.effect("probe_all: alpha, cv_r2 by alpha, weights and intercept", () =>
    onEveryBackend(async (b) => {
      const fit = await fitRidgeWith(b.backend, data!.activations, data!.target, { alphas: data!.alphas, folds: data!.fold })
      const want = expected.probe_all
      expect(fit.alpha, b.name).toBe(want.alpha)
      expectClose(fit.cvR2ByAlpha, want.cv_r2_by_alpha)
      expect(close(fit.cvR2, want.cv_r2)).toBe(true)
      expectClose(fit.weightsRaw, want.w_raw)
      expectClose(fit.weightsStd, want.w_std)
      expect(close(fit.interceptRaw, want.b_raw)).toBe(true)
    }))
})

/** 30 rows × 90 features (d > n, and 24 training rows per fold): inputs and scikit-learn 1.2's values, from fixtures/ridgeWide.py. */
const wide = JSON.parse(fs.readFileSync(new URL("./fixtures/ridgeWide.json", import.meta.url), "utf8")) as {
  x: number[][]; y: number[]; fold: number[]; alphas: number[]
  kfold: { alpha: number; cv_r2_by_alpha: number[]; w_std: number[]; w_raw: number[]; b_raw: number; oof: number[] }
  loo: { alpha: number; cv_r2_by_alpha: number[]; w_std: number[]; b_std: number }
}

describe("fitRidge with more features than rows against scikit-learn (fixtures/ridgeWide.json, 1e-6 relative)", () => {
  it.effect("k-fold over given folds: pooled out-of-fold R² per alpha, the choice, the refit and its out-of-fold predictions", () =>
    onEveryBackend(async (b) => {
      const fit = await fitRidgeWith(b.backend, wide.x, wide.y, { alphas: wide.alphas, folds: wide.fold })
      expect(fit.alpha, b.name).toBe(wide.kfold.alpha)
      expectClose(fit.cvR2ByAlpha, wide.kfold.cv_r2_by_alpha)
      expectClose(fit.weightsStd, wide.kfold.w_std)
      expectClose(fit.weightsRaw, wide.kfold.w_raw)
      expect(close(fit.interceptRaw, wide.kfold.b_raw)).toBe(true)
      expectClose(fit.oofPredictions, wide.kfold.oof)
    }))

  it.effect("leave-one-out: RidgeCV's alpha, its leave-one-out errors as R² per alpha, weights and intercept", () =>
    onEveryBackend(async (b) => {
      const fit = await fitRidgeWith(b.backend, wide.x, wide.y, { alphas: wide.alphas, cv: "loo" })
      expect(fit.alpha, b.name).toBe(wide.loo.alpha)
      expectClose(fit.cvR2ByAlpha, wide.loo.cv_r2_by_alpha)
      expectClose(fit.weightsStd, wide.loo.w_std)
      expect(close(fit.interceptStd, wide.loo.b_std)).toBe(true)
    }))
})

describe("fitRidgeTargets", () => {
  it.effect("several targets share each decomposition and get the fits they get one at a time, each its own alpha", () =>
    onEveryBackend(async (b) => {
      const { x, y } = synthetic(60, 25, 5)
      const p = makePrng(9)
      const noisy = y.map((v) => 0.1 * v + 3 * (p.next() - 0.5))
      for (const options of [{ alphas: [0.1, 3, 100, 3000], groups: x.map((_, i) => i % 12), k: 4 }, { alphas: [0.1, 3, 100, 3000], cv: "loo" as const }]) {
        const both = await fitRidgeTargets(b.backend, x, [y, noisy], options)
        const alone = [fitRidge(x, y, options), fitRidge(x, noisy, options)]
        expect(both[0]!.alpha).not.toBe(both[1]!.alpha)
        both.forEach((fit, t) => {
          expect(fit.alpha, b.name).toBe(alone[t]!.alpha)
          expectClose(fit.cvR2ByAlpha, alone[t]!.cvR2ByAlpha, 1e-9)
          expectClose(fit.weightsRaw, alone[t]!.weightsRaw, 1e-9)
          expectClose(fit.oofPredictions, alone[t]!.oofPredictions, 1e-9)
        })
      }
    }))

  it("float32 activations give the fit of their float64 copy", () => {
    const { x, y } = synthetic(40, 60, 3)
    const x32 = { data: Float32Array.from(x.flat()), rows: 40, cols: 60 }
    const x64 = { data: Float64Array.from(x32.data), rows: 40, cols: 60 }
    for (const options of [{ alphas: [0.5, 50], groups: x.map((_, i) => i) }, { alphas: [0.5, 50], cv: "loo" as const }]) {
      const a = fitRidge(x32, y, options), c = fitRidge(x64, y, options)
      expect(Array.from(a.weightsRaw)).toEqual(Array.from(c.weightsRaw))
      expect(a.cvR2ByAlpha).toEqual(c.cvR2ByAlpha)
    }
  })
})
