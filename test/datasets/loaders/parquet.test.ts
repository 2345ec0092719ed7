import { describe, expect, it } from "@effect/vitest"
import { Field, List, Struct, Table, tableFromArrays, tableToIPC, Utf8, vectorFromArray } from "apache-arrow"
import { Effect } from "effect"
import { Table as WasmTable, writeParquet } from "parquet-wasm"
import { loadFile } from "../../../datasets/loadDataset"
import { loadParquet } from "../../../datasets/loaders/parquet"
import { tempDir } from "../tempDir"

const tmp = tempDir()
const toParquet = (table: Table): Uint8Array => writeParquet(WasmTable.fromIPCStream(tableToIPC(table, "stream")))

describe("loadParquet", () => {
  it.effect("round-trips flat rows, turning 64-bit integers into numbers", () =>
    Effect.gen(function* () {
      const table = tableFromArrays({
        id: ["p1", "p2"],
        origin: ["alpaca", "alpaca"],
        prompt: ["Name a fruit.", "Name a colour."],
        source_index: BigInt64Array.from([7n, 9007199254740993n]),
        score: Float64Array.from([0.5, 1.5])
      })
      const rows = yield* loadParquet(toParquet(table), "flat.parquet")
      expect(rows).toEqual([
        { _tag: "Record", line: 1, value: { id: "p1", origin: "alpaca", prompt: "Name a fruit.", source_index: 7, score: 0.5 } },
        { _tag: "Record", line: 2, value: { id: "p2", origin: "alpaca", prompt: "Name a colour.", source_index: "9007199254740993", score: 1.5 } }
      ])
    }))

  it.effect("reads nested WildChat conversations into tasks through a file", () =>
    Effect.gen(function* () {
      const turn = new Struct([new Field("role", new Utf8()), new Field("content", new Utf8())])
      const conversations = [
        [
          { role: "user", content: "Tell me about otters." },
          { role: "assistant", content: "Otters are playful." }
        ],
        [{ role: "user", content: "Hi there, how are you?" }]
      ]
      const table = new Table({
        conversation_hash: vectorFromArray(["h1", "h2"], new Utf8()),
        conversation: vectorFromArray(conversations, new List(new Field("item", turn)))
      })
      const name = tmp.write("chats.parquet", toParquet(table))
      const { tasks } = yield* loadFile(`${tmp.dir}/${name}`, { file: name })
      expect(tasks.map((task) => [task.origin, task.prompt, task.meta])).toEqual([
        ["wildchat", "Tell me about otters.", { conversation_hash: "h1", turns: 2, reference_output: "Otters are playful." }],
        ["wildchat", "Hi there, how are you?", { conversation_hash: "h2", turns: 1 }]
      ])
    }))

  it.effect("a missing prompt in a Parquet row names the file, row and field", () =>
    Effect.gen(function* () {
      const table = tableFromArrays({ origin: ["x", "x"], prompt: ["fine", ""] })
      const name = tmp.write("empty.parquet", toParquet(table))
      const error = yield* Effect.flip(loadFile(`${tmp.dir}/${name}`, { file: name }))
      expect(error.message).toContain('empty.parquet:2: field "prompt"')
    }))

  it.effect("bytes that are not Parquet fail naming the file", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(loadParquet(new TextEncoder().encode("not parquet at all"), "junk.parquet"))
      expect(error.message).toMatch(/^junk\.parquet: cannot read Parquet/)
    }))
})
