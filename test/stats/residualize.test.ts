import { describe, expect, it } from "@effect/vitest"
import { Matrix, solve } from "ml-matrix"
import { makePrng } from "../../stats/prng"
import { makeResidualizer } from "../../stats/residualize"
import { onEveryBackend } from "../support/kernelBackends"

const randomMatrix = (rows: number, cols: number, seed: number) => {
  const prng = makePrng(seed)
  return Array.from({ length: rows }, () => Array.from({ length: cols }, () => prng.next() * 2 - 1))
}

/**
 * The closed form of one Ridge fit: B = (ZᵀZ + α·s²·I)⁻¹ZᵀA with Z = C_fit − 1·μᵀ, s² the mean variance of Z's columns
 * and A centred by the fit rows' mean ā; the prediction of row v is ā + (c_v − μ)ᵀB. Solved by ml-matrix's LU,
 * independent of the tridiagonal path.
 */
const closedForm = (c: number[][], a: number[][], fit: number[], predict: number[], alpha: number): number[][] => {
  const mean = (x: number[][], rows: number[]) => x[0]!.map((_, j) => rows.reduce((s, r) => s + x[r]![j]!, 0) / rows.length)
  const mu = mean(c, fit), abar = mean(a, fit)
  const z = new Matrix(fit.map((r) => c[r]!.map((v, j) => v - mu[j]!)))
  const ac = new Matrix(fit.map((r) => a[r]!.map((v, j) => v - abar[j]!)))
  const s2 = z.to1DArray().reduce((acc, v) => acc + v * v, 0) / (z.rows * z.columns)
  const b = solve(z.transpose().mmul(z).add(Matrix.eye(z.columns).mul(alpha * s2)), z.transpose().mmul(ac))
  const zv = new Matrix(predict.map((r) => c[r]!.map((v, j) => v - mu[j]!)))
  return zv.mmul(b).to2DArray().map((row) => row.map((v, j) => v + abar[j]!))
}

