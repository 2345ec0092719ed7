import { describe, expect, it } from "@effect/vitest"
import { crossFit, probeTransfer, shiftCeiling } from "../../stats/probeTransfer"
import { pearson } from "../../stats/metrics"
import { makePrng } from "../../stats/prng"

const normals = (seed: number) => {
  const prng = makePrng(seed)
  return () => {
    const u = Math.max(prng.next(), 1e-12)
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * prng.next())
  }
}

const dense = (rows: number[][]) => ({ data: Float64Array.from(rows.flat()), rows: rows.length, cols: rows[0]!.length })
const setup = (n: number) => ({ alphas: [1e-6, 1e-3, 1], groups: Array.from({ length: n }, (_, i) => i), k: 5, seed: 3 })

describe("crossFit", () => {
  it("recovers an exact linear read-out under both conditions, and the shift the other condition's move along it implies", () => {
    // y = 0.5 + x·w exactly; the other condition moves every task by c_t along u, so its prediction moves by c_t·(u·w).
    const normal = normals(11)
    const w = [0.3, -0.2, 0.1, 0]
    const u = [1, 0, 0, 1]
    const x = Array.from({ length: 60 }, () => w.map(() => normal()))
    const c = x.map((_, t) => (t % 3) - 1)
    const other = x.map((row, t) => row.map((v, j) => v + c[t]! * u[j]!))
    const y = x.map((row) => 0.5 + row.reduce((a, v, j) => a + v * w[j]!, 0))
    const fitted = crossFit(dense(x), y, dense(other), setup(60), 5, 9)
    expect(new Set(fitted.folds)).toEqual(new Set([0, 1, 2, 3, 4]))
    // A balanced shuffle: every fold holds 12 of the 60 tasks.
    for (let f = 0; f < 5; f++) expect(fitted.folds.filter((v) => v === f).length).toBe(12)
    fitted.trained.forEach((p, t) => expect(p).toBeCloseTo(y[t]!, 5))
    fitted.other.forEach((p, t) => expect(p - fitted.trained[t]!).toBeCloseTo(c[t]! * 0.3, 5))
  })

  it("never predicts a task with a probe that saw it", () => {
    // Each task has a feature of its own (one-hot) and a target of pure noise: a probe fitted on all tasks memorizes it
    // (in-sample r ≈ 1), but a probe that never saw a task has no weight on its feature and predicts nothing of it.
    const n = 40
    const normal = normals(5)
    const y = Array.from({ length: n }, () => normal())
    const x = Array.from({ length: n }, (_, t) => Array.from({ length: n }, (_, j) => (j === t ? 1 : 0)))
    const fitted = crossFit(dense(x), y, dense(x), { alphas: [1e-3], groups: Array.from({ length: n }, (_, i) => i), k: 4, seed: 1 }, 4, 2)
    expect(fitted.probe.alpha).toBe(1e-3)
    const inSample = x.map((row) => row.reduce((a, v, j) => a + v * fitted.probe.weightsRaw[j]!, fitted.probe.interceptRaw))
    expect(pearson(inSample, y)).toBeGreaterThan(0.99)
    // Out of fold, each prediction is the mean of the other folds' targets: nothing of the task's own noise.
    fitted.trained.forEach((p, t) => {
      const outside = y.filter((_, s) => fitted.folds[s] !== fitted.folds[t])
      expect(p).toBeCloseTo(outside.reduce((a, v) => a + v, 0) / outside.length, 3)
    })
  })

  it("a move along a direction that never varied in training: the standardized probe's raw prediction follows it, its learned directions do not", () => {
    // Training activations are a·(1, 2, 0, 0) + b·(0, 0, 1, 0), y = a: standardization scales columns 0 and 1 alike, so
    // the raw weights (c/σ, c/2σ, 0, 0) are not along (1, 2) and see u = (2, −1, 0, 0)/√5, a direction no training row
    // moves along (a Ridge fit on the raw columns would give weights ∝ (1, 2), orthogonal to u).
    const normal = normals(4)
    const rows = Array.from({ length: 60 }, () => [normal(), normal()] as const)
    const x = rows.map(([a, b]) => [a, 2 * a, b, 0])
    const y = rows.map(([a]) => a)
    const u = [2 / Math.sqrt(5), -1 / Math.sqrt(5), 0, 0]
    const s = rows.map((_, t) => (t % 4) - 1.5)
    const other = x.map((row, t) => row.map((v, j) => v + s[t]! * u[j]!))
    const fitted = crossFit(dense(x), y, dense(other), { alphas: [1e-3], groups: Array.from({ length: 60 }, (_, i) => i), k: 5, seed: 3 }, 5, 1)
    const raw = fitted.other.map((p, t) => p - fitted.trained[t]!)
    expect(Math.abs(pearson(raw, s))).toBeGreaterThan(0.999)
    fitted.shiftInSpan.forEach((v) => expect(Math.abs(v)).toBeLessThan(1e-9))
    fitted.outsideShare.forEach((v) => expect(v).toBeCloseTo(1, 9))
    // A move along the trained direction itself is inside the span: the learned directions predict all of it.
    const along = x.map((row, t) => row.map((v, j) => v + s[t]! * [1, 2, 0, 0][j]!))
    const inside = crossFit(dense(x), y, dense(along), { alphas: [1e-3], groups: Array.from({ length: 60 }, (_, i) => i), k: 5, seed: 3 }, 5, 1)
    inside.shiftInSpan.forEach((v, t) => expect(v).toBeCloseTo(inside.other[t]! - inside.trained[t]!, 9))
    inside.outsideShare.forEach((v) => expect(v).toBeLessThan(1e-12))
  })

  it("rejects conditions whose rows are not the same tasks, naming the argument", () => {
    expect(() => crossFit(dense([[1], [2], [3]]), [1, 2, 3], dense([[1], [2]]), setup(3), 2, 0)).toThrow(/crossFit: other is 2×1/)
    expect(() => crossFit(dense([[1], [2], [3]]), [1, 2], dense([[1], [2], [3]]), setup(3), 2, 0)).toThrow(/crossFit: y has 2 values/)
  })
})

