import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Either, Layer, Redacted, Schema } from "effect"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import {
  ChatClient,
  ChatClientConfig,
  chatRequestKey,
  layerOpenAI,
  layerUnconfigured,
  RequestMemo
} from "../../model/ChatClient"

const secret = "sk-test-0123456789abcdef"

/** A local OpenAI-compatible server whose behaviour is chosen by the last user message. */
const startServer = Effect.acquireRelease(
  Effect.async<{ url: string; requests: string[]; server: http.Server; maxInFlight: () => number }>((resume) => {
    const requests: string[] = []
    const seen = new Map<string, number>()
    let inFlight = 0
    let maxInFlight = 0
    const server = http.createServer((req, res) => {
      inFlight++
      maxInFlight = Math.max(maxInFlight, inFlight)
      res.on("close", () => inFlight--)
      let raw = ""
      req.on("data", (chunk) => (raw += chunk))
      req.on("end", () => {
        const body = JSON.parse(raw) as { messages: { content: string }[]; max_tokens: number }
        const prompt = body.messages[body.messages.length - 1].content
        requests.push(prompt)
        const n = (seen.get(prompt) ?? 0) + 1
        seen.set(prompt, n)
        const answer = (text: string) => {
          res.writeHead(200, { "content-type": "application/json" })
          res.end(JSON.stringify({ choices: [{ message: { role: "assistant", content: text } }] }))
        }
        const [mode] = prompt.split(":")
        if (mode === "429-once" && n === 1) {
          res.writeHead(429, { "retry-after": "1" })
          return res.end("slow down")
        }
        if ((mode === "500-once" && n === 1) || mode === "500-always") {
          res.writeHead(500)
          return res.end("internal error")
        }
        if ((mode === "stall-once" && n === 1) || mode === "stall-always") return
        if (mode === "malformed") {
          res.writeHead(200, { "content-type": "application/json" })
          return res.end("{\"choices\": [ {\"message\"")
        }
        if (mode === "echo-auth") {
          res.writeHead(401)
          return res.end(`bad key: ${req.headers.authorization}`)
        }
        answer(`answer to ${prompt} (auth ${req.headers.authorization === `Bearer ${secret}` ? "ok" : "missing"})`)
      })
    })
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      resume(Effect.succeed({ url: `http://127.0.0.1:${port}/v1`, requests, server, maxInFlight: () => maxInFlight }))
    })
  }),
  ({ server }) =>
    Effect.async<void>((resume) => {
      server.closeAllConnections()
      server.close(() => resume(Effect.void))
    })
)

const configFor = (baseUrl: string, extra: Partial<typeof ChatClientConfig.Encoded> = {}) =>
  Schema.decodeUnknownSync(ChatClientConfig)({
    baseUrl,
    model: "judge-test",
    apiKey: secret,
    maxConcurrency: 3,
    timeoutMs: 400,
    maxRetries: 1,
    backoffMs: 10,
    ...extra
  })

const ask = (prompt: string) =>
  Effect.flatMap(ChatClient, (client) =>
    client.complete({ messages: [{ role: "user", content: prompt }], temperature: 0, maxTokens: 16 }))