describe("makeResidualizer", () => {
  // Primal (more rows than covariates) and dual (fewer) orientations, the latter through the shared Gram matrix.
  for (const [n, p, label] of [[40, 5, "primal"], [24, 30, "dual"]] as const) {
    it.effect(`cross-fitted and applied residuals equal the closed form to 1e-9 on every kernel backend (${label})`, () =>
      onEveryBackend(async (b) => {
      const d = 4
      const c = randomMatrix(n, p, n + p)
      const a = randomMatrix(n, d, 7).map((row, i) => row.map((v, j) => v + 3 * c[i]![j % p]! - 0.5 * c[i]![(j + 1) % p]! + 10 * j))
      const folds = Array.from({ length: n }, (_, i) => i % 3)
      const train = Array.from({ length: n - 6 }, (_, i) => i), apply = [n - 6, n - 5, n - 4, n - 3, n - 2, n - 1]
      const alphas = [0.05, 0.5, 5, 50]
      const res = await makeResidualizer(c).residualize(a, train, apply, { alphas, folds, kernels: b.backend })
      // The reference picks alpha by the same criterion: out-of-fold squared error summed over every column.
      const sse = alphas.map((alpha) =>
        [0, 1, 2].reduce((s, f) => {
          const fit = train.filter((r) => folds[r] !== f), held = train.filter((r) => folds[r] === f)
          const pred = closedForm(c, a, fit, held, alpha)
          return s + held.reduce((t, r, i) => t + a[r]!.reduce((u, v, j) => u + (v - pred[i]![j]!) ** 2, 0), 0)
        }, 0)
      )
      const best = sse.indexOf(Math.min(...sse))
      expect(res.alpha).toBe(alphas[best])
      const mean = a[0]!.map((_, j) => train.reduce((s, r) => s + a[r]![j]!, 0) / train.length)
      const sst = train.reduce((s, r) => s + a[r]!.reduce((t, v, j) => t + (v - mean[j]!) ** 2, 0), 0)
      res.cvR2ByAlpha.forEach((r2, k) => expect(Math.abs(r2 - (1 - sse[k]! / sst))).toBeLessThan(1e-9))
      for (const f of [0, 1, 2]) {
        const fit = train.filter((r) => folds[r] !== f), held = train.filter((r) => folds[r] === f)
        const pred = closedForm(c, a, fit, held, res.alpha)
        held.forEach((r, i) => a[r]!.forEach((v, j) => expect(Math.abs(res.residuals.data[r * d + j]! - (v - pred[i]![j]!))).toBeLessThan(1e-9)))
      }
      const applied = closedForm(c, a, train, apply, res.alpha)
      apply.forEach((r, i) => a[r]!.forEach((v, j) => expect(Math.abs(res.residuals.data[r * d + j]! - (v - applied[i]![j]!)), b.name).toBeLessThan(1e-9)))
      })
    )
  }

  it("a hand-worked example: one covariate, two folds", async () => {
    // c = (0, 1, 2, 3), a = (1, 3, 2, 6), folds (0, 1, 0, 1), alpha 1. Fold 0 fits rows 1, 3: μ = 2, ā = 4.5,
    // z = (−1, 1) of mean variance s² = 1, slope = zᵀa_c/(zᵀz + α·s²) = (1.5 + 1.5)/3 = 1, so row 0 is predicted
    // 4.5 − 2 = 2.5 and row 2 4.5. Fold 1 fits rows 0, 2: μ = 1, ā = 1.5, z = (−1, 1), a_c = (−0.5, 0.5), slope 1/3:
    // rows 1 and 3 get 1.5 and 2 1/6.
    const res = await makeResidualizer([[0], [1], [2], [3]]).residualize([[1], [3], [2], [6]], [0, 1, 2, 3], [], { alphas: [1], folds: [0, 1, 0, 1] })
    const expected = [1 - 2.5, 3 - 1.5, 2 - 4.5, 6 - (1.5 + 2 / 3)]
    expected.forEach((v, i) => expect(res.residuals.data[i]!).toBeCloseTo(v, 12))
  })

  it("removes exactly what a linear map of the covariates puts into the targets", async () => {
    const n = 120, p = 6, d = 5
    const c = randomMatrix(n, p, 3)
    const noise = randomMatrix(n, d, 4)
    const a = c.map((row, i) => noise[i]!.map((e, j) => 0.01 * e + row.reduce((s, v, k) => s + v * Math.cos(j + k), 0)))
    const res = await makeResidualizer(c).residualize(a, Array.from({ length: n }, (_, i) => i), [], { alphas: [1e-4, 1e-2, 1, 100], folds: Array.from({ length: n }, (_, i) => i % 5) })
    expect(res.alpha).toBeLessThanOrEqual(1e-2)
    expect(res.cvR2).toBeGreaterThan(0.999)
    for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) expect(Math.abs(res.residuals.data[i * d + j]!)).toBeLessThan(0.05)
  })

  it("a penalty relative to the covariates' variance: scaling every covariate by one constant, or adding constant ones, changes nothing", async () => {
    const c = randomMatrix(30, 40, 5), a = randomMatrix(30, 3, 6).map((row, i) => row.map((v) => v + c[i]![0]!))
    const options = { alphas: [0.1, 1, 10], folds: Array.from({ length: 30 }, (_, i) => i % 3) }
    const train = Array.from({ length: 25 }, (_, i) => i), apply = [25, 26, 27, 28, 29]
    const base = await makeResidualizer(c).residualize(a, train, apply, options)
    const scaled = await makeResidualizer(c.map((row) => row.map((v) => v * 1e-3))).residualize(a, train, apply, options)
    expect(scaled.alpha).toBe(base.alpha)
    base.residuals.data.forEach((v, i) => expect(Math.abs(scaled.residuals.data[i]! - v)).toBeLessThan(1e-9))
    // Nor do constant columns (unused hashing slots), in either orientation.
    const padded = await makeResidualizer(c.map((row) => [...row, ...new Array<number>(60).fill(0.5)])).residualize(a, train, apply, options)
    expect(padded.alpha).toBe(base.alpha)
    base.residuals.data.forEach((v, i) => expect(Math.abs(padded.residuals.data[i]! - v)).toBeLessThan(1e-9))
    const few = randomMatrix(30, 4, 8)
    const narrow = await makeResidualizer(few).residualize(a, train, apply, options)
    const widened = await makeResidualizer(few.map((row) => [...row, 0, 0, 0])).residualize(a, train, apply, options)
    narrow.residuals.data.forEach((v, i) => expect(Math.abs(widened.residuals.data[i]! - v)).toBeLessThan(1e-9))
  })

  it("names the argument at fault", async () => {
    const r = await makeResidualizer([[0], [1], [2], [3]])
    await expect(r.residualize([[1], [2]], [0, 1], [], { alphas: [1], folds: [0, 1, 0, 1] })).rejects.toThrow(/targets has 2 rows but covariates has 4/)
    await expect(r.residualize([[1], [2], [3], [4]], [0, 2], [], { alphas: [1], folds: [0, 1, 0, 1] })).rejects.toThrow(/fall in 1 fold/)
    await expect(r.residualize([[1], [2], [3], [4]], [0, 1, 2, 3], [7], { alphas: [1], folds: [0, 1, 0, 1] })).rejects.toThrow(/apply contains 7/)
    await expect(r.residualize([[1], [2], [3], [4]], [0, 1, 2, 3], [], { alphas: [0], folds: [0, 1, 0, 1] })).rejects.toThrow(/positive, got 0/)
  })
})