describe("probeTransfer", () => {
  it("hand-worked: shifts, their correlation, slope and means", () => {
    // measured shift m = yOther − yTrained = [2, 1, 4, 3], predicted shift p = pOther − pTrained = [1, 2, 3, 4].
    // Deviations from the means (2.5 each): m −.5 −1.5 1.5 .5, p −1.5 −.5 .5 1.5; Σdm·dp = 3, Σdp² = Σdm² = 5:
    // r = 3/5 = 0.6, slope of m on p = 3/5 = 0.6.
    const yTrained = [0.1, 0.2, 0.3, 0.4]
    const yOther = [2.1, 1.2, 4.3, 3.4]
    const pTrained = [0, 0, 1, 1]
    const pOther = [1, 2, 4, 5]
    // The learned directions predict half the raw shift: [0.5, 1, 1.5, 2] (r = 0.6 again, slope 1.2, mean 1.25).
    const t = probeTransfer(yTrained, yOther, pTrained, pOther, [0.5, 1, 1.5, 2], { resamples: 200, seed: 1 })
    expect(t.shift.pearsonR.estimate).toBeCloseTo(0.6, 12)
    expect(t.shift.slope.estimate).toBeCloseTo(0.6, 12)
    expect(t.shift.meanMeasured.estimate).toBeCloseTo(2.5, 12)
    expect(t.shift.meanPredicted.estimate).toBeCloseTo(2.5, 12)
    expect(t.shift.inSpan.pearsonR.estimate).toBeCloseTo(0.6, 12)
    expect(t.shift.inSpan.slope.estimate).toBeCloseTo(1.2, 12)
    expect(t.shift.inSpan.meanPredicted.estimate).toBeCloseTo(1.25, 12)
    // Population sd (ddof 0): √(5/4) for both.
    expect(t.shift.sdMeasured).toBeCloseTo(Math.sqrt(1.25), 12)
    expect(t.shift.sdPredicted).toBeCloseTo(Math.sqrt(1.25), 12)
    // Targets and predictions of the other condition: y = [2.1, 1.2, 4.3, 3.4], p = [1, 2, 4, 5];
    // SS_res = 1.21 + 0.64 + 0.09 + 2.56 = 4.5, mean y 2.75, SS_tot = 0.4225 + 2.4025 + 2.4025 + 0.4225 = 5.65.
    expect(t.other.r2.estimate).toBeCloseTo(1 - 4.5 / 5.65, 12)
    // Mean-adjusted: p shifted by 2.75 − 3 = −0.25 gives residuals 1.35, −0.55, 0.55, −1.35: SS = 4.25.
    expect(t.other.r2MeanAdjusted.estimate).toBeCloseTo(1 - 4.25 / 5.65, 12)
    for (const i of [t.shift.pearsonR, t.shift.meanMeasured, t.other.r2]) {
      expect(i.lo).toBeLessThanOrEqual(i.estimate)
      expect(i.hi).toBeGreaterThanOrEqual(i.estimate)
    }
  })

  it("a constant shift: means exact with degenerate intervals; a constant prediction leaves the correlation undefined", () => {
    const yTrained = [0.1, 0.5, 0.2, 0.9, 0.4]
    const t = probeTransfer(yTrained, yTrained.map((v) => v + 0.25), [0, 1, 2, 3, 4], [0.5, 1.5, 2.5, 3.5, 4.5], [0, 0, 0, 0, 0], { resamples: 100, seed: 2 })
    expect(t.shift.meanMeasured.estimate).toBeCloseTo(0.25, 12)
    expect(t.shift.meanMeasured.hi - t.shift.meanMeasured.lo).toBeLessThan(1e-12)
    expect(t.shift.meanPredicted.estimate).toBe(0.5)
    expect(t.shift.sdPredicted).toBe(0)
    expect(t.shift.sdMeasured).toBeLessThan(1e-15)
    expect(Number.isNaN(t.shift.pearsonR.estimate)).toBe(true)
    expect(Number.isNaN(t.shift.slope.estimate)).toBe(true)
  })

  it("names mismatched lengths", () => {
    expect(() => probeTransfer([1, 2, 3], [1, 2], [1, 2, 3], [1, 2, 3], [0, 0, 0])).toThrow(/probeTransfer: yOther has 2 values/)
    expect(() => probeTransfer([1, 2, 3], [1, 2, 3], [1, 2, 3], [1, 2, 3], [0])).toThrow(/probeTransfer: shiftInSpan has 1 values/)
  })
})

