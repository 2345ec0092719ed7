import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer, Schema } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { RowMemo } from "../../cache/Memo"
import { EmbeddingsConfig } from "../../model/api/Embeddings"
import { loadedOutputs } from "../../pipeline/Artifact"
import { contentMatrix } from "../../stages/contentFeatures"
import { contentEmbeddings, EmbeddingFeaturesError } from "../../stages/contentEmbeddings"
import { TasksSchema, toTable } from "../../stages/tables"
import { experimentWorkspace, shippedTemplate, stageOutputs, tinyExperiment } from "../support/experiment"
import { openaiServer, type Reply, type SeenRequest } from "../support/openaiServer"

const secret = "sk-content-embeddings-0123456789"
const keyVariable = "CONTENT_EMB_API_KEY"

const tasks = Array.from({ length: 10 }, (_, i) => ({
  task_id: `t${i}`,
  origin: i % 2 === 0 ? "a" : "b",
  prompt: i === 6 ? "poison pill" : `task number ${i} about ${"xyz".repeat(i + 1)}`,
  meta: "{}"
}))

/** A vector that identifies a text: its length, its character-code sum, and a constant. */
const vectorOf = (text: string) => [text.length, [...text].reduce((a, c) => a + c.charCodeAt(0), 0), 1]

/** Embeds every input, except that a request holding "poison pill" gets a reply whose vector for it is not numbers. */
const answer = (r: SeenRequest): Reply => {
  if (r.authorization !== `Bearer ${secret}`) return { status: 401, json: { error: { message: "invalid api key" } } }
  const input = r.body.input as string[]
  const data = input.map((t, index) => ({ object: "embedding", index, embedding: t === "poison pill" ? ["NaN"] : vectorOf(t) }))
  return { status: 200, json: { object: "list", data: data.reverse(), model: r.body.model } }
}

const configFor = (url: string, fields: Record<string, unknown> = {}) =>
  Schema.decodeUnknownSync(EmbeddingsConfig)({ model: "emb-small", endpoints: [{ baseUrl: url, apiKeyEnv: keyVariable, maxConcurrency: 2 }], batchSize: 4, timeoutMs: 2000, maxRetries: 2, backoffMs: 1, ...fields })

const withKey = (value: string | null) =>
  Effect.withConfigProvider(ConfigProvider.fromMap(new Map(value === null ? [] : [[keyVariable, value]])))

const run = (embeddings: EmbeddingsConfig, failOnError: number, memo: Layer.Layer<RowMemo>, key: string | null = secret) =>
  contentEmbeddings
    .run({
      node: "content_embeddings",
      key: "k",
      params: { embeddings, failOnError },
      inputs: { tasks: loadedOutputs("sample", { tasks: { _tag: "Table", table: toTable(TasksSchema, tasks) } }) },
      progress: { total: () => Effect.void, done: () => Effect.void }
    })
    .pipe(Effect.provide(memo), withKey(key))

const embeddingRequests = (requests: ReadonlyArray<SeenRequest>) => requests.filter((r) => r.path === "/v1/embeddings")

