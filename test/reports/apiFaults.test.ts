/**
 * Bad replies cost rows, not stages: a subject model behind a server that answers 429 (with Retry-After), 500,
 * malformed JSON and stalls in turns; a judge whose replies are malformed, empty, five 500s in a row, a 400, or who
 * is down; what is refused before any request (activations from an API-only model, a checkpoint whose chat template
 * differs from the served one); and a server that ignores seeds. Every server is a real listener on 127.0.0.1.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { getAction } from "../../cache/Actions"
import { CacheDir } from "../../cache/CacheDir"
import { fromTable } from "../../stages/tables"
import { closedPort, completion, openaiServer, type Reply, type SeenRequest } from "../support/openaiServer"
import { experimentWorkspace, stageOutputs, tinyExperiment } from "../support/experiment"

const hashOf = (text: string) => createHash("sha256").update(text).digest().readUInt32BE(0)
const isSeedProbe = (r: SeenRequest) => r.body?.messages?.[0]?.content === "Write ten random words, separated by spaces."
const lastMessage = (r: SeenRequest): string => r.body?.messages?.at(-1)?.content ?? ""

/** A subject-model server: lists `fake-model`, answers the seed probe alike (or not), and otherwise what `answer` says. */
const subjectServer = (answer: (r: SeenRequest, n: number) => Reply, options: { readonly seedIgnored?: boolean } = {}) => {
  let chats = 0
  return openaiServer((r) => {
    if (r.method === "GET" && r.path === "/v1/models") return { status: 200, json: { object: "list", data: [{ id: "fake-model", object: "model" }] } }
    if (r.path === "/tokenize") return { status: 404, json: { error: { message: "not found" } } }
    if (isSeedProbe(r)) return { status: 200, json: completion(options.seedIgnored === true ? `words ${Math.random()}` : "seven random words", { model: "fake-model" }) }
    return answer(r, ++chats)
  })
}

/** "good" or "bad" for a question, a sentence for a task. */
const plainAnswer = (r: SeenRequest): Reply =>
  ({ status: 200, json: completion(r.body.messages.length === 1 ? "I did the task." : hashOf(lastMessage(r) + r.body.seed) % 2 === 0 ? "good" : "bad", { model: "fake-model" }) })

const apiModel = (url: string, extra: Record<string, unknown> = {}) => ({ kind: "api", model: "fake-model", endpoints: [{ baseUrl: url }], timeoutMs: 800, backoffMs: 20, ...extra })

const countersOf = (cache: string, key: string) =>
  Effect.runPromise(Effect.map(getAction(key), (r) => r!.counters!).pipe(Effect.provide(CacheDir.layer(cache))))

