import { describe, expect, it } from "@effect/vitest"
import { positionsFor, randomDirection } from "../../stages/steer"
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
