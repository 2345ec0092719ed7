import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { layerCheckpoint, layerTest, SubjectModel } from "../../model/SubjectModel"
import { writeTinyCheckpoint } from "./tinyCheckpoint"

const implementations: Array<[string, Layer.Layer<SubjectModel, unknown>]> = [
  ["layerTest", layerTest({ numLayers: 2, hiddenSize: 16 })],
  [
    "layerCheckpoint (tiny WordPiece checkpoint)",
    layerCheckpoint({ dir: writeTinyCheckpoint(), cacheDir: fs.mkdtempSync(path.join(os.tmpdir(), "prefpipe-contract-")), batchSize: 2 }).pipe(Layer.provide(NodeContext.layer))
  ]
]

const text = (t: string) => ({ kind: "text" as const, text: t })
const chat = (t: string) => ({ kind: "chat" as const, messages: [{ role: "user", content: t }], addGenerationPrompt: true, taskText: t })

for (const [name, layer] of implementations)
  describe(`SubjectModel contract: ${name}`, () => {
    it.effect("generation is per request, deterministic in (prompt, seed) whatever the batch, within maxTokens and stop strings", () =>
      Effect.gen(function* () {
        const model = yield* SubjectModel
        const request = (t: string, seed: number) => ({ prompt: text(t), maxTokens: 5, temperature: 1, topP: 0.95, seed })
        const alone = yield* model.generate([request("the cat sat", 4)])
        const mixed = yield* model.generate([request("a dog", 1), request("the red mat", 2), request("the cat sat", 4)])
        expect(mixed.length).toBe(3)
        expect(mixed[2]).toEqual(alone[0])
        // One prompt asked several times in a batch (the samples of a question), each with its own seed.
        const [other] = yield* model.generate([request("the cat sat", 9)])
        expect(yield* model.generate([request("the cat sat", 4), request("the cat sat", 9), request("the cat sat", 4)])).toEqual([alone[0], other, alone[0]])
        for (const g of mixed) {
          expect(g.tokenIds.length).toBeLessThanOrEqual(5)
          expect(["stop", "eos", "length"]).toContain(g.finish)
        }
        const stop = alone[0]!.text.split(" ")[1]
        if (stop !== undefined && stop !== "") {
          const [stopped] = yield* model.generate([{ ...request("the cat sat", 4), stop: [stop] }])
          expect(stopped!.finish).toBe("stop")
          expect(stopped!.text).not.toContain(stop)
        }
      }).pipe(Effect.provide(layer)))

    it.effect("option scores are probabilities and their renormalisation, the same whatever else is in the batch", () =>
      Effect.gen(function* () {
        const model = yield* SubjectModel
        const request = { prompt: chat("the cat"), options: ["yes", "no", "the"] }
        const [s] = yield* model.scoreOptions([request])
        expect(s!.probs.length).toBe(3)
        for (const p of s!.probs) expect(p >= 0 && p <= 1).toBe(true)
        expect(s!.normalized.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 10)
        const mixed = yield* model.scoreOptions([{ prompt: chat("a dog on the red mat"), options: ["no", "a"] }, request, { prompt: text("yes"), options: ["the"] }])
        expect(mixed[1]).toEqual(s)
        // The same question asked again in a batch, with other options between: each gets its own prompt's scores.
        const other = { prompt: chat("the cat"), options: ["no", "yes"] }
        const [o] = yield* model.scoreOptions([other])
        expect(yield* model.scoreOptions([request, other, request])).toEqual([s, o, s])
        // Generation asked for the options gives the same probabilities, alone or in a batch.
        const asked = { prompt: chat("the cat"), maxTokens: 2, temperature: 1, topP: 1, seed: 3, options: request.options }
        const [g] = yield* model.generate([asked])
        const [, h] = yield* model.generate([{ ...asked, prompt: chat("a much longer prompt about the red dog"), seed: 9 }, asked])
        expect(g!.optionProbs).toEqual(s!.normalized)
        expect(h!.optionProbs).toEqual(s!.normalized)
      }).pipe(Effect.provide(layer)))

    it.effect("activations have one hidden-size row per selector and layer; bad layers fail with ModelError", () =>
      Effect.gen(function* () {
        const model = yield* SubjectModel
        const { numLayers, hiddenSize } = model.info
        const [a] = yield* model.activations([{ prompt: chat("the red cat"), layers: [0, numLayers - 1], selectors: ["prompt_last", "task_mean", "mean"] }])
        for (const selector of ["prompt_last", "task_mean", "mean"])
          for (const layer of [0, numLayers - 1]) {
            expect(a![selector]![layer]).toBeInstanceOf(Float32Array)
            expect(a![selector]![layer]!.length).toBe(hiddenSize)
          }
        const error = yield* Effect.flip(model.activations([{ prompt: text("the cat"), layers: [numLayers], selectors: ["last"] }]))
        expect(error._tag).toBe("ModelError")
        expect(yield* model.residualNorm([text("the cat sat on the mat")], 0)).toBeGreaterThan(0)
      }).pipe(Effect.provide(layer)))
  })
