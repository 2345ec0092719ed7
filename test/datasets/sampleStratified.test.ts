import { describe, expect, it } from "@effect/vitest"
import { sampleStratified } from "../../datasets/sampleStratified"
import type { Task } from "../../datasets/Task"

const task = (origin: string, k: number): Task => ({ task_id: `${origin}_${k}`, origin, prompt: `${origin} prompt ${k}`, meta: {} })
const tasks: ReadonlyArray<Task> = [
  ...Array.from({ length: 30 }, (_, k) => task("alpaca", k)),
  ...Array.from({ length: 20 }, (_, k) => task("math", k)),
  ...Array.from({ length: 3 }, (_, k) => task("wildchat", k))
]
// A fixed permutation, so the test does not depend on a random shuffle.
const reordered = tasks.map((_, k) => tasks[(k * 17) % tasks.length]!)
const ids = (sample: ReadonlyArray<Task>) => sample.map((t) => t.task_id)

describe("sampleStratified", () => {
  it("takes n per origin (all of a smaller origin), sorted by origin then id", () => {
    const sample = sampleStratified(tasks, { perOrigin: 5, seed: 1 })
    const count = (origin: string) => sample.filter((t) => t.origin === origin).length
    expect([count("alpaca"), count("math"), count("wildchat")]).toEqual([5, 5, 3])
    const sorted = [...sample].sort((a, b) => a.origin.localeCompare(b.origin) || (a.task_id < b.task_id ? -1 : 1))
    expect(ids(sample)).toEqual(ids(sorted))
  })

  it("does not depend on input order", () => {
    expect(new Set(reordered).size).toBe(tasks.length)
    expect(ids(sampleStratified(reordered, { perOrigin: 7, seed: "s" }))).toEqual(ids(sampleStratified(tasks, { perOrigin: 7, seed: "s" })))
  })

  it("draws differently under different seeds", () => {
    expect(ids(sampleStratified(tasks, { perOrigin: 5, seed: 1 }))).not.toEqual(ids(sampleStratified(tasks, { perOrigin: 5, seed: 2 })))
  })

  it("rejects a negative or fractional count", () => {
    expect(() => sampleStratified(tasks, { perOrigin: -1, seed: 1 })).toThrow(/sampleStratified: perOrigin/)
    expect(() => sampleStratified(tasks, { perOrigin: 1.5, seed: 1 })).toThrow(/sampleStratified: perOrigin/)
  })
})
