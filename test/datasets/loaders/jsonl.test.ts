import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { loadFile } from "../../../datasets/loadDataset"
import { parseJsonl } from "../../../datasets/loaders/jsonl"
import { tempDir } from "../tempDir"

const tmp = tempDir()
const load = (name: string, content: string) => loadFile(`${tmp.dir}/${tmp.write(name, content)}`, { file: name })

describe("parseJsonl", () => {
  it("numbers rows by line, skipping blank lines and accepting CRLF", () => {
    const rows = parseJsonl('{"a":1}\r\n\n  \n{"a":2}\n')
    expect(rows).toEqual([
      { _tag: "Record", line: 1, value: { a: 1 } },
      { _tag: "Record", line: 4, value: { a: 2 } }
    ])
  })

  it("marks malformed JSON and non-objects with their line", () => {
    const rows = parseJsonl('{"a":1}\n{"a":\n[1,2]\n"text"')
    expect(rows.map((row) => [row._tag, row.line])).toEqual([["Record", 1], ["Malformed", 2], ["Malformed", 3], ["Malformed", 4]])
    expect(rows[2]).toMatchObject({ reason: "expected a JSON object, got an array" })
  })
})

describe("loadJsonl errors", () => {
  it.effect("malformed JSON names the file and line", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(load("broken.jsonl", '{"id":"a","origin":"x","prompt":"p"}\n{"id": "b", oops}\n'))
      expect(error._tag).toBe("DatasetError")
      expect(error.line).toBe(2)
      expect(error.message).toContain("broken.jsonl:2")
      expect(error.message).toContain("malformed JSON")
    }))

  it.effect("a missing prompt names the file, line and field", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(load("missing.jsonl", '{"id":"a","origin":"x","prompt":"p"}\n\n{"id":"b","origin":"x"}\n'))
      expect(error.message).toBe('missing.jsonl:3: field "prompt": is missing')
    }))

  it.effect("an empty prompt and a wrongly typed field are bad rows", () =>
    Effect.gen(function* () {
      const empty = yield* Effect.flip(load("empty.jsonl", '{"id":"a","origin":"x","prompt":"   "}\n'))
      expect(empty.message).toContain('empty.jsonl:1: field "prompt"')
      expect(empty.reason).toContain("non-empty")
      const typed = yield* Effect.flip(load("typed.jsonl", '{"id":"a","origin":"x","prompt":42}\n'))
      expect(typed.message).toContain('typed.jsonl:1: field "prompt"')
      const id = yield* Effect.flip(load("id.jsonl", '{"id":true,"origin":"x","prompt":"p"}\n'))
      expect(id.message).toContain('id.jsonl:1: field "id"')
    }))

  it.effect("a file that is not UTF-8 fails naming the file", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        loadFile(`${tmp.dir}/${tmp.write("latin1.jsonl", new Uint8Array([0x7b, 0xff, 0x7d]))}`, { file: "latin1.jsonl" })
      )
      expect(error.message).toBe("latin1.jsonl: the file is not valid UTF-8")
    }))

  it.effect("a missing file fails naming the file", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(loadFile(`${tmp.dir}/nope.jsonl`, { file: "nope.jsonl" }))
      expect(error.message).toContain("nope.jsonl: cannot read")
    }))
})
