import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { loadFile } from "../../../datasets/loadDataset"
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
      expect(error.message).toContain("broken.json:3: malformed JSON at column 12")
    }))

  it.effect("never quotes the file: a secret in a file that is not JSON stays out of the error", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(load("passwd.json", "root:x:0:0:sk-live-0123456789:/root:/bin/bash\n"))
      expect(error.message).toBe("passwd.json:1: malformed JSON at column 1: unexpected character")
      const value = yield* Effect.flip(load("values.json", '[{"origin":"Secret-Origin-0123","prompt":"a"}]'))
      expect(value.message).toBe('values.json:1: field "origin": is not an origin name (lower-case letters, digits, underscores)')
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