describe("an API subject model behind a faulty server", () => {
  it.scopedLive("every row is answered or failed with its reason; the concurrency limit fell and recovered", () =>
    Effect.gen(function* () {
      // The first 200 questions meet 429s (Retry-After 0.2 s), 500s, malformed bodies and stalls in turns; questions
      // on one task in twenty always get a 400 (too long, say).
      const server = yield* subjectServer((r, n) => {
        const question = r.body.messages.length > 1
        if (question && hashOf(r.body.messages[0].content) % 20 === 0) return { status: 400, json: { error: { message: "prompt is too long" } } }
        if (n <= 200) {
          if (n % 10 === 3) return { status: 429, text: "rate limited", headers: { "retry-after": "0.2" } }
          if (n % 10 === 5) return { status: 500, text: "internal error" }
          if (n % 10 === 7) return { status: 200, text: '{"choices": [{"message": {"content": "go' }
          if (n % 25 === 9) return { stall: true }
        }
        return plainAnswer(r)
      })
      const w = experimentWorkspace()
      w.writeConfig({ ...tinyExperiment, sample: { perOrigin: 10 }, elicitation: { samples: 12, maxTokens: 8 }, templates: ["qualitative_post_v1"], model: apiModel(server.url) })
      const built = yield* Effect.promise(() => w.build("reports/parsing"))
      const rows = fromTable<{ task_id: string; response: string; error: string | null }>((yield* Effect.promise(() => stageOutputs(w.cache, built, "elicit[qualitative_post_v1]"))).table("elicitations"))
      expect(rows.length).toBe(40 * 12)
      const failed = rows.filter((r) => r.error !== null)
      for (const r of rows) if (r.error === null) expect(["good", "bad"]).toContain(r.response)
      // A task whose completion failed after its retries (timeouts at every try on a loaded machine) fails its
      // questions with that reason.
      for (const r of failed) expect(r.error).toMatch(/^(completion failed: )?(HTTP 400: prompt is too long|HTTP 500|HTTP 429|timeout|malformed reply: not JSON)$/)
      expect(failed.filter((r) => r.error === "HTTP 400: prompt is too long").length).toBeGreaterThan(0)
      expect(failed.length / rows.length).toBeLessThanOrEqual(0.1)
      const scores = fromTable<{ tier: string; reason: string | null }>((yield* Effect.promise(() => stageOutputs(w.cache, built, "parse[qualitative_post_v1]"))).table("scores"))
      expect(scores.filter((s) => s.reason?.startsWith("subject: ")).length).toBe(failed.length)
      const elicitKey = built.stages.find((s) => s.stage === "elicit[qualitative_post_v1]")!.key
      const counters = yield* Effect.promise(() => countersOf(w.cache, elicitKey))
      expect(counters["endpoint0.cuts"]!).toBeGreaterThanOrEqual(1)
      expect(counters["endpoint0.limit_min"]!).toBeLessThan(32)
      expect(counters["endpoint0.limit_end"]!).toBeGreaterThan(counters["endpoint0.limit_min"]!)
      expect(counters.retries!).toBeGreaterThan(0)
      expect(counters.rows_failed).toBe(failed.length)
      const readme = fs.readFileSync(path.join(w.out, "reports/parsing/README.md"), "utf8")
      expect(readme).toContain(`qualitative_post_v1: ${failed.length} of ${rows.length} answers are missing because their requests failed after retries`)
      expect(readme).not.toContain("seed-ignored")
      // Only the failed rows are asked again when the stage reruns.
      const before = server.requests.length
      w.writeConfig({ ...tinyExperiment, sample: { perOrigin: 10 }, elicitation: { samples: 12, maxTokens: 8 }, templates: ["qualitative_post_v1"], model: apiModel(server.url), failOnError: 0.2 })
      yield* Effect.promise(() => w.build("reports/parsing"))
      const asked = server.requests.slice(before).filter((r) => r.path === "/v1/chat/completions" && !isSeedProbe(r) && r.body.messages.length > 1)
      expect(asked.length).toBeGreaterThanOrEqual(failed.length)
      expect(new Set(asked.map((r) => `${r.body.messages[0].content}/${r.body.seed}`)).size).toBe(failed.length)
    }), 600_000)

  it.scopedLive("more failed rows than failOnError fails the stage, saying how many and why", () =>
    Effect.gen(function* () {
      const server = yield* subjectServer((r) => (r.body.messages.length > 1 && hashOf(r.body.messages[0].content) % 3 === 0 ? { status: 400, json: { error: { message: "prompt is too long" } } } : plainAnswer(r)))
      const w = experimentWorkspace()
      w.writeConfig({ ...tinyExperiment, templates: ["qualitative_post_v1"], model: apiModel(server.url) })
      const error = yield* Effect.promise(() => w.build("reports/parsing").then(() => undefined, (e: unknown) => e))
      expect(error).toBeDefined()
      expect((error as Error).message).toMatch(/stage elicit\[qualitative_post_v1\] failed: \d+ of 48 rows failed \(\d+\.\d%, more than failOnError 0.1\): \d+ HTTP 400: prompt is too long\. Answers already received are kept/)
    }), 300_000)

  it.scopedLive("a server that ignores seeds is reported in the report's diagnostics", () =>
    Effect.gen(function* () {
      const server = yield* subjectServer(plainAnswer, { seedIgnored: true })
      const w = experimentWorkspace()
      w.writeConfig({ ...tinyExperiment, templates: ["qualitative_post_v1"], model: apiModel(server.url) })
      yield* Effect.promise(() => w.build("reports/parsing"))
      const readme = fs.readFileSync(path.join(w.out, "reports/parsing/README.md"), "utf8")
      expect(readme).toContain("`seed-ignored`")
      expect(readme).toContain(`${server.url} (model fake-model) gave two different answers to the same seeded request`)
    }), 300_000)
})