describe("content_embeddings over a real /v1/embeddings server", () => {
  it.scopedLive("retries a 429 and a malformed reply, leaves out and names the one task whose reply stays malformed, memoizes the rest", () =>
    Effect.gen(function* () {
      const server = yield* openaiServer((r, n) => {
        if (n === 1) return { status: 429, text: '{"error": {"message": "rate limited"}}', headers: { "retry-after": "0.01" } }
        if (n === 2) return { status: 200, text: '{"object": "list", "data": [{"embedding": [0.1, ' }
        return answer(r)
      })
      const memo = Layer.succeedContext(yield* Layer.build(RowMemo.layerMemory))
      const out = yield* run(configFor(server.url), 0.1, memo)
      const features = loadedOutputs("content_embeddings", { features: out.features as never, info: out.info as never })
      const { matrix, missing } = contentMatrix(features, tasks.map((t) => t.task_id))
      expect(missing).toEqual(["t6"])
      const kept = tasks.filter((t) => t.task_id !== "t6")
      expect(Array.from(matrix.data)).toEqual(kept.flatMap((t) => vectorOf(t.prompt)))
      const info = features.json<Record<string, unknown>>("info")
      expect(info).toMatchObject({ provider: "embeddings", dim: 3, tasks: 10, model: "emb-small", failed: 1 })
      expect(info.failures).toEqual([{ task_id: "t6", reason: "malformed reply: data.0.embedding is not a list of numbers" }])
      const sent = embeddingRequests(server.requests)
      for (const r of sent) {
        expect(r.authorization).toBe(`Bearer ${secret}`)
        expect(r.body.model).toBe("emb-small")
        expect(r.body.input.length).toBeLessThanOrEqual(4)
      }
      // 10 texts in batches of 4; the texts of the batch holding the poison are then asked for one by one, and the
      // poison alone gets its first attempt and 2 retries.
      const alone = sent.filter((r) => r.body.input.length === 1).map((r) => r.body.input[0])
      expect(alone.sort()).toEqual(["poison pill", "poison pill", "poison pill", ...tasks.slice(4, 8).filter((t) => t.task_id !== "t6").map((t) => t.prompt)].sort())
      expect(JSON.stringify(info)).not.toContain(secret)

      // A rerun asks only for the text that was never answered.
      const before = server.requests.length
      yield* run(configFor(server.url), 0.1, memo)
      expect(new Set(server.requests.slice(before).map((r) => JSON.stringify(r.body.input)))).toEqual(new Set([JSON.stringify(["poison pill"])]))
    }))

  it.scopedLive("fails the stage when more tasks fail than failOnError allows, with how many and why", () =>
    Effect.gen(function* () {
      const server = yield* openaiServer(answer)
      const memo = Layer.succeedContext(yield* Layer.build(RowMemo.layerMemory))
      const error = yield* Effect.flip(run(configFor(server.url), 0, memo))
      expect(error).toBeInstanceOf(EmbeddingFeaturesError)
      expect(error.message).toContain("emb-small: 1 of 10 tasks could not be embedded")
      expect(error.message).toContain("malformed reply: data.0.embedding is not a list of numbers")
      expect(error.message).not.toContain(secret)
    }))

  it.scopedLive("vectors of different widths across requests (endpoints serving different models) fail the stage, naming two tasks", () =>
    Effect.gen(function* () {
      const server = yield* openaiServer((r, n) => {
        const input = r.body.input as string[]
        return { status: 200, json: { data: input.map((t, index) => ({ index, embedding: n === 1 ? vectorOf(t) : [...vectorOf(t), 0] })) } }
      })
      const memo = Layer.succeedContext(yield* Layer.build(RowMemo.layerMemory))
      const error = yield* Effect.flip(run(configFor(server.url, { endpoints: [{ baseUrl: server.url, maxConcurrency: 1 }] }), 0.1, memo))
      expect(error.message).toMatch(/task t\d has 3 values but task t\d has 4; check that every endpoint serves the same model/)
    }))

  it.scopedLive("a refused key fails every task at once: one request, no retries, no splitting", () =>
    Effect.gen(function* () {
      const server = yield* openaiServer(answer)
      const memo = Layer.succeedContext(yield* Layer.build(RowMemo.layerMemory))
      const error = yield* Effect.flip(run(configFor(server.url, { batchSize: 16 }), 0.5, memo, "sk-wrong-key-987654321"))
      expect(error.message).toContain("10 of 10 tasks could not be embedded")
      expect(error.message).toContain("HTTP 401: invalid api key")
      expect(error.message).not.toContain("sk-wrong-key")
      expect(embeddingRequests(server.requests).length).toBe(1)
    }))

  it.scopedLive("a key variable that is not set is named and nothing is sent", () =>
    Effect.gen(function* () {
      const server = yield* openaiServer(answer)
      const memo = Layer.succeedContext(yield* Layer.build(RowMemo.layerMemory))
      const error = yield* Effect.flip(run(configFor(server.url), 0.5, memo, null))
      expect(error.message).toContain(`environment variable ${keyVariable}`)
      expect(server.requests.length).toBe(0)
    }))

  it("keys by the model's name only: neither the servers nor the request settings enter the key", () => {
    const a = { embeddings: configFor("http://127.0.0.1:1/v1"), failOnError: 0.1 }
    const b = { embeddings: configFor("http://10.0.0.2:8000/v1", { batchSize: 32, maxRetries: 0 }), failOnError: 0.1 }
    expect(contentEmbeddings.keyOf!(a)).toEqual(contentEmbeddings.keyOf!(b))
    expect(contentEmbeddings.keyOf!(a)).not.toEqual(contentEmbeddings.keyOf!({ ...a, embeddings: { ...a.embeddings, model: "emb-large" } }))
  })
})

