import { describe, expect, it } from "@effect/vitest"
import { Matrix, solve } from "ml-matrix"
import {
  covariateHeldOut,
  crossValidatedCovariates,
  crossValidatedOrthogonal,
  heldOneOutCovariates,
  heldOneOutOrthogonal,
  trainTestOrthogonal
} from "../../stats/covariateProbes"
import { heldOneOut, r2ByLabel } from "../../stats/evaluation"
import { cosine, r2Score } from "../../stats/metrics"
import { foldsOf } from "../../stats/ridge"
import { makePrng } from "../../stats/prng"
import { makeResidualizer } from "../../stats/residualize"

/**
 * Tasks of four origins with content features c (p of them) and activations a = c·M + e (d ≥ p, M of full rank, e
 * independent of c): the activations carry all of the content and a part e that content cannot predict. The target is
 * `contentWeight`·(c·β) + `otherWeight`·(e·v) + noise.
 */
const planted = (contentWeight: number, otherWeight: number, seed = 11) => {
  const prng = makePrng(seed)
  const normal = () => Math.sqrt(-2 * Math.log(Math.max(prng.next(), 1e-12))) * Math.cos(2 * Math.PI * prng.next())
  const n = 240, p = 8, d = 16
  const labels = Array.from({ length: n }, (_, i) => ["a", "b", "c", "d"][i % 4]!)
  const c = Array.from({ length: n }, () => Array.from({ length: p }, normal))
  const m = Array.from({ length: p }, () => Array.from({ length: d }, normal))
  const e = Array.from({ length: n }, () => Array.from({ length: d }, () => 0.7 * normal()))
  const beta = Array.from({ length: p }, normal)
  const v = Array.from({ length: d }, (_, j) => (j === 3 ? 1 : 0))
  const x = c.map((row, i) => e[i]!.map((ej, j) => ej + row.reduce((s, ck, k) => s + ck * m[k]![j]!, 0)))
  const contentPart = c.map((row) => contentWeight * row.reduce((s, ck, k) => s + ck * beta[k]!, 0))
  const otherPart = e.map((row) => otherWeight * row.reduce((s, ej, j) => s + ej * v[j]!, 0))
  const y = contentPart.map((cp, i) => cp + otherPart[i]! + 0.2 * normal())
  const alphas = Array.from({ length: 13 }, (_, i) => 10 ** (-2 + i * 0.5))
  const setup = { alphas, groups: labels.map((_, i) => i), k: 5, seed: 3, rule: "one_se" as const }
  const options = { tasks: labels.map((_, i) => i), bootstrap: { resamples: 300, seed: 1 } }
  return { x, c, e, y, labels, setup, options, v, contentPart, otherPart, residualizer: makeResidualizer(c) }
}

