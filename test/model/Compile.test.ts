import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { loadCheckpoint } from "../../model/Checkpoint"
import { allFusions, buildDecoder, compileCached, type CompileOptions, type Fusion } from "../../model/Compile"
import { leftPad } from "../../model/Generate"
import { emptyCache, forward, openSession } from "../../model/Session"
import { forwardSequence, referenceLogits } from "./referenceForward"
import { writeTinyCheckpoint } from "./tinyCheckpoint"

const qwenWithLlama3Rope = writeTinyCheckpoint({
  config: {
    architectures: ["Qwen2ForCausalLM"],
    model_type: "qwen2",
    hidden_size: 32,
    rope_scaling: { rope_type: "llama3", factor: 4, low_freq_factor: 1, high_freq_factor: 2, original_max_position_embeddings: 8 }
  },
  qkvBias: true
})
const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), "prefpipe-compile-"))
const sequences = [[1, 3, 4, 6, 8, 3, 9, 12, 5], [1, 10, 11, 5], [1, 3, 5, 7, 8, 10, 12]]
const options = (o: Partial<CompileOptions>): CompileOptions => ({ fusions: [], logits: "all", hiddenLayers: [], steerLayers: [], dtype: "float32", ...o })

const allLogits = (modelPath: string, o: CompileOptions) =>
  Effect.gen(function* () {
    const ck = yield* loadCheckpoint(qwenWithLlama3Rope)
    const session = yield* openSession(modelPath, ck.dims, "cpu")
    const padded = leftPad(sequences, 0)
    const out = yield* forward(session, {
      batch: sequences.length,
      seq: padded.seq,
      inputIds: padded.ids,
      positionIds: padded.positions,
      attentionMask: padded.mask,
      cache: emptyCache(ck.dims, sequences.length)
    }, o.hiddenLayers)
    let worst = 0
    sequences.forEach((ids, b) => {
      const expected = referenceLogits(ck, ids)
      ids.forEach((_, t) => {
        const at = (b * padded.seq + padded.pads[b]! + t) * ck.dims.vocab
        for (let v = 0; v < ck.dims.vocab; v++) worst = Math.max(worst, Math.abs(out.logits[at + v]! - expected[t]![v]!))
      })
    })
    return worst
  })

describe("decoder compiler", () => {
  it.effect("the fused graph falls back to plain attention when the head size is not a multiple of 8", () =>
    Effect.gen(function* () {
      const ck = yield* loadCheckpoint(writeTinyCheckpoint())
      expect(ck.dims.headDim % 8).not.toBe(0)
      const session = yield* openSession((yield* compileCached(ck, options({ fusions: allFusions, logits: "last" }), cacheDir)).path, ck.dims, "cpu")
      const ids = sequences[0]!
      const out = yield* forwardSequence(session, ids)
      const expected = referenceLogits(ck, ids)[ids.length - 1]!
      expect(Math.max(...expected.map((e, v) => Math.abs(e - out.logits[v]!)))).toBeLessThan(1e-4)
    }).pipe(Effect.provide(NodeContext.layer)))

  for (const fusions of [[], allFusions, ["rmsnorm", "rotary"], ["skipnorm", "packed"]] as ReadonlyArray<ReadonlyArray<Fusion>>)
    it.effect(`graph with fusions [${fusions.join(", ")}] of a Qwen2 model with biases and Llama-3 rope scaling matches a float64 forward pass under left padding`, () =>
      Effect.gen(function* () {
        const ck = yield* loadCheckpoint(qwenWithLlama3Rope)
        const o = options({ fusions })
        const compiled = yield* compileCached(ck, o, cacheDir)
        expect(yield* allLogits(compiled.path, o)).toBeLessThan(1e-4)
      }).pipe(Effect.provide(NodeContext.layer)))

  it.effect("float16 weights run on CPU within half precision of the float64 forward pass", () =>
    Effect.gen(function* () {
      const ck = yield* loadCheckpoint(qwenWithLlama3Rope)
      const o = options({ fusions: allFusions, dtype: "float16" })
      const compiled = yield* compileCached(ck, o, cacheDir)
      const worst = yield* allLogits(compiled.path, o)
      expect(worst).toBeLessThan(3e-2)
      expect(worst).toBeGreaterThan(1e-6)
    }).pipe(Effect.provide(NodeContext.layer)))

  it.effect("caches compiled models by weights hash and options", () =>
    Effect.gen(function* () {
      const ck = yield* loadCheckpoint(qwenWithLlama3Rope)
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prefpipe-compile-cache-"))
      const first = yield* compileCached(ck, options({}), dir)
      const again = yield* compileCached(ck, options({}), dir)
      const other = yield* compileCached(ck, options({ hiddenLayers: [1] }), dir)
      expect(again.path).toBe(first.path)
      expect(first.nodes).toBeGreaterThan(0)
      expect(again.nodes).toBe(0)
      expect(other.path).not.toBe(first.path)
      expect(fs.readdirSync(dir).filter((f) => f.includes(".tmp-"))).toEqual([])
    }).pipe(Effect.provide(NodeContext.layer)))

  it.effect("external-data models load from their path and compute the same logits", () =>
    Effect.gen(function* () {
      const ck = yield* loadCheckpoint(qwenWithLlama3Rope)
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prefpipe-external-"))
      const { model, data } = buildDecoder(ck, options({ fusions: allFusions })).encode("external", "weights.bin")
      expect(data.length).toBeGreaterThan(0)
      fs.writeFileSync(path.join(dir, "weights.bin"), Buffer.concat(data.map((d) => Buffer.from(d))))
      fs.writeFileSync(path.join(dir, "model.onnx"), model)
      expect(model.length).toBeLessThan(data.reduce((a, d) => a + d.length, 0))
      expect(yield* allLogits(path.join(dir, "model.onnx"), options({ fusions: allFusions }))).toBeLessThan(1e-4)
    }).pipe(Effect.provide(NodeContext.layer)))
})
