import { describe, expect, it } from "@effect/vitest"
import { heldOutAccuracy, heldOutSplit, utilityMap } from "../../../stats/ranking/heldOut"
import type { Comparison } from "../../../stats/ranking/pairCounts"

const records: Comparison[] = [
  { task_a: "a", task_b: "b", choice: "a" },
  { task_a: "b", task_b: "a", choice: "a" },
  { task_a: "b", task_b: "c", choice: "refusal" },
  { task_a: "c", task_b: "b", choice: "b" },
  { task_a: "a", task_b: "c", choice: "b" }
]

describe("heldOutAccuracy", () => {
  it("scores the chosen task against higher utility, skipping refusals and giving ties half credit", () => {
    const scored = heldOutAccuracy(new Map([["a", 2], ["b", 1], ["c", 1]]), records)
    // a>b: right, wrong; c vs b tie: ½; a>c but c chosen: wrong.
    expect(scored).toEqual({ accuracy: 1.5 / 4, records: 4, ties: 1 })
  })

  it("names a task without a utility", () => {
    expect(() => heldOutAccuracy(new Map([["a", 1]]), records)).toThrow(/heldOutAccuracy: .*"b"/)
    expect(() => utilityMap(["a"], [1, 2])).toThrow(/utilityMap/)
  })
})

describe("heldOutSplit", () => {
  it("holds out whole unordered pairs, ⌊fraction · pairs⌋ of them", () => {
    const split = heldOutSplit(records, { seed: 3, fraction: 0.5 })
    expect(split.heldOutPairs).toBe(1)
    expect(split.train.length + split.test.length).toBe(records.length)
    const key = (c: Comparison) => [c.task_a, c.task_b].sort().join("|")
    const testPairs = new Set(split.test.map(key))
    expect(testPairs.size).toBe(1)
    for (const c of split.train) expect(testPairs.has(key(c))).toBe(false)
    expect(heldOutSplit(records, { fraction: 0 }).test).toEqual([])
    expect(() => heldOutSplit(records, { fraction: 2 })).toThrow(/heldOutSplit: options.fraction/)
  })
})
