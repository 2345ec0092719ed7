import { describe, expect, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { BuiltinName } from "../../datasets/DatasetSpec"
import { builtinDataset } from "../../datasets/loadDataset"
import { Task } from "../../datasets/Task"

describe("built-in task sets", () => {
  for (const name of BuiltinName.literals) {
    it.effect(`${name}: at least 48 valid tasks of origin ${name} with unique ids and short prompts`, () =>
      Effect.gen(function* () {
        const { tasks, skipped } = yield* builtinDataset(name)
        expect(skipped).toEqual([])
        expect(tasks.length).toBeGreaterThanOrEqual(48)
        expect(tasks.every(Schema.is(Task))).toBe(true)
        expect(new Set(tasks.map((task) => task.task_id)).size).toBe(tasks.length)
        for (const task of tasks) {
          expect(task.origin).toBe(name)
          expect(task.task_id).toMatch(new RegExp(`^${name}_b\\d{3}$`))
          const words = task.prompt.split(/\s+/).length
          expect(words, task.prompt).toBeGreaterThanOrEqual(5)
          expect(words, task.prompt).toBeLessThanOrEqual(40)
        }
      }))
  }

  it.effect("math tasks carry an answer, and prompts are unique across the sets", () =>
    Effect.gen(function* () {
      const math = yield* builtinDataset("math")
      expect(math.tasks.every((task) => typeof task.meta.answer === "string" && task.meta.answer !== "")).toBe(true)
      const all = yield* Effect.forEach(BuiltinName.literals, builtinDataset)
      const prompts = all.flatMap(({ tasks }) => tasks.map((task) => task.prompt.toLowerCase()))
      expect(new Set(prompts).size).toBe(prompts.length)
    }))
})
