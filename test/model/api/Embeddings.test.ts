import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer } from "effect"
import { RowMemo } from "../../../cache/Memo"
import { decodeEmbeddings, Embeddings, layerOpenAI } from "../../../model/api/Embeddings"
import { openaiServer } from "../../support/openaiServer"

const secret = "sk-embeddings-test-0123456789"

/** A vector that identifies a text: its length, its character-code sum, and a constant. */
const vectorOf = (text: string) => [text.length, [...text].reduce((a, c) => a + c.charCodeAt(0), 0), 1]

describe("Embeddings over HTTP", () => {
  it.scopedLive("batches texts, retries a 429 and a malformed reply, memoizes per text and sends the key", () =>
    Effect.gen(function* () {
      let calls = 0
      const server = yield* openaiServer((r) => {
        calls++
        if (calls === 1) return { status: 429, text: "slow down", headers: { "retry-after": "0.02" } }
        if (calls === 2) return { status: 200, text: '{"data": [{"embedding": [1, 2' }
        if (r.authorization !== `Bearer ${secret}`) return { status: 401, json: { error: { message: "no key" } } }
        const input = r.body.input as string[]
        // Out of order on purpose: the client must place each vector by its index.
        return { status: 200, json: { object: "list", data: input.map((t, index) => ({ object: "embedding", index, embedding: vectorOf(t) })).reverse(), model: "emb" } }
      })
      const memo = yield* Layer.build(RowMemo.layerMemory)
      const layer = layerOpenAI({ model: "emb", endpoints: [{ baseUrl: server.url, apiKeyEnv: "EMB_API_KEY", maxConcurrency: 1 }], batchSize: 3, timeoutMs: 2000, maxRetries: 3, backoffMs: 5 }).pipe(
        Layer.provide(Layer.succeedContext(memo))
      )
      const texts = ["alpha", "beta", "gamma", "delta", "beta", "epsilon", "zeta"]
      const run = (t: ReadonlyArray<string>) =>
        Effect.flatMap(Embeddings, (e) => e.embed(t)).pipe(Effect.provide(layer), Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["EMB_API_KEY", secret]]))))
      const vectors = yield* run(texts)
      expect(vectors.map((v) => Array.from(v))).toEqual(texts.map(vectorOf))
      // 6 distinct texts in batches of 3: two requests answered, after one 429 and one malformed reply.
      const embeddingRequests = server.requests.filter((r) => r.path === "/v1/embeddings")
      expect(embeddingRequests.length).toBe(4)
      for (const r of embeddingRequests) expect(r.body.input.length).toBeLessThanOrEqual(3)
      const before = server.requests.length
      const again = yield* run(["zeta", "alpha", "omega"])
      expect(again.map((v) => Array.from(v))).toEqual(["zeta", "alpha", "omega"].map(vectorOf))
      expect(server.requests.slice(before).map((r) => r.body.input)).toEqual([["omega"]])
    }))

  it.scopedLive("a reply still malformed after the retries fails the call with its reason; answered batches stay memoized", () =>
    Effect.gen(function* () {
      const server = yield* openaiServer((r) => {
        const input = r.body.input as string[]
        if (input.includes("bad")) return { status: 200, json: { data: input.map((_, index) => ({ index, embedding: index === 0 ? [1, 2] : [1] })) } }
        return { status: 200, json: { data: input.map((t, index) => ({ index, embedding: vectorOf(t) })) } }
      })
      const memo = yield* Layer.build(RowMemo.layerMemory)
      const layer = layerOpenAI({ model: "emb", endpoints: [{ baseUrl: server.url, maxConcurrency: 2 }], batchSize: 2, timeoutMs: 2000, maxRetries: 1, backoffMs: 5 }).pipe(
        Layer.provide(Layer.succeedContext(memo))
      )
      const run = (t: ReadonlyArray<string>) => Effect.flatMap(Embeddings, (e) => e.embed(t)).pipe(Effect.provide(layer))
      const error = yield* Effect.flip(run(["one", "two", "bad", "worse"]))
      expect(error.failure).toBe("malformed reply: data has embeddings of 2 and 1 values")
      expect(error.failed).toBe(2)
      const before = server.requests.length
      yield* run(["one", "two"])
      expect(server.requests.length).toBe(before)
    }))

  it("decodes replies by index and names what is malformed", () => {
    expect(decodeEmbeddings(2)({ data: [{ index: 1, embedding: [3] }, { index: 0, embedding: [4] }] })).toMatchObject({ _tag: "Right" })
    expect(decodeEmbeddings(2)({ data: [{ embedding: [3] }] })).toMatchObject({ _tag: "Left", left: "1 embeddings for 2 inputs" })
    expect(decodeEmbeddings(1)({ choices: [] })).toMatchObject({ _tag: "Left", left: "no data list" })
    expect(decodeEmbeddings(1)({ data: [{ embedding: ["x"] }] })).toMatchObject({ _tag: "Left", left: "data.0.embedding is not a list of numbers" })
    expect(decodeEmbeddings(2)({ data: [{ index: 0, embedding: [1] }, { index: 0, embedding: [2] }] })).toMatchObject({ _tag: "Left", left: "data.1.index is not a distinct input index" })
  })
})
