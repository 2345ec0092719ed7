import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { allFusions } from "../../model/Compile"
import { activationsBatch, generateBatch, type Runtime, scoreBatch } from "../../model/Generate"
import { encodePrompt } from "../../model/Prompt"
import { emptyCache, forward } from "../../model/Session"
import { planSteering, steeringTensor } from "../../model/Steering"
import { makeRuntime } from "../../model/SubjectModel"
import { sharedJson, sharedPath } from "../support/sharedData"

interface Case {
  prompt: string
  ids: number[]
  resid_after_layer: Record<string, number[]>
  resid_after_layer0_all_positions: number[][]
  logits_last_token: number[]
  greedy_ids: number[]
}
const reference = sharedJson<{ cases: Case[] }>("reference/stories260K/reference.json")
const modelDir = sharedPath("models/stories260K-hf")
const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), "prefpipe-onnx-"))

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  expect(a.length).toBe(b.length)
  let m = 0
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!))
  return m
}
const ids64 = (ids: ReadonlyArray<number>) => BigInt64Array.from(ids, (x) => BigInt(x))
const range64 = (n: number, from = 0) => BigInt64Array.from({ length: n }, (_, i) => BigInt(from + i))

/** The graphs under test: plain operators and every fusion. */
const graphs = { plain: [], fused: allFusions } as const
type GraphName = keyof typeof graphs
const runtimes = new Map<GraphName, Runtime>()
const runtime = (graph: GraphName) =>
  Effect.gen(function* () {
    const cached = runtimes.get(graph)
    if (cached !== undefined) return cached
    const { runtime } = yield* makeRuntime({ dir: modelDir!, cacheDir, fusions: graphs[graph] })
    runtimes.set(graph, runtime)
    return runtime
  }).pipe(Effect.provide(NodeContext.layer))

