import { describe, expect, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { DatasetSpec } from "../../datasets/DatasetSpec"
import { decodeRows, loadDataset } from "../../datasets/loadDataset"
import { tempDir } from "./tempDir"

const tmp = tempDir()
const jsonl = (...rows: ReadonlyArray<unknown>) => rows.map((row) => (typeof row === "string" ? row : JSON.stringify(row))).join("\n")

describe("loadDataset", () => {
  it.effect("resolves a path against the base folder and picks the format from the extension", () =>
    Effect.gen(function* () {
      tmp.write("a.jsonl", jsonl({ instruction: "Say hi.", input: "", output: "hi" }))
      const { tasks, skipped } = yield* loadDataset({ name: "a", path: "a.jsonl" }, tmp.dir)
      expect(tasks.map((task) => [task.origin, task.prompt])).toEqual([["alpaca", "Say hi."]])
      expect(skipped).toEqual([])
    }))

  it.effect("detects the adapter row by row, so one file may mix native shapes", () =>
    Effect.gen(function* () {
      tmp.write(
        "mixed-shapes.jsonl",
        jsonl(
          { instruction: "Say hi.", input: "" },
          { problem: "What is 2+3?", solution: "$\\boxed{5}$" },
          { content: "Be rude to me.", category: "rudeness" },
          { conversation: [{ role: "user", content: "hello there friend" }] },
          { origin: "Custom", prompt: "Anything at all." }
        )
      )
      const { tasks } = yield* loadDataset({ name: "mix", path: "mixed-shapes.jsonl" }, tmp.dir)
      expect(tasks.map((task) => task.origin)).toEqual(["alpaca", "math", "bailbench", "wildchat", "custom"])
      expect(tasks[1]!.meta.answer).toBe("5")
    }))

  it.effect("honours an explicit format, adapter and origin", () =>
    Effect.gen(function* () {
      tmp.write("rows.txt", "text,category\nBe blunt with me.,tone\n")
      tmp.write("rows2.txt", "prompt,category\nBe blunt with me.,tone\n")
      const error = yield* Effect.flip(loadDataset({ name: "r", path: "rows.txt" }, tmp.dir))
      expect(error.message).toContain('rows.txt: field "format"')
      const { tasks } = yield* loadDataset({ name: "r", path: "rows2.txt", format: "csv", adapter: "bailbench", origin: "probe" }, tmp.dir)
      expect(tasks.map((task) => [task.origin, task.prompt, task.meta])).toEqual([["probe", "Be blunt with me.", { category: "tone" }]])
    }))

  it.effect("fails on the first bad row by default, naming file, line and field", () =>
    Effect.gen(function* () {
      tmp.write("bad.jsonl", jsonl({ origin: "x", prompt: "ok" }, { origin: "x", prompt: "" }, "{oops"))
      const error = yield* Effect.flip(loadDataset({ name: "b", path: "bad.jsonl" }, tmp.dir))
      expect(error).toMatchObject({ _tag: "DatasetError", file: "bad.jsonl", line: 2, field: "prompt" })
    }))

  it.effect("under skip, leaves bad rows out and reports every one of them", () =>
    Effect.gen(function* () {
      tmp.write(
        "mixed.jsonl",
        jsonl({ id: "t1", origin: "x", prompt: "one" }, { id: "t2", origin: "x" }, "{oops", { id: "t3", origin: "x", prompt: 7 }, { id: "t4", origin: "x", prompt: "four" })
      )
      const { tasks, skipped } = yield* loadDataset({ name: "m", path: "mixed.jsonl", onBadRow: "skip" }, tmp.dir)
      expect(tasks.map((task) => task.task_id)).toEqual(["t1", "t4"])
      expect(skipped.map(({ file, line, field }) => [file, line, field])).toEqual([
        ["mixed.jsonl", 2, "prompt"],
        ["mixed.jsonl", 3, ""],
        ["mixed.jsonl", 4, "prompt"]
      ])
      expect(skipped[1]!.reason).toContain("malformed JSON")
    }))

  it.effect("detects duplicate ids, given or derived", () =>
    Effect.gen(function* () {
      tmp.write("dup.jsonl", jsonl({ id: "t1", origin: "x", prompt: "one" }, { id: "t2", origin: "x", prompt: "two" }, { id: "t1", origin: "x", prompt: "three" }))
      const error = yield* Effect.flip(loadDataset({ name: "d", path: "dup.jsonl" }, tmp.dir))
      expect(error.message).toBe('dup.jsonl:3: field "id": duplicate task id (first at line 1)')
      tmp.write("dup2.jsonl", jsonl({ origin: "x", prompt: "same" }, { origin: "x", prompt: "other" }, { origin: "x", prompt: "same" }))
      const { tasks, skipped } = yield* loadDataset({ name: "d", path: "dup2.jsonl", onBadRow: "skip" }, tmp.dir)
      expect(tasks).toHaveLength(2)
      expect(skipped).toEqual([{ file: "dup2.jsonl", line: 3, field: "task_id", reason: expect.stringContaining("first at line 1") }])
    }))

  it.effect("loads a built-in set named in a spec", () =>
    Effect.gen(function* () {
      const { tasks } = yield* loadDataset({ name: "m", builtin: "math" }, "/nowhere")
      expect(tasks.every((task) => task.origin === "math")).toBe(true)
    }))

  it.effect("an empty file gives no tasks", () =>
    Effect.gen(function* () {
      expect(yield* decodeRows([], { file: "none.jsonl" })).toEqual({ tasks: [], skipped: [] })
    }))
})

describe("DatasetSpec", () => {
  const decode = Schema.decodeUnknownEither(DatasetSpec)

  it("accepts a path or a built-in set with the optional fields", () => {
    expect(decode({ name: "a", path: "data/a.csv", format: "csv", adapter: "alpaca", origin: "alpaca", onBadRow: "skip" })._tag).toBe("Right")
    expect(decode({ name: "b", builtin: "wildchat" })._tag).toBe("Right")
  })

  it("rejects both or neither of path and builtin, and unknown formats or adapters", () => {
    expect(decode({ name: "a" })._tag).toBe("Left")
    expect(decode({ name: "a", path: "x.jsonl", builtin: "math" })._tag).toBe("Left")
    expect(decode({ name: "a", path: "x.xml", format: "xml" })._tag).toBe("Left")
    expect(decode({ name: "a", path: "x.jsonl", adapter: "dolly" })._tag).toBe("Left")
    expect(decode({ name: "a", builtin: "gsm8k" })._tag).toBe("Left")
  })
})
