import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { loadFile } from "../../../datasets/loadDataset"
import { jsonErrorOffset } from "../../../datasets/loaders/json"
import { tempDir } from "../tempDir"

const tmp = tempDir()
const load = (name: string, content: string) => loadFile(`${tmp.dir}/${tmp.write(name, content)}`, { file: name })

describe("loadJson", () => {
  it.effect("loads an array of objects, numbering rows from 1", () =>
    Effect.gen(function* () {
      const { tasks } = yield* load("ok.json", JSON.stringify([{ origin: "x", prompt: "one" }, { origin: "x", prompt: "two" }]))
      expect(tasks.map((task) => task.prompt)).toEqual(["one", "two"])
    }))

  it.effect("malformed JSON names the file and the line where parsing stopped", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(load("broken.json", '[\n{"origin":"x","prompt":"a"},\n{"origin": x}\n]'))
      expect(error.line).toBe(3)
      expect(error.message).toContain("broken.json:3: malformed JSON")
    }))

  it.effect("a top-level value that is not an array names the file", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(load("object.json", '{"origin":"x","prompt":"a"}'))
      expect(error.message).toBe("object.json: expected a JSON array of objects, got an object")
    }))

  it.effect("a non-object element and a missing field name the row and field", () =>
    Effect.gen(function* () {
      const element = yield* Effect.flip(load("element.json", '[{"origin":"x","prompt":"a"}, 5]'))
      expect(element.message).toBe("element.json:2: expected a JSON object, got a number")
      const field = yield* Effect.flip(load("field.json", '[{"origin":"x","prompt":"a"}, {"prompt":"b"}]'))
      expect(field.message).toContain('field.json:2: field "origin": is missing')
    }))
})

describe("jsonErrorOffset", () => {
  it("points at the first character JSON.parse cannot accept", () => {
    const cases: ReadonlyArray<readonly [string, number]> = [
      ['{"a": x}', 6],
      ["[1, 2,]", 6],
      ['["ok", "bad \\q"]', 12],
      ["[1] 2", 4],
      ['{"a" 1}', 5],
      ["[tru]", 1],
      ['["open', 6]
    ]
    for (const [text, offset] of cases) {
      expect(() => JSON.parse(text)).toThrow()
      expect([text, jsonErrorOffset(text)]).toEqual([text, offset])
    }
  })
})