describe("shiftCeiling", () => {
  it("hand-worked: the halves' shifts correlate 0.5, so the ceiling is √(2·0.5/1.5)", () => {
    // Trained answers are all 0; the other condition's even-sample shifts are 1, 2, 3 and odd-sample ones 2, 1, 3.
    // Deviations from the mean 2: (−1, 0, 1) and (0, −1, 1): r = 1/2; Spearman-Brown for two halves: 2/3.
    const zeros = [[0, 0], [0, 0], [0, 0]]
    expect(shiftCeiling(zeros, [[1, 2], [2, 1], [3, 3]])).toBeCloseTo(Math.sqrt(2 / 3), 12)
    expect(shiftCeiling(zeros, [[1, 1], [2, 2], [3, 3]])).toBeCloseTo(1, 12)
    // Halves that disagree leave nothing to predict.
    expect(shiftCeiling(zeros, [[1, 3], [2, 2], [3, 1]])).toBe(0)
    // The trained condition's noise counts too: its odd samples reverse the order the other condition's imply.
    expect(shiftCeiling([[0, 0, 0], [0, 2, 0], [0, 4, 0]], [[1, 1, 1], [2, 2, 2], [3, 3, 3]])).toBe(0)
  })

  it("names tasks with fewer than two samples", () => {
    expect(() => shiftCeiling([[0, 0], [0], [0, 0]], [[1, 1], [1, 1], [1, 1]])).toThrow(/shiftCeiling: trained\[1\] has 1 samples/)
  })
})