describe("what an API model cannot give is refused before any request", () => {
  it.scopedLive("activations (reports/hoo) or steering without activations.model: the plan names the field; no request is sent", () =>
    Effect.gen(function* () {
      const server = yield* subjectServer(plainAnswer)
      const w = experimentWorkspace()
      w.writeConfig({ ...tinyExperiment, model: apiModel(server.url) })
      const error = yield* Effect.promise(() => w.plan("reports/hoo").then(() => undefined, (e: unknown) => e))
      expect((error as Error).message).toMatch(/experiment\.json: field "activations\.model": activations\[qualitative_post_v1\] needs the model's weights in-process/)
      const steering = yield* Effect.promise(() => w.plan("reports/steering").then(() => undefined, (e: unknown) => e))
      expect((steering as Error).message).toMatch(/field "activations\.model": steering needs the model's weights in-process/)
      expect((yield* Effect.promise(() => w.plan("reports/parsing"))).stages.length).toBeGreaterThan(0)
      expect(server.requests).toEqual([])
    }))

  it.scopedLive("a checkpoint whose chat template renders differently from the server fails naming activations.model, before any question", () =>
    Effect.gen(function* () {
      const server = yield* openaiServer((r) => {
        if (r.path === "/v1/models") return { status: 200, json: { data: [{ id: "fake-model" }] } }
        if (r.path === "/tokenize") return { status: 200, json: { count: 3, max_model_len: 512, tokens: [1, 2, 3] } }
        return plainAnswer(r)
      })
      const w = experimentWorkspace()
      w.writeConfig({ ...tinyExperiment, templates: ["qualitative_post_v1"], activations: { layers: [1], model: { kind: "organism" } }, model: apiModel(server.url) })
      const error = yield* Effect.promise(() => w.build("reports/hoo").then(() => undefined, (e: unknown) => e))
      expect((error as Error).message).toMatch(/stage api_checks failed: config field activations\.model: its chat template and tokenizer render a probe conversation as \d+ tokens, http:\/\/127\.0\.0\.1:\d+\/v1 \(model\.model "fake-model"\) as 3 \(first difference at token \d+\)/)
      // The models list, the seed probe twice and /tokenize: no task or question was asked.
      expect(server.requests.filter((r) => r.path === "/v1/chat/completions").every(isSeedProbe)).toBe(true)
      expect(server.requests.some((r) => r.path === "/tokenize")).toBe(true)
    }), 300_000)

  it.scopedLive("without /tokenize the template is compared by usage.prompt_tokens", () =>
    Effect.gen(function* () {
      const server = yield* subjectServer(() => ({ status: 200, json: completion("ok", { usage: { prompt_tokens: 9999, completion_tokens: 1, total_tokens: 10000 } }) }))
      const w = experimentWorkspace()
      w.writeConfig({ ...tinyExperiment, templates: ["qualitative_post_v1"], activations: { layers: [1], model: { kind: "organism" } }, model: apiModel(server.url) })
      const error = yield* Effect.promise(() => w.build("reports/hoo").then(() => undefined, (e: unknown) => e))
      expect((error as Error).message).toMatch(/config field activations\.model: .* as 9999 \(compared by usage\.prompt_tokens\)/)
    }), 300_000)
})

describe("a judge's bad replies are failed rows, not a failed stage", () => {
  const judgeConfig = (baseUrl: string) => ({ baseUrl, model: "judge", maxConcurrency: 4, timeoutMs: 2000, backoffMs: 10 })

  it.scopedLive("malformed JSON, empty choices, five 500s in a row and a 400 each fail one row; answers around them are kept", () =>
    Effect.gen(function* () {
      // The first four distinct requests get one bad reply each, every time they are asked.
      const faults = new Map<string, Reply>()
      const kinds: Reply[] = [
        { status: 200, text: '{"choices": [{"message": ' },
        { status: 200, json: { choices: [] } },
        { status: 500, text: "internal error" },
        { status: 400, json: { error: { message: "bad request" } } }
      ]
      const server = yield* openaiServer((r) => {
        const key = JSON.stringify(r.body.messages)
        if (!faults.has(key) && faults.size < kinds.length) faults.set(key, kinds[faults.size]!)
        const fault = faults.get(key)
        if (fault !== undefined) return fault
        const instruction = lastMessage(r)
        return { status: 200, json: completion(instruction.includes('"refusal"') ? '{"refusal": false}' : '{"value": 0.25}') }
      })
      const w = experimentWorkspace()
      // Answers are short, so many rows share one judge request: a bad reply fails every row that asked it.
      const config = { ...tinyExperiment, templates: ["open_ended_post"], judge: judgeConfig(server.url), failOnError: 0.8 }
      w.writeConfig(config)
      const built = yield* Effect.promise(() => w.build("reports/parsing"))
      const scores = fromTable<{ tier: string; reason: string | null; value: number | null }>((yield* Effect.promise(() => stageOutputs(w.cache, built, "parse[open_ended_post]"))).table("scores"))
      const judged = new Set(scores.flatMap((s) => (s.reason?.startsWith("judge: ") ? [s.reason] : [])))
      expect(judged).toEqual(new Set(["judge: HTTP 400: bad request", "judge: HTTP 500", "judge: malformed reply: choices is empty", "judge: malformed reply: not JSON"]))
      expect(scores.filter((s) => s.tier === "model").length).toBeGreaterThan(0)
      // Retried to the limit (4 retries) except the 400, which is not retried: identical requests in flight share one.
      const sent = (body: Reply) => server.requests.filter((r) => faults.get(JSON.stringify(r.body.messages)) === body).length
      expect(kinds.slice(0, 3).map((k) => sent(k) > 0 && sent(k) % 5 === 0)).toEqual([true, true, true])
      expect(sent(kinds[3]!)).toBeGreaterThan(0)
      // A rerun of the stage asks only what failed: every answer was stored as it arrived.
      const before = server.requests.length
      w.writeConfig({ ...config, failOnError: 0.9 })
      yield* Effect.promise(() => w.build("reports/parsing"))
      const again = server.requests.slice(before).map((r) => JSON.stringify(r.body.messages))
      expect(new Set(again)).toEqual(new Set(faults.keys()))
    }), 300_000)

  it.scopedLive("a judge that is down: every row fails with the network error, and the stage only when failOnError says so", () =>
    Effect.gen(function* () {
      const port = yield* closedPort()
      const w = experimentWorkspace()
      const config = { ...tinyExperiment, templates: ["open_ended_post"], judge: judgeConfig(`http://127.0.0.1:${port}/v1`) }
      w.writeConfig(config)
      const error = yield* Effect.promise(() => w.build("reports/parsing").then(() => undefined, (e: unknown) => e))
      expect((error as Error).message).toContain("stage parse[open_ended_post] failed: 48 of 48 rows failed (100.0%, more than failOnError 0.1): 48 judge: network error (ECONNREFUSED)")
      w.writeConfig({ ...config, failOnError: 1 })
      const built = yield* Effect.promise(() => w.build("reports/parsing"))
      const scores = fromTable<{ reason: string | null }>((yield* Effect.promise(() => stageOutputs(w.cache, built, "parse[open_ended_post]"))).table("scores"))
      expect(new Set(scores.map((s) => s.reason))).toEqual(new Set(["judge: network error (ECONNREFUSED)"]))
    }), 300_000)
})
