import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { type AdapterName } from "../../datasets/adapters"
import { loadDataset } from "../../datasets/loadDataset"
import { sharedPath } from "../support/sharedData"

const tasksDir = sharedPath("tasks")
const files: ReadonlyArray<readonly [string, AdapterName]> = [
  ["alpaca", "alpaca"],
  ["bailbench", "bailbench"],
  ["math", "math"],
  ["wildchat", "wildchat"],
  ["hh_rlhf_harmless", "generic"]
]
const sourceRows = (file: string) =>
  fs.readFileSync(path.join(tasksDir!, `${file}.jsonl`), "utf8").split("\n").filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as { id: string; origin: string; prompt: string } & Record<string, unknown>)

describe.skipIf(tasksDir === undefined)("shared task samples", () => {
  it.effect("every row of every file loads, auto-detected and by its named adapter, keeping ids, origins and prompts", () =>
    Effect.gen(function* () {
      let total = 0
      let expected = 0
      for (const [file, adapter] of files) {
        const rows = sourceRows(file)
        expected += rows.length
        const want = rows.map((row) => [row.id, row.origin, row.prompt])
        const detected = yield* loadDataset({ name: file, path: `${file}.jsonl` }, tasksDir!)
        const named = yield* loadDataset({ name: file, path: `${file}.jsonl`, adapter }, tasksDir!)
        for (const { tasks, skipped } of [detected, named]) {
          expect(skipped).toEqual([])
          expect(tasks.map((task) => [task.task_id, task.origin, task.prompt])).toEqual(want)
        }
        total += detected.tasks.length
      }
      expect(total).toBe(expected)
      expect(total).toBe(3700)
    }))

  it.effect("extra fields land in meta: alpaca's reference output, math's answer and level", () =>
    Effect.gen(function* () {
      const alpacaRows = sourceRows("alpaca")
      const alpaca = yield* loadDataset({ name: "a", path: "alpaca.jsonl" }, tasksDir!)
      expect(alpaca.tasks.map((task) => task.meta.reference_output)).toEqual(alpacaRows.map((row) => row.reference_output))
      const mathRows = sourceRows("math")
      const math = yield* loadDataset({ name: "m", path: "math.jsonl" }, tasksDir!)
      expect(math.tasks.map((task) => [task.meta.answer, task.meta.level, task.meta.subject])).toEqual(
        mathRows.map((row) => [row.answer, row.level, row.subject])
      )
    }))
})
