import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Either } from "effect"
import { defaultFleetOptions } from "../../../model/api/Fleet"
import { type Decode, makeTransport, retryAfterMs } from "../../../model/api/Transport"
import { closedPort, completion, openaiServer } from "../../support/openaiServer"

const secret = "sk-transport-test-0123456789"
const withKey = Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["TEST_API_KEY", secret]])))
const settings = { timeoutMs: 400, maxRetries: 2, backoffMs: 5 }
const content: Decode<string> = (json) => {
  const choices = (json as { choices?: Array<{ message?: { content?: unknown } }> }).choices
  if (!Array.isArray(choices) || choices.length === 0) return Either.left("choices is empty")
  const text = choices[0]!.message?.content
  return typeof text === "string" ? Either.right(text) : Either.left("choices[0].message.content is not a string")
}
const prompt = (body: any): string => body?.messages?.[0]?.content ?? ""

describe("Transport over HTTP", () => {
  it.scopedLive("sends the key from apiKeyEnv, retries 5xx, malformed replies and stalls, never a 400, and redacts the key", () =>
    Effect.gen(function* () {
      const seen = new Map<string, number>()
      const server = yield* openaiServer((r) => {
        const p = prompt(r.body)
        const n = (seen.get(p) ?? 0) + 1
        seen.set(p, n)
        if (p === "500-once" && n === 1) return { status: 500, text: "boom" }
        if (p === "malformed-once" && n === 1) return { status: 200, text: '{"choices": [' }
        if (p === "empty-always") return { status: 200, json: { choices: [] } }
        if (p === "stall-once" && n === 1) return { stall: true }
        if (p === "400") return { status: 400, json: { error: { message: "maximum context length is 8192 tokens" } } }
        if (p === "echo-key") return { status: 500, text: `your header was ${r.authorization}` }
        return { status: 200, json: completion(`${p} ${r.authorization === `Bearer ${secret}` ? "with key" : "without key"}`) }
      })
      const transport = yield* makeTransport([{ baseUrl: server.url, apiKeyEnv: "TEST_API_KEY", maxConcurrency: 8 }], settings).pipe(withKey)
      const ask = (p: string) => Effect.either(transport.post("chat/completions", { messages: [{ role: "user", content: p }] }, content))
      const results = yield* Effect.forEach(["ok", "500-once", "malformed-once", "stall-once", "400", "empty-always", "echo-key"], ask, { concurrency: "unbounded" })
      const shown = results.map((r) => (Either.isRight(r) ? r.right.value : `${r.left.kind} ${r.left.failure} (${r.left.attempts})`))
      expect(shown).toEqual([
        "ok with key",
        "500-once with key",
        "malformed-once with key",
        "stall-once with key",
        "http HTTP 400: maximum context length is 8192 tokens (1)",
        "malformed malformed reply: choices is empty (3)",
        "server HTTP 500 (3)"
      ])
      for (const r of results) if (Either.isLeft(r)) expect(JSON.stringify({ message: r.left.message, error: r.left })).not.toContain(secret)
      expect([...seen.entries()].sort()).toEqual(
        [["400", 1], ["500-once", 2], ["echo-key", 3], ["empty-always", 3], ["malformed-once", 2], ["ok", 1], ["stall-once", 2]].sort()
      )
      const counters = transport.counters()
      expect(counters.retries).toBe(7)
      expect(counters.failures).toBe(3)
      expect(counters.endpoints[0]).toMatchObject({ sent: 14, ok: 4, rejected: 1 })
    }))

  it.scopedLive("a missing key variable is a config error naming it", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(makeTransport([{ baseUrl: "http://127.0.0.1:9/v1", apiKeyEnv: "MISSING_API_KEY", maxConcurrency: 1 }], settings)).pipe(
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map()))
      )
      expect(error.kind).toBe("config")
      expect(error.message).toContain("MISSING_API_KEY")
    }))

  it.scopedLive("never has more requests in flight than the adaptive limit, and cuts it on 429 with Retry-After", () =>
    Effect.gen(function* () {
      let served = 0
      const server = yield* openaiServer((_r, n) => {
        if (n === 20) return { status: 429, text: "slow down", headers: { "retry-after": "0.05" } }
        served++
        return { status: 200, json: completion("x"), delayMs: 10 }
      })
      const transport = yield* makeTransport([{ baseUrl: server.url, maxConcurrency: 6 }], settings)
      yield* Effect.forEach(Array.from({ length: 60 }, (_, i) => i), (i) => transport.post("chat/completions", { messages: [{ role: "user", content: String(i) }] }, content), { concurrency: "unbounded", discard: true })
      expect(server.maxInFlight()).toBeLessThanOrEqual(6)
      expect(server.maxInFlight()).toBeGreaterThan(1)
      const c = transport.counters().endpoints[0]!
      expect(c).toMatchObject({ sent: 61, ok: 60, congested: 1, cuts: 1 })
      expect(c.limitMin).toBeCloseTo(6 * 0.8, 12)
      expect(served).toBe(60)
    }))

  it.scopedLive("a fleet ejects a failing endpoint, retries a request cut off mid-flight on another, and keeps every answer", () =>
    Effect.gen(function* () {
      const broken = yield* openaiServer(() => ({ status: 502, text: "bad gateway" }))
      const dying = yield* openaiServer((r) => (prompt(r.body).startsWith("a") ? { destroy: true } : { status: 200, json: completion(`dying ${prompt(r.body)}`) }))
      const healthy = yield* openaiServer((r) => ({ status: 200, json: completion(`healthy ${prompt(r.body)}`) }))
      const transport = yield* makeTransport(
        [broken, dying, healthy].map((s) => ({ baseUrl: s.url, maxConcurrency: 4 })),
        { ...settings, maxRetries: 4 },
        { ...defaultFleetOptions, ejectAfter: 2, ejectMs: 60_000 }
      )
      const prompts = Array.from({ length: 40 }, (_, i) => `${i % 2 === 0 ? "a" : "b"}${i}`)
      const answers = yield* Effect.forEach(prompts, (p) => Effect.map(transport.post("chat/completions", { messages: [{ role: "user", content: p }] }, content), (r) => r.value), { concurrency: 8 })
      // Every "a" request that reached the dying server was cut off and answered by the healthy one.
      for (const [i, a] of answers.entries()) expect(a.endsWith(` ${prompts[i]}`)).toBe(true)
      expect(answers.filter((a) => a.startsWith("dying a")).length).toBe(0)
      const [b, d] = transport.counters().endpoints
      expect(b!.ejections).toBe(1)
      // Ejected after its first answers (at most its 4 slots were in flight), never tried again within the minute.
      expect(b!.sent).toBeLessThanOrEqual(4)
      expect(d!.ejections).toBe(1)
    }))

  it.scopedLive("a server that is down fails each request after its retries with a network error, in bounded time", () =>
    Effect.gen(function* () {
      const port = yield* closedPort()
      const transport = yield* makeTransport([{ baseUrl: `http://127.0.0.1:${port}/v1`, maxConcurrency: 4 }], settings, { ...defaultFleetOptions, ejectAfter: 3, ejectMs: 20 })
      const results = yield* Effect.forEach(Array.from({ length: 10 }, (_, i) => i), (i) => Effect.either(transport.post("chat/completions", { n: i }, content)), { concurrency: "unbounded" })
      for (const r of results) {
        expect(Either.isLeft(r)).toBe(true)
        if (Either.isLeft(r)) expect(r.left.failure).toBe("network error (ECONNREFUSED)")
      }
    }))

  it("Retry-After is read as seconds or as an HTTP date", () => {
    expect(retryAfterMs("2", 0)).toBe(2000)
    expect(retryAfterMs("0.25", 0)).toBe(250)
    expect(retryAfterMs(new Date(10_000).toUTCString(), 4_000)).toBe(6000)
    expect(retryAfterMs("soon", 0)).toBeUndefined()
    expect(retryAfterMs(undefined, 0)).toBeUndefined()
  })
})