/** Every file under a folder, recursively. */
const filesUnder = (dir: string): string[] =>
  fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(path.join(dir, e.name)) : [path.join(dir, e.name)]))

describe("content.providers: [\"embeddings\"] in an experiment on the organism", () => {
  it.scopedLive("probes the served embeddings beside the activation probe; a template edit asks the server nothing; the key is stored nowhere", () =>
    Effect.gen(function* () {
      // An 8-wide bag of words: each word adds 1 at its character-code sum modulo 8.
      const server = yield* openaiServer((r) => {
        if (r.authorization !== `Bearer ${secret}`) return { status: 401, json: { error: { message: "invalid api key" } } }
        const input = r.body.input as string[]
        return {
          status: 200,
          json: {
            data: input.map((t, index) => {
              const v = Array.from({ length: 8 }, () => 0)
              for (const w of t.split(/\s+/)) v[[...w].reduce((a, c) => a + c.charCodeAt(0), 0) % 8]! += 1
              return { index, embedding: v }
            })
          }
        }
      })
      yield* Effect.acquireRelease(Effect.sync(() => (process.env[keyVariable] = secret)), () => Effect.sync(() => delete process.env[keyVariable]))
      const w = experimentWorkspace()
      yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(w.dir, { recursive: true, force: true })))
      const qualitative = shippedTemplate("qualitative_post_v1")
      const config = {
        ...tinyExperiment,
        templates: [qualitative],
        content: { providers: ["embeddings"], embeddings: { model: "emb-small", endpoints: [{ baseUrl: server.url, apiKeyEnv: keyVariable }], batchSize: 5 } }
      }
      w.writeConfig(config)
      const built = yield* Effect.promise(() => w.build("reports/probe_r2"))
      const features = yield* Effect.promise(() => stageOutputs(w.cache, built, "content_embeddings"))
      const tasks = (yield* Effect.promise(() => stageOutputs(w.cache, built, "sample"))).table("tasks").numRows
      expect(features.json("info")).toMatchObject({ provider: "embeddings", dim: 8, tasks, failed: 0 })
      const sent = embeddingRequests(server.requests)
      expect(sent.reduce((n, r) => n + r.body.input.length, 0)).toBe(tasks)
      const evaluation = (yield* Effect.promise(() => stageOutputs(w.cache, built, "content_probe[qualitative_post_v1@1|embeddings]"))).json<any>("evaluation")
      expect(evaluation).toMatchObject({ provider: "embeddings", without_features: [], features: { dim: 8 } })
      expect(Number.isFinite(evaluation.content_only.r2.estimate)).toBe(true)
      const csv = fs.readFileSync(path.join(w.out, "reports/probe_r2/content_baselines.csv"), "utf8")
      expect(csv).toContain(",embeddings,")

      const reworded = { ...qualitative, text: `${qualitative.text} ` }
      w.writeConfig({ ...config, templates: [reworded] })
      const planned = yield* Effect.promise(() => w.plan("reports/probe_r2"))
      expect(planned.stages.find((s) => s.stage === "content_embeddings")!.run).toBe(false)
      expect(planned.stages.find((s) => s.stage === "content_probe[qualitative_post_v1@1|embeddings]")!.run).toBe(true)
      const asked = server.requests.length
      const rebuilt = yield* Effect.promise(() => w.build("reports/probe_r2"))
      expect(rebuilt.stages.find((s) => s.stage === "content_embeddings")!.status).toBe("cached")
      expect(rebuilt.stages.find((s) => s.stage === "elicit[qualitative_post_v1]")!.status).toBe("executed")
      expect(server.requests.length).toBe(asked)

      for (const file of [...filesUnder(w.cache), ...filesUnder(w.out)]) expect(fs.readFileSync(file).includes(secret), file).toBe(false)
    }), 600_000)
})
