import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { loadCheckpoint, openCheckpoint } from "../../model/Checkpoint"
import { allFusions, buildDecoder, compileCached, compileKey, type CompileOptions } from "../../model/Compile"
import { openSession } from "../../model/Session"
import { onnxProto } from "../../model/onnxModules"
import { forwardSequence, referenceLogits } from "./referenceForward"
import { writeTinyCheckpoint } from "./tinyCheckpoint"

const tied = writeTinyCheckpoint({ config: { hidden_size: 32, tie_word_embeddings: true }, shards: 2 })
const options = (o: Partial<CompileOptions>): CompileOptions => ({ fusions: allFusions, logits: "all", hiddenLayers: [], steerLayers: [], dtype: "float32", ...o })
const cacheDir = () => fs.mkdtempSync(path.join(os.tmpdir(), "prefpipe-compile-weights-"))
const readGraph = (file: string) => {
  const graph = onnxProto().ModelProto.decode(fs.readFileSync(file)).graph!
  return { initializer: graph.initializer ?? [], input: graph.input ?? [], node: graph.node ?? [] }
}

describe("compiled weights", () => {
  it.effect("a tied embedding is stored once, shared by the embedding Gather and the output Gemm", () =>
    Effect.gen(function* () {
      const ck = yield* openCheckpoint(tied)
      const { vocab, hidden } = ck.dims
      const graph = readGraph((yield* compileCached(ck, options({}), cacheDir())).path)
      const tables = graph.initializer.filter((t) => (t.dims ?? []).map(Number).sort().join() === [vocab, hidden].sort().join())
      expect(tables.map((t) => t.name)).toEqual(["model.embed_tokens.weight"])
      expect(graph.input.map((i) => i.name)).toContain("model.embed_tokens.weight")
      const users = graph.node.filter((n) => (n.input ?? []).includes("model.embed_tokens.weight")).map((n) => n.opType).sort()
      expect(users).toEqual(["Gather", "Gemm"])
    }).pipe(Effect.provide(NodeContext.layer)))

  it.effect("compiling reads tensors one at a time and writes the same graph and data as encoding in memory", () =>
    Effect.gen(function* () {
      const o = options({ logits: "last" })
      const dir = cacheDir()
      const compiled = yield* compileCached(yield* openCheckpoint(tied), o, dir)
      const ck = yield* loadCheckpoint(tied)
      const key = compileKey(ck.weightsHash, o)
      const { model, data } = buildDecoder(ck, o).encode(`decoder_${key}`, `${key}.onnx.data`)
      expect(Buffer.compare(fs.readFileSync(compiled.path), Buffer.from(model))).toBe(0)
      expect(Buffer.compare(fs.readFileSync(`${compiled.path}.data`), Buffer.concat(data))).toBe(0)
      const offsets = readGraph(compiled.path).initializer.flatMap((t) => (t.externalData ?? []).filter((e) => e.key === "offset").map((e) => Number(e.value)))
      expect(offsets.length).toBeGreaterThan(0)
      for (const offset of offsets) expect(offset % 65536).toBe(0)
    }).pipe(Effect.provide(NodeContext.layer)))

  it.effect("the tied, streamed model computes the reference logits at every position", () =>
    Effect.gen(function* () {
      const ck = yield* loadCheckpoint(tied)
      const session = yield* openSession((yield* compileCached(ck, options({}), cacheDir())).path, ck.dims, "cpu")
      const ids = [1, 3, 4, 6, 8, 3, 9]
      const out = yield* forwardSequence(session, ids)
      const expected = referenceLogits(ck, ids).flat()
      let worst = 0
      expected.forEach((x, i) => (worst = Math.max(worst, Math.abs(out.logits[i]! - x))))
      expect(worst).toBeLessThan(1e-4)
    }).pipe(Effect.provide(NodeContext.layer)))
})