describe("ChatClient over HTTP", () => {
  it.scopedLive("answers, retries and fails with typed errors; a rerun sends only the failed rows", () =>
    Effect.gen(function*() {
      const server = yield* startServer
      const prompts = [
        "ok:1", "ok:2", "ok:3", "429-once:a", "500-once:b", "stall-once:c",
        "500-always:d", "stall-always:e", "malformed:f", "echo-auth:g"
      ]
      const memo = yield* Layer.build(RequestMemo.layerInMemory)
      const client = layerOpenAI(configFor(server.url)).pipe(Layer.provide(Layer.succeedContext(memo)))
      const run = Effect.forEach(prompts, (p) => Effect.either(ask(p)), { concurrency: "unbounded" }).pipe(
        Effect.provide(client)
      )
      const first = yield* run
      const outcome = first.map((r) =>
        Either.match(r, { onRight: (a) => `ok ${a.text}`, onLeft: (e) => `error ${e.kind}` })
      )
      expect(outcome).toEqual([
        "ok answer to ok:1 (auth ok)",
        "ok answer to ok:2 (auth ok)",
        "ok answer to ok:3 (auth ok)",
        "ok answer to 429-once:a (auth ok)",
        "ok answer to 500-once:b (auth ok)",
        "ok answer to stall-once:c (auth ok)",
        "error server",
        "error timeout",
        "error malformed",
        "error http"
      ])
      for (const r of first) {
        if (Either.isLeft(r)) {
          expect(r.left._tag).toBe("ChatClientError")
          expect(r.left.message).not.toContain(secret)
          expect(JSON.stringify(r.left)).not.toContain(secret)
        }
      }
      const count = (p: string) => server.requests.filter((r) => r === p).length
      // A malformed body is retried like a 5xx (a proxy cut it short, another try may be whole); a 401 is not.
      expect(prompts.map(count)).toEqual([1, 1, 1, 2, 2, 2, 2, 2, 2, 1])
      expect(server.maxInFlight()).toBeLessThanOrEqual(3)
      expect(server.maxInFlight()).toBeGreaterThan(1)
      const before = server.requests.length
      const second = yield* run
      const resent = server.requests.slice(before)
      expect(new Set(resent)).toEqual(new Set(["500-always:d", "stall-always:e", "malformed:f", "echo-auth:g"]))
      expect(second.map(Either.isRight)).toEqual(first.map(Either.isRight))
    }))

  it.live("reads the API key from the environment variable the config names", () =>
    Effect.gen(function*() {
      const server = yield* startServer
      const env = ConfigProvider.fromMap(new Map([["JUDGE_API_KEY", secret]]))
      const answer = yield* ask("ok:env").pipe(
        Effect.provide(layerOpenAI(configFor(server.url, { apiKey: undefined, apiKeyEnv: "JUDGE_API_KEY" }))),
        Effect.provide(RequestMemo.layerInMemory),
        Effect.withConfigProvider(env)
      )
      expect(answer.text).toBe("answer to ok:env (auth ok)")
      const missing = yield* ask("ok:env").pipe(
        Effect.provide(layerOpenAI(configFor(server.url, { apiKey: undefined, apiKeyEnv: "NO_SUCH_KEY" }))),
        Effect.provide(RequestMemo.layerInMemory),
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map())),
        Effect.flip
      )
      expect(missing.kind).toBe("config")
      expect(missing.message).toContain("NO_SUCH_KEY")
    }).pipe(Effect.scoped))

  it.effect("the unconfigured client names the config field to set", () =>
    Effect.gen(function*() {
      const error = yield* ask("anything").pipe(Effect.provide(layerUnconfigured("parse.judge")), Effect.flip)
      expect(error.kind).toBe("unconfigured")
      expect(error.message).toContain("parse.judge")
    }))

  it("memo keys depend on model, messages and sampling, not on key order", () => {
    const request = { messages: [{ role: "user" as const, content: "hi" }], temperature: 0, maxTokens: 8 }
    const key = chatRequestKey("m", request)
    expect(chatRequestKey("m", { maxTokens: 8, temperature: 0, messages: [{ content: "hi", role: "user" }] })).toBe(key)
    expect(chatRequestKey("other", request)).not.toBe(key)
    expect(chatRequestKey("m", { ...request, temperature: 1 })).not.toBe(key)
    expect(chatRequestKey("m", { ...request, responseFormat: { type: "json_object" } })).not.toBe(key)
    expect(chatRequestKey("m", { ...request, seed: 1 })).not.toBe(key)
    expect(Redacted.isRedacted(configFor("http://x").apiKey)).toBe(true)
  })
})
