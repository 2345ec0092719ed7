import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { loadCheckpoint } from "../../model/Checkpoint"
import { EMBED_TOKENS, meanEmbeddings, openInputEmbeddings } from "../../model/InputEmbeddings"
import { makeTokenizer } from "../../model/Tokenizer"
import { sharedPath } from "../support/sharedData"
import { writeTinyCheckpoint } from "./tinyCheckpoint"

// The reference is the whole checkpoint decoded by loadCheckpoint; the reader under test seeks single rows.
const fullEmbedding = (dir: string) =>
  Effect.map(loadCheckpoint(dir).pipe(Effect.provide(NodeContext.layer)), (ck) => ck.weights.get(EMBED_TOKENS)!)

describe("openInputEmbeddings", () => {
  for (const [dtype, shards] of [["F32", 1], ["F16", 1], ["BF16", 3]] as const) {
    it.scoped(`reads every row as the full decode does (${dtype}, ${shards} shard${shards > 1 ? "s" : ""})`, () =>
      Effect.gen(function* () {
        const dir = writeTinyCheckpoint({ dtype, shards })
        const full = yield* fullEmbedding(dir)
        const rows = yield* openInputEmbeddings(dir)
        expect([rows.vocab, rows.dim]).toEqual(full.shape)
        for (let id = 0; id < rows.vocab; id++) expect(rows.row(id)).toEqual(full.data.subarray(id * rows.dim, (id + 1) * rows.dim))
        expect(() => rows.row(rows.vocab)).toThrow(/outside the embedding matrix/)
      }))
  }

  it.scoped("names a folder without the tensor", () =>
    Effect.gen(function* () {
      const dir = writeTinyCheckpoint({ dropWeight: EMBED_TOKENS })
      const error = yield* Effect.flip(openInputEmbeddings(dir))
      expect(error.message).toContain(`model.safetensors: no tensor ${EMBED_TOKENS}`)
    }))
})

describe("meanEmbeddings", () => {
  it.scoped("averages the rows of each list, repeated tokens counted", () =>
    Effect.gen(function* () {
      const rows = yield* openInputEmbeddings(writeTinyCheckpoint())
      const [a, b] = meanEmbeddings(rows, [[3, 4, 4], [5]])
      for (let j = 0; j < rows.dim; j++) {
        expect(a![j]!).toBeCloseTo((rows.row(3)[j]! + 2 * rows.row(4)[j]!) / 3, 6)
        expect(b![j]!).toBe(rows.row(5)[j]!)
      }
      expect(() => meanEmbeddings(rows, [[1], []])).toThrow(/list 1 has no tokens/)
    }))

  const stories = sharedPath("models/stories260K-hf")
  it.scoped.skipIf(stories === undefined)("on stories260K: the task text's tokens, no BOS, mean of the embedding rows", () =>
    Effect.gen(function* () {
      const dir = stories!
      const full = yield* fullEmbedding(dir)
      const read = (name: string) => JSON.parse(fs.readFileSync(path.join(dir, name), "utf8"))
      const tokenizer = makeTokenizer(read("tokenizer.json"), read("tokenizer_config.json"))
      const ids = tokenizer.encode("Once upon a time there was a little cat.", false)
      expect(ids).not.toContain(1)
      const [mean] = meanEmbeddings(yield* openInputEmbeddings(dir), [ids])
      const dim = full.shape[1]!
      for (let j = 0; j < dim; j++) {
        const expected = ids.reduce((s, id) => s + full.data[id * dim + j]!, 0) / ids.length
        expect(Math.abs(mean![j]! - expected)).toBeLessThan(1e-6)
      }
    }))
})
