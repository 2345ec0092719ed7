import { describe, expect, it } from "@effect/vitest"
import { heldOneOut, metricInterval, probeSimilarity, r2ByLabel, trainTwoTestTwo } from "../../stats/evaluation"
import { r2Score } from "../../stats/metrics"
import { type BackendUnderTest, onEveryBackend } from "../support/kernelBackends"
import { analysisData as data, analysisExpected as expected, close } from "./reference"


describe.skipIf(data === undefined)("evaluations against scikit-learn (analysis reference, 1e-6 relative)", () => {
  const setup = (b: BackendUnderTest) => ({ alphas: data!.alphas, folds: data!.fold, kernels: b.backend })
  const bootstrap = { resamples: 200 }

  it.effect("oof_r2_by_origin", () =>
    onEveryBackend(async (b) => {
      const { byLabel } = await r2ByLabel(data!.activations, data!.target, data!.origin, setup(b), { bootstrap })
      for (const [origin, want] of Object.entries<number>(expected.oof_r2_by_origin)) {
        expect(close(byLabel[origin]!.estimate, want), `${b.name} ${origin}`).toBe(true)
        expect(byLabel[origin]!.n).toBe(60)
        expect(byLabel[origin]!.lo).toBeLessThan(byLabel[origin]!.hi)
      }
    }))

  it.effect("cosine_raw and per-origin alphas", () =>
    onEveryBackend(async (b) => {
      const sim = await probeSimilarity(data!.activations, data!.target, data!.origin, setup(b))
      sim.labels.forEach((x, i) => sim.labels.forEach((y, j) => expect(close(sim.cosine[i]![j]!, expected.cosine_raw[x][y]), `${b.name} ${x}/${y}`).toBe(true)))
      for (const [origin, alpha] of Object.entries<number>(expected.per_dataset_alpha)) expect(sim.probes[origin]!.alpha, b.name).toBe(alpha)
    }))

  it.effect("hoo: held-out metrics on held-out rows only", () =>
    onEveryBackend(async (b) => {
      const hoo = await heldOneOut(data!.activations, data!.target, data!.origin, setup(b), { bootstrap })
      for (const [origin, want] of Object.entries<any>(expected.hoo)) {
        const got = hoo[origin]!
        expect(got.alpha, b.name).toBe(want.alpha)
        expect(close(got.r2.estimate, want.r2), `${origin} r2`).toBe(true)
        expect(close(got.r2MeanAdjusted.estimate, want.r2_mean_adjusted), `${origin} r2 adj`).toBe(true)
        expect(close(got.pearsonR.estimate, want.pearson_r), `${origin} r`).toBe(true)
        expect(close(got.trainCvR2, want.train_cv_r2), `${origin} cv`).toBe(true)
        expect(Array.from(got.testRows).every((r) => data!.origin[r] === origin)).toBe(true)
        expect(got.r2.lo).toBeLessThanOrEqual(got.r2.estimate)
      }
    }))

  it.effect("train2_test2", () =>
    onEveryBackend(async (b) => {
      const t = await trainTwoTestTwo(data!.activations, data!.target, data!.origin, setup(b), { bootstrap })
      expect(Object.keys(t).sort()).toEqual(Object.keys(expected.train2_test2).sort())
      for (const [key, want] of Object.entries<any>(expected.train2_test2)) {
        const got = t[key]!
        expect(got.alpha, b.name).toBe(want.alpha)
        expect(close(got.r2.estimate, want.r2), `${key} r2`).toBe(true)
        expect(close(got.r2MeanAdjusted.estimate, want.r2_mean_adjusted), `${key} r2 adj`).toBe(true)
        expect(close(got.pearsonR.estimate, want.pearson_r), `${key} r`).toBe(true)
        expect(got.testRows.length).toBe(120)
      }
    }))
})

describe("metricInterval", () => {
  it("resamples whole tasks and brackets the estimate", () => {
    const y = [1, 2, 3, 4, 5, 6, 7, 8], pred = [1.1, 2.2, 2.9, 4.3, 4.8, 6.1, 7.2, 7.7]
    const rows = [0, 1, 2, 3, 4, 5, 6, 7]
    const iv = metricInterval(y, pred, rows, r2Score, { tasks: ["a", "a", "b", "b", "c", "c", "d", "d"], bootstrap: { resamples: 300, seed: 3 } })
    expect(iv.estimate).toBeCloseTo(r2Score(y, pred), 12)
    expect(iv.lo).toBeLessThanOrEqual(iv.estimate)
    expect(iv.hi).toBeGreaterThanOrEqual(iv.estimate)
    expect(iv.hi).toBeLessThanOrEqual(1)
  })
})
