/**
 * `serveRuntime` on 127.0.0.1 over the organism, asked through the API subject model (the project's own transport)
 * and by plain HTTP: the same seed gives the same text as the in-process runtime, option probabilities from
 * top_logprobs equal in-process option scoring within 1e-5, concurrent requests share forward batches, and the
 * OpenAI-compatible edges (models, tokenize, embeddings, errors, keys) behave as vLLM's do.
 */
import { NodeContext } from "@effect/platform-node"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Redacted } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { makeApiModel } from "../../model/api/ApiModel"
import { readTensor } from "../../model/Checkpoint"
import { generateBatch, scoreBatch } from "../../model/Generate"
import { buildOrganism, writeOrganism } from "../../model/Organism"
import { encodePrompt } from "../../model/Prompt"
import { serveRuntime } from "../../model/Serve"
import { makeRuntime, withOptionProbs } from "../../model/SubjectModel"
import { messagesFor, syntheticTasks, syntheticTemplates } from "./organism/fixtures"

const tasks = syntheticTasks()
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prefpipe-serve-"))
const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), "prefpipe-serve-onnx-"))
const written = Effect.runPromise(writeOrganism(dir, buildOrganism({ tasks }).files).pipe(Effect.provide(NodeContext.layer)))
const template = (id: string) => syntheticTemplates.find((t) => t.id === id)!
const chat = (templateId: string, i: number) => ({
  kind: "chat" as const,
  messages: messagesFor(template(templateId), tasks[i]!.prompt).map((m) => ({ role: m.role as "user" | "assistant", content: m.content })),
  addGenerationPrompt: true
})
const secret = "sk-serve-test-abcdef0123456789"

/** The organism's runtime and a server over it, for the scope. */
const setup = (apiKey?: string) =>
  Effect.gen(function* () {
    yield* Effect.promise(() => written)
    const { checkpoint, runtime } = yield* makeRuntime({ dir, cacheDir, batchSize: 16 }).pipe(Effect.provide(NodeContext.layer))
    const served = yield* serveRuntime(runtime, (yield* readTensor(checkpoint, "model.embed_tokens.weight"))!.data, {
      host: "127.0.0.1",
      port: 0,
      name: "organism-test",
      batchSize: 16,
      batchWaitMs: 5,
      defaultMaxTokens: 16,
      apiKey: apiKey === undefined ? undefined : Redacted.make(apiKey)
    })
    return { checkpoint, runtime, served }
  })

const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  Effect.promise(() => fetch(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) }).then(async (r) => ({ status: r.status, json: (await r.json()) as any })))

