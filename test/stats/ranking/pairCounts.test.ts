import { describe, expect, it } from "@effect/vitest"
import { type Comparison, pairCounts, sortedTasks } from "../../../stats/ranking/pairCounts"

const records: Comparison[] = [
  { task_a: "b", task_b: "a", choice: "a" },
  { task_a: "a", task_b: "b", choice: "a" },
  { task_a: "a", task_b: "b", choice: "refusal" },
  { task_a: "c", task_b: "a", choice: "b" },
  { task_a: "b", task_b: "a", choice: "a" }
]

describe("pairCounts", () => {
  it("aggregates wins per unordered pair, dropping refusals", () => {
    const counts = pairCounts(records)
    expect(counts.tasks).toEqual(["a", "b", "c"])
    expect(Array.from(counts.i)).toEqual([0, 0])
    expect(Array.from(counts.j)).toEqual([1, 2])
    expect(Array.from(counts.winsI)).toEqual([1, 1])
    expect(Array.from(counts.winsJ)).toEqual([2, 0])
  })

  it("keeps tasks seen only in refusals and follows a given task order", () => {
    expect(sortedTasks([...records, { task_a: "z", task_b: "y", choice: "refusal" }])).toEqual(["a", "b", "c", "y", "z"])
    const counts = pairCounts(records, ["c", "b", "a"])
    expect(Array.from(counts.i)).toEqual([1, 0])
    expect(Array.from(counts.winsI)).toEqual([2, 0])
  })

  it("rejects unknown tasks, self-comparisons and bad choices", () => {
    expect(() => pairCounts(records, ["a", "b"])).toThrow(/pairCounts: task "c"/)
    expect(() => pairCounts([{ task_a: "a", task_b: "a", choice: "a" }])).toThrow(/pairCounts: task "a" is compared with itself/)
    expect(() => pairCounts([{ task_a: "a", task_b: "b", choice: "x" as "a" }])).toThrow(/pairCounts: choice/)
    expect(() => pairCounts(records, ["a", "a", "b", "c"])).toThrow(/pairCounts: tasks lists "a" twice/)
  })
})
