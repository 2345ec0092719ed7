import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { calibrateCoefficients, positionsFor, randomDirection } from "../../stages/steer"
import { cosine } from "../../stats/metrics"

const task = { task_id: "t1", origin: "alpaca", prompt: "Write a poem.", meta: {} }

describe("randomDirection", () => {
  it("has the requested norm and dimension, repeats for a seed and differs across seeds", () => {
    const a = randomDirection(7, 65, 3.5)
    expect(a.length).toBe(65)
    expect(Math.sqrt(a.reduce((s, x) => s + x * x, 0))).toBeCloseTo(3.5, 5)
    expect(randomDirection(7, 65, 3.5)).toEqual(a)
    expect(Math.abs(cosine(a, randomDirection(8, 65, 3.5)))).toBeLessThan(0.5)
  })

  it("spreads its mass over every coordinate like a Gaussian draw (mean square 1/d of the squared norm)", () => {
    const d = 4096
    const v = randomDirection(1, d, 1)
    const meanSquare = v.reduce((s, x) => s + x * x, 0) / d
    const fourth = v.reduce((s, x) => s + x ** 4, 0) / d
    // A Gaussian's kurtosis is 3: E[x⁴] / E[x²]² ≈ 3 within sampling error at d = 4096.
    expect(fourth / meanSquare ** 2).toBeGreaterThan(2.6)
    expect(fourth / meanSquare ** 2).toBeLessThan(3.4)
  })
})

describe("randomDirection orthogonal to given directions", () => {
  it("has no component along them, keeps its norm, and ignores a direction already spanned", () => {
    const probe = randomDirection(2, 64, 5), other = randomDirection(3, 64, 0.1)
    const spanned = Float64Array.from(probe, (x, j) => 2 * x - 30 * other[j]!)
    const v = randomDirection(4, 64, 5, [probe, other, spanned])
    expect(Math.abs(cosine(v, probe))).toBeLessThan(1e-6)
    expect(Math.abs(cosine(v, other))).toBeLessThan(1e-6)
    expect(Math.sqrt(v.reduce((s, x) => s + x * x, 0))).toBeCloseTo(5, 4)
    // Without the constraint the same seed has a visible component along the probe.
    expect(Math.abs(cosine(randomDirection(4, 64, 5), probe))).toBeGreaterThan(1e-3)
  })

  it("rejects directions of the wrong length", () => {
    expect(() => randomDirection(1, 8, 1, [new Float64Array(7)])).toThrow(/randomDirection: orthogonalTo\[0\] has 7 values, expected 8/)
  })
})

describe("positionsFor", () => {
  it("maps each mode to the model's steering positions", () => {
    expect(positionsFor("all", { task })).toEqual({ kind: "all" })
    expect(positionsFor("autoregressive", { task })).toEqual({ kind: "autoregressive" })
    expect(positionsFor("task", { task })).toEqual({ kind: "span", text: "Write a poem." })
  })

  it("steers the task shown first, and +/− on Task A/Task B for differential revealed choices", () => {
    const shown = ["Sort a list.", "Write a poem."] as const
    expect(positionsFor("task", { task, shown })).toEqual({ kind: "span", text: "Sort a list." })
    expect(positionsFor("differential", { task, shown })).toEqual({ kind: "differential", positive: "Sort a list.", negative: "Write a poem." })
  })

  it("has no differential positions for a single-task question", () => {
    expect(positionsFor("differential", { task })).toBeUndefined()
  })
})

describe("calibrateCoefficients", () => {
  const steps: Array<[number, string | undefined]> = []
  const progress = { total: () => Effect.void, done: (n: number, label?: string) => Effect.sync(() => void steps.push([n, label])) }
  /** Answers parse fully below `edge` residual norms and never above it; the unsteered baseline parses `baseline`. */
  const cliff = (edge: number, baseline = 1) => {
    const tried: number[] = []
    const share = (m: number) =>
      Effect.sync(() => {
        tried.push(m)
        return { label: m === 0 ? "unsteered" : "control −", share: m === 0 ? baseline : m < edge ? baseline : 0 }
      })
    return { tried, share }
  }
  const run = (share: (m: number) => Effect.Effect<{ label: string; share: number }>) => Effect.runSync(calibrateCoefficients({ share, progress }))

  it("halves down to the cliff, bisects three times, and sweeps to half the last magnitude that kept the format", () => {
    const { tried, share } = cliff(0.013)
    const result = run(share)
    if (typeof result === "string") throw new Error(result)
    // 1, 1/2, ..., 1/128 = 0.0078 (kept), then √(0.0078·0.0156) = 0.011 (kept), 0.0131 (lost), 0.0120 (kept).
    expect(tried.slice(0, 9)).toEqual([0, 1, 0.5, 0.25, 0.125, 0.0625, 0.03125, 0.015625, 0.0078125])
    expect(tried).toHaveLength(12)
    expect(result.chosen).toBeLessThan(0.013)
    expect(result.chosen).toBeGreaterThan(0.013 / 2 ** (1 / 8))
    const c = result.coefficients[4]!
    expect(result.coefficients).toEqual([-c, -result.coefficients[3]!, 0, result.coefficients[3]!, c])
    expect(c).toBeLessThanOrEqual(result.chosen / 2)
    expect(c).toBeGreaterThan(0.999 * (result.chosen / 2) - 1e-3 * c)
    expect(String(c).replace(/^0\.0*/, "").length).toBeLessThanOrEqual(3)
    expect(result.levels.map((l) => l.residual_norms)).toEqual(tried.slice(1))
    expect(steps.some(([, label]) => label?.startsWith("calibrating coefficients: ±"))).toBe(true)
  })

  it("doubles up to the cap when steering never breaks the format, and keeps 80% of a baseline below 1", () => {
    const { tried, share } = cliff(Infinity, 0.6)
    const result = run(share)
    if (typeof result === "string") throw new Error(result)
    expect(tried).toEqual([0, 1, 2, 4, 8])
    expect(result.chosen).toBe(8)
    expect(result.coefficients).toEqual([-4, -2, 0, 2, 4])
    const partial = run((m) => Effect.succeed({ label: "probe +", share: m === 0 ? 0.5 : m < 0.3 ? 0.41 : 0.39 }))
    expect(typeof partial === "string" ? partial : partial.chosen).toBeLessThan(0.3)
  })

  it("gives the reason when no coefficient can be chosen", () => {
    expect(run(cliff(0.1, 0).share)).toMatch(/no unsteered answer of the calibration prompts parsed/)
    expect(run(cliff(0).share)).toMatch(/answers stop parsing at every magnitude down to 1e-5 residual norms; set steering.coefficients/)
  })
})