describe("pipeline serve's server over the organism", () => {
  afterAll(() => {
    for (const d of [dir, cacheDir]) fs.rmSync(d, { recursive: true, force: true })
  })

  it.scopedLive("the API model asks it for text and option probabilities that equal the in-process runtime's", () =>
    Effect.gen(function* () {
      const { runtime, served } = yield* setup()
      const api = yield* makeApiModel({ kind: "api", model: "organism-test", endpoints: [{ baseUrl: served.url, maxConcurrency: 32 }], topLogprobs: 20, timeoutMs: 30_000, maxRetries: 1, backoffMs: 10 })
      const requests = [0, 7, 15, 22, 31, 40, 48, 59].flatMap((i) =>
        [
          { prompt: chat("qual_pre", i), maxTokens: 6, temperature: 1, topP: 1, seed: 1000 + i, options: ["good", "bad"] },
          { prompt: chat("stated_pre", i), maxTokens: 6, temperature: 1, topP: 0.9, seed: 2000 + i, options: Array.from({ length: 10 }, (_, k) => String(k + 1)) },
          { prompt: chat("revealed", i), maxTokens: 6, temperature: 1, topP: 1, seed: 3000 + i, options: ["Task A:", "Task B:"] }
        ]
      )
      const remote = yield* api.model.generate(requests)
      const local = yield* generateBatch(runtime, requests)
      const scored = yield* withOptionProbs(generateBatch, scoreBatch)(runtime, requests)
      let compared = 0
      for (const [k, r] of remote.entries()) {
        expect(r.text).toBe(local[k]!.text)
        expect(r.finish).toBe(local[k]!.finish)
        expect(r.promptTokens).toBe(local[k]!.promptTokens)
        expect(r.servedModel).toBe("organism-test")
        if (r.optionProbs === null || r.optionProbs === undefined) {
          // An option can be less likely than the 20th token; the row then says so.
          expect(r.optionNote).toMatch(/is not among the \d+ most likely first tokens/)
          continue
        }
        compared++
        r.optionProbs.forEach((p, j) => expect(Math.abs(p - scored[k]!.optionProbs![j]!)).toBeLessThan(1e-5))
      }
      // Every good/bad and Task A/B row, and most rating rows, have them.
      expect(compared).toBeGreaterThanOrEqual(20)
      // 24 concurrent requests went through fewer forward batches than requests.
      expect(served.stats().batches).toBeLessThan(served.stats().requests)
      expect(api.transport.counters().endpoints[0]!.peakInFlight).toBeGreaterThan(1)
    }))

  it.scopedLive("n choices use seed, seed + 1, ...; stop strings cut; logprobs list each token with its top alternatives", () =>
    Effect.gen(function* () {
      const { runtime, served } = yield* setup()
      const prompt = chat("open_pre", 3)
      const { json } = yield* post(`${served.url}/chat/completions`, {
        model: "organism-test", messages: prompt.messages, seed: 41, n: 3, max_tokens: 8, temperature: 1, logprobs: true, top_logprobs: 3
      })
      const local = yield* generateBatch(runtime, [41, 42, 43].map((seed) => ({ prompt, maxTokens: 8, temperature: 1, topP: 1, seed })))
      expect(json.choices.map((c: any) => c.message.content)).toEqual(local.map((g) => g.text))
      const first = json.choices[0].logprobs.content[0]
      expect(first.top_logprobs.length).toBe(3)
      expect(first.top_logprobs[0].logprob).toBeGreaterThanOrEqual(first.top_logprobs[1].logprob)
      expect(json.usage.prompt_tokens).toBe(local[0]!.promptTokens)
      const words = local[0]!.text.trim().split(" ")
      if (words.length > 1) {
        const { json: stopped } = yield* post(`${served.url}/chat/completions`, { model: "organism-test", messages: prompt.messages, seed: 41, max_tokens: 8, stop: [words[1]!] })
        expect(stopped.choices[0].message.content).not.toContain(words[1])
        expect(stopped.choices[0].finish_reason).toBe("stop")
        expect(stopped.choices[0].stop_reason).toBe(words[1])
      }
    }))

  it.scopedLive("models, tokenize (the chat template's rendering), embeddings (mean input embedding) and vLLM-style errors", () =>
    Effect.gen(function* () {
      const { checkpoint, runtime, served } = yield* setup()
      const models = yield* Effect.promise(() => fetch(`${served.url}/models`).then((r) => r.json() as Promise<any>))
      expect(models.data.map((m: any) => m.id)).toEqual(["organism-test"])
      const prompt = chat("qual_post", 5)
      const origin = served.url.replace(/\/v1$/, "")
      const { json: tokens } = yield* post(`${origin}/tokenize`, { model: "organism-test", messages: prompt.messages })
      expect(tokens.tokens).toEqual(encodePrompt(runtime.tokenizer, runtime.chat, prompt).ids)
      const { json: emb } = yield* post(`${served.url}/embeddings`, { model: "organism-test", input: ["write a poem", "sum"] })
      const table = (yield* readTensor(checkpoint, "model.embed_tokens.weight"))!.data
      const hidden = runtime.dims.hidden
      const ids = runtime.tokenizer.encode("write a poem", false)
      const mean = Array.from({ length: hidden }, (_, k) => ids.reduce((a, id) => a + table[id * hidden + k]!, 0) / ids.length)
      expect(emb.data.length).toBe(2)
      emb.data[0].embedding.forEach((v: number, k: number) => expect(v).toBeCloseTo(mean[k]!, 10))
      const wrong = yield* post(`${served.url}/chat/completions`, { model: "other", messages: prompt.messages })
      expect(wrong.status).toBe(404)
      expect(wrong.json.message).toContain("organism-test")
      const bad = yield* post(`${served.url}/chat/completions`, { model: "organism-test", messages: prompt.messages, temperature: -1 })
      expect(bad.status).toBe(400)
      expect(bad.json.message).toContain("temperature")
      const long = yield* post(`${served.url}/chat/completions`, { model: "organism-test", messages: [{ role: "user", content: "word ".repeat(5000) }] })
      expect(long.status).toBe(400)
      expect(long.json.message).toContain("maximum context length")
    }))

  it.scopedLive("with an API key every request needs it, and the API model sends it from apiKeyEnv", () =>
    Effect.gen(function* () {
      const { served } = yield* setup(secret)
      const bare = yield* post(`${served.url}/chat/completions`, { model: "organism-test", messages: [{ role: "user", content: "hi" }] })
      expect(bare.status).toBe(401)
      const api = yield* makeApiModel({ kind: "api", model: "organism-test", endpoints: [{ baseUrl: served.url, apiKeyEnv: "SERVE_TEST_API_KEY", maxConcurrency: 4 }], topLogprobs: 0, timeoutMs: 30_000, maxRetries: 0, backoffMs: 10 }).pipe(
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["SERVE_TEST_API_KEY", secret]])))
      )
      const [g] = yield* api.model.generate([{ prompt: chat("qual_pre", 2), maxTokens: 4, temperature: 0, topP: 1, seed: 1 }])
      expect(g!.servedModel).toBe("organism-test")
    }))
})