describe("covariate-only and covariate-orthogonal probes", () => {
  // A probe that learned nothing predicts (nearly) its training mean, and the held-out R² of a constant c is
  // −(ȳ − c)²/s² in the full sample and in every bootstrap resample: its interval reaches up to 0 only as far as the
  // gap between the training and test means allows, about −(z − 2)²/n_test for a gap of z standard errors (z > 2).
  // "Contains 0" is therefore asserted up to 1/n_test, the cost of a gap of three standard errors.
  it("a target that is a pure function of content: the residualized probe's held-out R² intervals contain 0", async () => {
    const t = planted(1, 0)
    const plain = await heldOneOut(t.x, t.y, t.labels, t.setup, t.options)
    const contentOnly = await heldOneOutCovariates(t.residualizer, t.y, t.labels, t.setup, t.options)
    const orthogonal = await heldOneOutOrthogonal(t.x, t.residualizer, t.y, t.labels, t.setup, t.options)
    for (const label of ["a", "b", "c", "d"]) {
      // The activations predict the target (they carry the content), and so does the content itself ...
      expect(plain[label]!.r2.lo).toBeGreaterThan(0.8)
      expect(contentOnly[label]!.r2.lo).toBeGreaterThan(0.8)
      // ... but once the content is removed from the activations nothing is left to predict it with.
      const { r2, testRows } = orthogonal[label]!
      expect(r2.lo).toBeLessThanOrEqual(0)
      expect(r2.hi).toBeGreaterThanOrEqual(-1 / testRows.length)
      expect(orthogonal[label]!.residualCvR2).toBeGreaterThan(0.8)
    }
    const cv = await crossValidatedOrthogonal(t.x, t.residualizer, t.y, t.labels, t.setup, t.options)
    expect(cv.r2.lo).toBeLessThanOrEqual(0)
    expect(cv.r2.hi).toBeGreaterThanOrEqual(-1 / (t.y.length / t.setup.k))
  })

  it("a target carried only by what content cannot predict: recovered with its direction, content alone predicts nothing", async () => {
    const t = planted(0, 1)
    const cv = await crossValidatedOrthogonal(t.x, t.residualizer, t.y, t.labels, t.setup, t.options)
    expect(cv.r2.estimate).toBeGreaterThan(0.8)
    expect(cv.r2.lo).toBeGreaterThan(0.7)
    expect(Math.abs(cosine(cv.probe.weightsRaw, t.v))).toBeGreaterThan(0.95)
    const contentOnly = await crossValidatedCovariates(t.residualizer, t.y, t.labels, t.setup, t.options)
    expect(contentOnly.r2.estimate).toBeLessThan(0.05)
    for (const label of ["a", "b", "c", "d"]) expect(cv.byLabel[label]!.n).toBe(60)
  })

  it("a mixed target: the residualized probe does as well as one given the non-content part itself", async () => {
    const t = planted(1, 2)
    const variance = (xs: ReadonlyArray<number>) => {
      const m = xs.reduce((a, b) => a + b, 0) / xs.length
      return xs.reduce((a, b) => a + (b - m) ** 2, 0) / xs.length
    }
    const share = variance(t.otherPart) / variance(t.y)
    expect(share).toBeGreaterThan(0.3)
    const cv = await crossValidatedOrthogonal(t.x, t.residualizer, t.y, t.labels, t.setup, t.options)
    // The oracle knows what residualization only estimates: e, the part of the activations content cannot predict,
    // and the content part of the target. Its probe of e is fitted to the target without that part, on the same folds.
    const oracle = (await r2ByLabel(t.e, t.y.map((v, i) => v - t.contentPart[i]!), t.labels, t.setup, t.options)).probe
    const contentMean = t.contentPart.reduce((a, b) => a + b, 0) / t.y.length
    const oracleR2 = r2Score(Array.from(oracle.oofRows, (r) => t.y[r]!), Array.from(oracle.oofPredictions, (p) => p + contentMean))
    expect(Math.abs(cv.r2.estimate - oracleR2)).toBeLessThan(0.05)
    expect(cv.r2.estimate).toBeLessThan(share)
    expect((await r2ByLabel(t.x, t.y, t.labels, t.setup, t.options)).probe.cvR2).toBeGreaterThan(0.7)
  })

  it("never lets a test row into the covariate model: moving test rows' covariates changes nothing on training rows", async () => {
    const t = planted(1, 1)
    const train = Array.from({ length: 180 }, (_, i) => i), test = Array.from({ length: 60 }, (_, i) => 180 + i)
    const moved = t.c.map((row, i) => (i >= 180 ? row.map((v) => v * 5 + 1) : row))
    const a = await trainTestOrthogonal(t.x, t.residualizer, t.y, train, test, t.setup, t.options)
    const b = await trainTestOrthogonal(t.x, makeResidualizer(moved), t.y, train, test, t.setup, t.options)
    expect(b.alpha).toBe(a.alpha)
    expect(b.residualAlpha).toBe(a.residualAlpha)
    Array.from(a.probe.weightsRaw).forEach((w, j) => expect(b.probe.weightsRaw[j]!).toBeCloseTo(w, 9))
  })

  it("the covariate model of the target: the closed-form Ridge, its alpha by the probe's folds over the training rows (1e-9)", async () => {
    const t = planted(1, 1)
    const train = Array.from({ length: 200 }, (_, i) => i), test = Array.from({ length: 40 }, (_, i) => 200 + i)
    const got = await covariateHeldOut(t.residualizer, t.y, train, test, t.setup, t.options)
    // Reference: for each alpha, b = (ZᵀZ + α·s²·I)⁻¹Zᵀ(y − ȳ) on centred covariates Z (s² their mean variance), by LU.
    const fitPredict = (fit: number[], predict: number[], alpha: number) => {
      const mu = t.c[0]!.map((_, j) => fit.reduce((s, r) => s + t.c[r]![j]!, 0) / fit.length)
      const ybar = fit.reduce((s, r) => s + t.y[r]!, 0) / fit.length
      const z = new Matrix(fit.map((r) => t.c[r]!.map((v, j) => v - mu[j]!)))
      const s2 = z.to1DArray().reduce((a, v) => a + v * v, 0) / (z.rows * z.columns)
      const b = solve(z.transpose().mmul(z).add(Matrix.eye(z.columns).mul(alpha * s2)), z.transpose().mmul(Matrix.columnVector(fit.map((r) => t.y[r]! - ybar))))
      return predict.map((r) => ybar + t.c[r]!.reduce((s, v, j) => s + (v - mu[j]!) * b.get(j, 0), 0))
    }
    const folds = foldsOf(Int32Array.from(train), t.setup)
    const sse = t.setup.alphas.map((alpha) =>
      [...new Set(folds)].reduce((acc, f) => {
        const fit = train.filter((_, i) => folds[i] !== f), held = train.filter((_, i) => folds[i] === f)
        const pred = fitPredict(fit, held, alpha)
        return acc + held.reduce((a, r, i) => a + (t.y[r]! - pred[i]!) ** 2, 0)
      }, 0)
    )
    const alpha = t.setup.alphas[sse.indexOf(Math.min(...sse))]!
    expect(got.alpha).toBe(alpha)
    const expected = fitPredict(train, test, alpha)
    expected.forEach((v, i) => expect(Math.abs(got.predictions[i]! - v)).toBeLessThan(1e-9))
    expect(got.r2.estimate).toBeCloseTo(r2Score(test.map((r) => t.y[r]!), expected), 9)
  })
})