describe.skipIf(reference === undefined || modelDir === undefined)("stories260K against the float64 reference", () => {
  const cases = reference?.cases ?? []
  const last = Object.keys(cases[0]?.resid_after_layer ?? {}).length - 1

  it.effect("tokenizer ids equal the reference ids", () =>
    Effect.gen(function* () {
      const rt = yield* runtime("fused")
      for (const c of cases) expect(rt.tokenizer.encode(c.prompt, true)).toEqual(c.ids)
    }))

  for (const graph of Object.keys(graphs) as GraphName[])
    it.effect(`${graph} graph: logits and residuals after layer 0 (all positions) and the last layer within 1e-4`, () =>
      Effect.gen(function* () {
        const rt = yield* runtime(graph)
        const session = yield* rt.session({ logits: "last", hiddenLayers: [0, last], steerLayers: [] })
        for (const c of cases) {
          const n = c.ids.length
          const out = yield* forward(session, { batch: 1, seq: n, inputIds: ids64(c.ids), positionIds: range64(n), attentionMask: new BigInt64Array(n).fill(1n), cache: emptyCache(rt.dims, 1) }, [0, last])
          expect(maxAbsDiff(out.logits, c.logits_last_token)).toBeLessThan(1e-4)
          expect(maxAbsDiff(out.hidden.get(0)!, c.resid_after_layer0_all_positions.flat())).toBeLessThan(1e-4)
          expect(maxAbsDiff(out.hidden.get(last)!.subarray((n - 1) * 64), c.resid_after_layer[String(last)]!)).toBeLessThan(1e-4)
        }
      }))

  for (const graph of Object.keys(graphs) as GraphName[])
    it.effect(`${graph} graph: greedy continuations equal greedy_ids, batched (left padding) and one by one`, () =>
      Effect.gen(function* () {
        const rt = yield* runtime(graph)
        const requests = cases.map((c) => ({ prompt: { kind: "text" as const, text: c.prompt }, maxTokens: c.greedy_ids.length - c.ids.length, temperature: 0, topP: 1, seed: 0 }))
        const batched = yield* generateBatch(rt, requests)
        const single = yield* Effect.forEach(requests, (r) => generateBatch(rt, [r]))
        cases.forEach((c, i) => {
          expect([...batched[i]!.promptIds, ...batched[i]!.tokenIds]).toEqual(c.greedy_ids)
          expect(single[i]![0]!.tokenIds).toEqual(batched[i]!.tokenIds)
          expect(batched[i]!.finish).toBe("length")
        })
      }).pipe(Effect.mapError((e) => new Error(String(e)))))

  it.effect("sampling depends on (prompt, seed) only, not on batch composition", () =>
    Effect.gen(function* () {
      const rt = yield* runtime("fused")
      const request = (text: string, seed: number) => ({ prompt: { kind: "text" as const, text }, maxTokens: 20, temperature: 1, topP: 0.9, seed })
      const alone = yield* generateBatch(rt, [request(cases[0]!.prompt, 7)])
      const mixed = yield* generateBatch(rt, [request(cases[2]!.prompt, 3), request(cases[0]!.prompt, 7), request(cases[3]!.prompt, 7)])
      expect(mixed[1]!.tokenIds).toEqual(alone[0]!.tokenIds)
      const other = yield* generateBatch(rt, [request(cases[0]!.prompt, 8)])
      expect(other[0]!.tokenIds).not.toEqual(alone[0]!.tokenIds)
    }).pipe(Effect.mapError((e) => new Error(String(e)))))

  for (const graph of Object.keys(graphs) as GraphName[])
    it.effect(`${graph} graph: KV-cache decoding equals a full recompute of the whole sequence, across cache growth`, () =>
      Effect.gen(function* () {
        const rt = yield* runtime(graph)
        const session = yield* rt.session({ logits: "last", hiddenLayers: [], steerLayers: [] })
        const ids = cases[0]!.greedy_ids
        let cache = emptyCache(rt.dims, 1, 20)
        const initialCapacity = cache.capacity
        let out = yield* forward(session, { batch: 1, seq: 20, inputIds: ids64(ids.slice(0, 20)), positionIds: range64(20), attentionMask: new BigInt64Array(20).fill(1n), cache }, [])
        for (let t = 20; t < ids.length; t++) {
          cache = out.cache
          out = yield* forward(session, { batch: 1, seq: 1, inputIds: ids64([ids[t]!]), positionIds: range64(1, t), attentionMask: new BigInt64Array(1).fill(1n), cache }, [])
        }
        expect(out.cache.capacity).toBeGreaterThan(initialCapacity)
        const full = yield* forward(session, { batch: 1, seq: ids.length, inputIds: ids64(ids), positionIds: range64(ids.length), attentionMask: new BigInt64Array(ids.length).fill(1n), cache: emptyCache(rt.dims, 1) }, [])
        expect(maxAbsDiff(out.logits, full.logits)).toBeLessThan(1e-4)
        expect(out.cache.length).toBe(ids.length)
        const mismatch = yield* Effect.flip(forward(session, { batch: 2, seq: 1, inputIds: ids64([1, 1]), positionIds: range64(2), attentionMask: new BigInt64Array(2).fill(1n), cache: out.cache }, []))
        expect(mismatch).toContain("cache of 1 rows")
      }))

  it.effect("single-token option probabilities equal the softmax of the reference logits", () =>
    Effect.gen(function* () {
      const rt = yield* runtime("fused")
      let checked = 0
      for (const c of cases) {
        const next = c.greedy_ids[c.ids.length]!
        const option = rt.tokenizer.decode([...c.ids.slice(1), next]).slice(c.prompt.length)
        const optionIds = rt.tokenizer.encode(c.prompt + option, true)
        if (optionIds.length !== c.ids.length + 1 || optionIds[c.ids.length] !== next) continue
        const [scores] = yield* scoreBatch(rt, [{ prompt: { kind: "text", text: c.prompt }, options: [option, option + option] }])
        const max = Math.max(...c.logits_last_token)
        const z = c.logits_last_token.reduce((a, x) => a + Math.exp(x - max), 0)
        expect(Math.abs(scores!.probs[0]! - Math.exp(c.logits_last_token[next]! - max) / z)).toBeLessThan(1e-4)
        expect(scores!.probs[1]!).toBeLessThan(scores!.probs[0]!)
        expect(scores!.normalized[0]! + scores!.normalized[1]!).toBeCloseTo(1, 10)
        checked++
      }
      expect(checked).toBeGreaterThan(0)
    }).pipe(Effect.mapError((e) => new Error(String(e)))))

  it.effect("multi-token options scored from a shared prompt cache equal products of conditionals from uncached full passes", () =>
    Effect.gen(function* () {
      const rt = yield* runtime("fused")
      const session = yield* rt.session({ logits: "all", hiddenLayers: [], steerLayers: [] })
      const requests = [
        { prompt: { kind: "text" as const, text: cases[0]!.prompt }, options: [" the cat sat", " a", " Lily and Ben"] },
        { prompt: { kind: "text" as const, text: cases[1]!.prompt + " and then" }, options: [" she smiled.", " he"] },
        { prompt: { kind: "text" as const, text: cases[2]!.prompt }, options: [] }
      ]
      const scores = yield* scoreBatch(rt, requests)
      expect(scores[2]!.probs).toEqual([])
      for (const [q, r] of requests.entries()) {
        const promptIds = rt.tokenizer.encode(r.prompt.text, true)
        for (const [o, option] of r.options.entries()) {
          const ids = rt.tokenizer.encode(r.prompt.text + option, true)
          let shared = 0
          while (shared < promptIds.length && ids[shared] === promptIds[shared]) shared++
          const full = yield* forward(session, { batch: 1, seq: ids.length, inputIds: ids64(ids), positionIds: range64(ids.length), attentionMask: new BigInt64Array(ids.length).fill(1n), cache: emptyCache(rt.dims, 1) }, [])
          let logp = 0
          for (let i = Math.max(1, Math.min(shared, ids.length - 1)); i < ids.length; i++) {
            const row = full.logits.subarray((i - 1) * rt.dims.vocab, i * rt.dims.vocab)
            const max = Math.max(...row)
            logp += row[ids[i]!]! - max - Math.log(row.reduce((a, x) => a + Math.exp(x - max), 0))
          }
          expect(Math.abs(Math.log(scores[q]!.probs[o]!) - logp)).toBeLessThan(1e-4)
        }
      }
    }).pipe(Effect.mapError((e) => new Error(String(e)))))

  it.effect("activations at selectors equal the reference residuals", () =>
    Effect.gen(function* () {
      const rt = yield* runtime("fused")
      const c = cases[1]!
      const [a] = yield* activationsBatch(rt, [{ prompt: { kind: "text", text: c.prompt }, layers: [0, last], selectors: ["last", "first", "mean"] }])
      expect(maxAbsDiff(a!.last![last]!, c.resid_after_layer[String(last)]!)).toBeLessThan(1e-4)
      expect(maxAbsDiff(a!.first![0]!, c.resid_after_layer0_all_positions[0]!)).toBeLessThan(1e-4)
      const mean = c.resid_after_layer0_all_positions[0]!.map((_, k) => c.resid_after_layer0_all_positions.reduce((s, row) => s + row[k]!, 0) / c.ids.length)
      expect(maxAbsDiff(a!.mean![0]!, mean)).toBeLessThan(1e-4)
    }).pipe(Effect.mapError((e) => new Error(String(e)))))

  it.effect("steering with coefficient 0 is identical to no steering", () =>
    Effect.gen(function* () {
      const rt = yield* runtime("fused")
      const direction = Array.from({ length: 64 }, (_, i) => Math.sin(i))
      const base = { prompt: { kind: "text" as const, text: cases[0]!.prompt }, maxTokens: 20, temperature: 0, topP: 1, seed: 0 }
      const [plain, zero, strong] = yield* generateBatch(rt, [
        base,
        { ...base, steering: { layer: 2, direction, coefficient: 0, positions: { kind: "all" }, normalization: { kind: "unit" } } },
        { ...base, steering: { layer: 2, direction, coefficient: 8, positions: { kind: "all" }, normalization: { kind: "unit" } } }
      ])
      expect(zero!.tokenIds).toEqual(plain!.tokenIds)
      expect(strong!.tokenIds).not.toEqual(plain!.tokenIds)
      expect(strong!.steering?.coefficient).toBe(8)
      const [s0, s1] = yield* scoreBatch(rt, [
        { prompt: base.prompt, options: [" and", "."] },
        { prompt: base.prompt, options: [" and", "."], steering: { layer: 1, direction, coefficient: 0, positions: { kind: "autoregressive" }, normalization: { kind: "unit" } } }
      ])
      expect(s1!.probs).toEqual(s0!.probs)
    }).pipe(Effect.mapError((e) => new Error(String(e)))))

  it.effect("steering adds coefficient × direction after the layer at exactly the steered positions, and later layers change", () =>
    Effect.gen(function* () {
      const rt = yield* runtime("fused")
      const layer = 1
      const session = yield* rt.session({ logits: "last", hiddenLayers: [layer, layer + 1], steerLayers: [layer] })
      const prompt = { kind: "text" as const, text: cases[0]!.prompt }
      const encoded = encodePrompt(rt.tokenizer, rt.chat, prompt)
      const n = encoded.ids.length
      const direction = Array.from({ length: 64 }, (_, i) => (i % 3) - 1)
      const plan = Either.getOrThrow(planSteering({ layer, direction, coefficient: 3, positions: { kind: "span", text: "blue kite" }, normalization: { kind: "unit" } }, encoded, 64, rt.dims.layers))
      const run = (steer: Float32Array) =>
        forward(session, { batch: 1, seq: n, inputIds: ids64(encoded.ids), positionIds: range64(n), attentionMask: new BigInt64Array(n).fill(1n), cache: emptyCache(rt.dims, 1), steer: new Map([[layer, steer]]) }, [layer, layer + 1])
      const off = yield* run(new Float32Array(n * 64))
      const on = yield* run(steeringTensor([plan], layer, n, 64, [0]))
      const norm = Math.hypot(...direction)
      const steered = plan.record.promptTokens
      expect(steered.length).toBeGreaterThan(0)
      expect(steered.length).toBeLessThan(n)
      for (let t = 0; t < n; t++) {
        const expected = Array.from({ length: 64 }, (_, k) => off.hidden.get(layer)![t * 64 + k]! + (steered.includes(t) ? (3 * direction[k]!) / norm : 0))
        expect(maxAbsDiff(on.hidden.get(layer)!.subarray(t * 64, (t + 1) * 64), expected)).toBeLessThan(1e-5)
      }
      const after = (o: typeof on, t: number) => o.hidden.get(layer + 1)!.subarray(t * 64, (t + 1) * 64)
      expect(maxAbsDiff(after(on, steered[0]! - 1), after(off, steered[0]! - 1))).toBe(0)
      expect(maxAbsDiff(after(on, n - 1), after(off, n - 1))).toBeGreaterThan(1e-3)
    }).pipe(Effect.mapError((e) => new Error(String(e)))))
})
