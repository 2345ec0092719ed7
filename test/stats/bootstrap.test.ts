import { describe, expect, it } from "@effect/vitest"
import { bootstrapByTask, groupRows, quantileSorted } from "../../stats/bootstrap"

describe("bootstrapByTask", () => {
  it("keeps the rows of one task together", () => {
    const tasks = ["a", "a", "b", "b", "c", "c"]
    bootstrapByTask(tasks, (rows) => {
      for (let i = 0; i < rows.length; i += 2) {
        expect(tasks[rows[i]!]).toBe(tasks[rows[i + 1]!])
        expect(rows[i + 1]).toBe(rows[i]! + 1)
      }
      return rows.length
    }, { resamples: 50 })
  })

  it("is seeded, and the interval of a mean matches the normal approximation", () => {
    const values = Array.from({ length: 400 }, (_, i) => Math.sin(i * 12.9898) * 3)
    const tasks = values.map((_, i) => i)
    const mean = (rows: Int32Array) => rows.reduce((s, r) => s + values[r]!, 0) / rows.length
    const a = bootstrapByTask(tasks, mean, { seed: 5 }), b = bootstrapByTask(tasks, mean, { seed: 5 })
    expect(a).toEqual(b)
    const m = mean(Int32Array.from(tasks)), sd = Math.sqrt(values.reduce((s, v) => s + (v - m) ** 2, 0) / values.length)
    const half = (1.959964 * sd) / Math.sqrt(values.length)
    expect(a.estimate).toBeCloseTo(m, 12)
    expect(Math.abs(a.hi - a.lo - 2 * half) / (2 * half)).toBeLessThan(0.15)
    expect(a.resamples).toBe(1000)
  })

  it("quantiles interpolate linearly; groups keep first-appearance order", () => {
    expect(quantileSorted([1, 2, 3, 4], 0.5)).toBe(2.5)
    expect(quantileSorted([1, 2, 3, 4], 0.025)).toBeCloseTo(1.075, 12)
    expect(groupRows(["x", "y", "x"]).map((g) => Array.from(g))).toEqual([[0, 2], [1]])
  })
})
