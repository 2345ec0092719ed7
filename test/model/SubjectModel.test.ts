import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { layerCheckpoint, SubjectModel } from "../../model/SubjectModel"
import { sharedJson, sharedPath } from "../support/sharedData"
import { writeTinyCheckpoint } from "./tinyCheckpoint"

interface Case {
  prompt: string
  ids: number[]
  greedy_ids: number[]
  greedy_text: string
  resid_after_layer: Record<string, number[]>
}
const reference = sharedJson<{ cases: Case[] }>("reference/stories260K/reference.json")
const modelDir = sharedPath("models/stories260K-hf")
const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), "prefpipe-subject-"))
const modelLayer = (dir: string, batchSize: number) => layerCheckpoint({ dir, cacheDir, batchSize }).pipe(Layer.provide(NodeContext.layer))

describe.skipIf(reference === undefined || modelDir === undefined)("SubjectModel over stories260K", () => {
  const cases = reference?.cases ?? []
  const text = (prompt: string) => ({ kind: "text" as const, text: prompt })

  it.effect("reports what the model is", () =>
    Effect.gen(function* () {
      const { info } = yield* SubjectModel
      expect(info).toMatchObject({ architecture: "LlamaForCausalLM", numLayers: 5, hiddenSize: 64, vocabSize: 512, hasChatTemplate: false })
      expect(info.weightsHash).toMatch(/^[0-9a-f]{64}$/)
    }).pipe(Effect.provide(modelLayer(modelDir!, 3))))

  it.effect("generates in batches of batchSize, keeping request order, cutting at stop strings", () =>
    Effect.gen(function* () {
      const model = yield* SubjectModel
      const requests = cases.map((c) => ({ prompt: text(c.prompt), maxTokens: c.greedy_ids.length - c.ids.length, temperature: 0, topP: 1, seed: 1 }))
      const results = yield* model.generate([...requests, requests[0]!])
      expect(results.length).toBe(cases.length + 1)
      cases.forEach((c, i) => {
        expect(results[i]!.tokenIds).toEqual(c.greedy_ids.slice(c.ids.length))
        expect(c.prompt + results[i]!.text).toBe(c.greedy_text)
        expect(results[i]!.promptTokens).toBe(c.ids.length)
      })
      const c = cases[0]!
      const stop = "around"
      const [stopped] = yield* model.generate([{ ...requests[0]!, stop: ["no such text", stop] }])
      expect(stopped!.finish).toBe("stop")
      expect(stopped!.text).toBe(c.greedy_text.slice(c.prompt.length, c.greedy_text.indexOf(stop)))
    }).pipe(Effect.provide(modelLayer(modelDir!, 3))))

  it.effect("scores options, activations at selectors and the residual norm, through the chat fallback", () =>
    Effect.gen(function* () {
      const model = yield* SubjectModel
      const c = cases[0]!
      const [scores] = yield* model.scoreOptions([{ prompt: text(c.prompt), options: [". He", ". She", " and"] }])
      expect(scores!.probs.every((p) => p > 0 && p < 1)).toBe(true)
      expect(scores!.probs[0]!).toBeGreaterThan(scores!.probs[1]!)
      expect(scores!.normalized.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12)
      const chat = { kind: "chat" as const, messages: [{ role: "user", content: c.prompt }], addGenerationPrompt: true, taskText: "blue kite" }
      const [plain, asChat] = yield* model.activations([
        { prompt: text(c.prompt), layers: [4], selectors: ["last"] },
        { prompt: chat, layers: [1, 3], selectors: ["prompt_last", "task_mean", "turn_boundary:3"] }
      ])
      expect(Array.from(plain!.last![4]!).map((x, i) => Math.abs(x - c.resid_after_layer["4"]![i]!)).every((d) => d < 1e-4)).toBe(true)
      expect(Object.keys(asChat!).sort()).toEqual(["prompt_last", "task_mean", "turn_boundary:3"])
      expect(asChat!.prompt_last![3]!.length).toBe(64)
      const norm = yield* model.residualNorm(cases.map((x) => text(x.prompt)), 2)
      expect(norm).toBeGreaterThan(0)
      const error = yield* Effect.flip(model.activations([{ prompt: text(c.prompt), layers: [9], selectors: ["last"] }]))
      expect(error._tag).toBe("ModelError")
      expect(error.message).toContain("layer 9")
    }).pipe(Effect.provide(modelLayer(modelDir!, 2))))

  it.effect("records steering with residual-norm scaling", () =>
    Effect.gen(function* () {
      const model = yield* SubjectModel
      const meanNorm = yield* model.residualNorm(cases.map((x) => text(x.prompt)), 2)
      const steering = { layer: 2, direction: Array.from({ length: 64 }, (_, i) => (i === 5 ? 1 : 0)), coefficient: 0.5, positions: { kind: "autoregressive" as const }, normalization: { kind: "residual_norm" as const, meanNorm } }
      const [g] = yield* model.generate([{ prompt: text(cases[2]!.prompt), maxTokens: 8, temperature: 0, topP: 1, seed: 0, steering }])
      expect(g!.steering).toMatchObject({ layer: 2, coefficient: 0.5, steersGenerated: true, promptTokens: [cases[2]!.ids.length - 1], normalization: { kind: "residual_norm", meanNorm } })
    }).pipe(Effect.provide(modelLayer(modelDir!, 2))))
})

describe("SubjectModel over a tiny WordPiece checkpoint", () => {
  it.effect("stops at an EOS id from generation_config", () =>
    Effect.gen(function* () {
      const dir = writeTinyCheckpoint()
      fs.writeFileSync(path.join(dir, "tokenizer_config.json"), JSON.stringify({ bos_token: "<s>", unk_token: "[UNK]" }))
      fs.writeFileSync(path.join(dir, "generation_config.json"), JSON.stringify({ eos_token_id: [] }))
      const prompt = { kind: "text" as const, text: "the cat sat" }
      const request = { prompt, maxTokens: 6, temperature: 0, topP: 1, seed: 0 }
      const first = yield* Effect.flatMap(SubjectModel, (m) => m.generate([request])).pipe(Effect.provide(modelLayer(dir, 4)))
      expect(first[0]!.finish).toBe("length")
      expect(first[0]!.tokenIds.length).toBe(6)
      const stopAt = first[0]!.tokenIds[2]!
      const cut = first[0]!.tokenIds.indexOf(stopAt)
      fs.writeFileSync(path.join(dir, "generation_config.json"), JSON.stringify({ eos_token_id: [stopAt] }))
      const [ended] = yield* Effect.flatMap(SubjectModel, (m) => m.generate([request])).pipe(Effect.provide(modelLayer(dir, 4)))
      expect(ended!.finish).toBe("eos")
      expect(ended!.tokenIds).toEqual(first[0]!.tokenIds.slice(0, cut))
    }))
})
