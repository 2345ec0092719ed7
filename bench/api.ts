/**
 * API benchmark, two parts.
 *
 * 1. The client: rows per second through the whole elicit stage (row memo reads and writes, the transport, the
 *    Arrow table) against a local server process that answers at once, and where a request's time goes (key hashing,
 *    body encoding, the HTTP round trip, reply decoding, memo writes, the stage's per-row bookkeeping), each measured
 *    alone in the same run.
 * 2. `pipeline serve` of stories260K (a child process, as a user runs it, asked through prefpipe's own transport as
 *    an API subject model asks it): requests/s and tokens/s at concurrency 1, 8 and 32, beside the in-process
 *    `generateBatch` at batch 1, 8 and 32 on the same prompts in the same run.
 *
 * The machine is shared, so the client's figure is the best of several runs, and the serve part times the server and
 * the in-process runtime in turns and reports the median of each turn's ratio.
 */
import { NodeContext } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { CacheDir } from "../cache/CacheDir"
import { memoMap, memoWriter, RowMemo } from "../cache/Memo"
import { hashValue } from "../core/Key"
import { chatBody } from "../model/api/ApiModel"
import { decodeChatReply, optionProbsFrom } from "../model/api/ChatCompletions"
import { makeTransport } from "../model/api/Transport"
import { generateBatch } from "../model/Generate"
import { ModelPool } from "../model/ModelPool"
import { makeRuntime } from "../model/SubjectModel"
import { build } from "../pipeline/Build"
import { experimentConfig } from "../pipeline/Config"
import { resolve } from "../pipeline/Graph"
import { Progress } from "../pipeline/Progress"
import { experimentGraph } from "../reports/experiment"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const work = fs.mkdtempSync(path.join(os.tmpdir(), "prefpipe-bench-api-"))
const now = () => Number(process.hrtime.bigint()) / 1e9
const median = (xs: ReadonlyArray<number>) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}
const lines: string[] = []
const log = (line: string) => {
  lines.push(line)
  console.log(line)
}

/** A server that answers every chat completion at once: a rating with logprobs over the ten digits. */
const serverScript = `
const http = require("node:http")
const top = Array.from({ length: 10 }, (_, i) => ({ token: String(i + 1), logprob: Math.log((i + 1) / 55) }))
const body = JSON.stringify({ id: "x", object: "chat.completion", created: 0, model: "bench-model",
  choices: [{ index: 0, message: { role: "assistant", content: "7" }, finish_reason: "stop", stop_reason: null,
    logprobs: { content: [{ token: "7", logprob: Math.log(7 / 55), top_logprobs: top }] } }],
  usage: { prompt_tokens: 60, completion_tokens: 1, total_tokens: 61 } })
const models = JSON.stringify({ object: "list", data: [{ id: "bench-model", object: "model" }] })
const server = http.createServer((req, res) => {
  req.on("data", () => {})
  req.on("end", () => {
    const out = req.url.endsWith("/models") ? models : body
    res.writeHead(req.url.startsWith("/tokenize") ? 404 : 200, { "content-type": "application/json", "content-length": Buffer.byteLength(out) })
    res.end(out)
  })
})
server.keepAliveTimeout = 60000
server.listen(0, "127.0.0.1", () => console.log("port " + server.address().port))
`

const startChild = (command: string, args: ReadonlyArray<string>, pattern: RegExp): Promise<{ child: ChildProcess; match: RegExpExecArray }> =>
  new Promise((done, fail) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] })
    let out = ""
    const onData = (c: Buffer) => {
      out += c.toString()
      const m = pattern.exec(out)
      if (m !== null) done({ child, match: m })
    }
    child.stdout!.on("data", onData)
    child.stderr!.on("data", onData)
    child.once("exit", (code) => fail(new Error(`${command} exited ${code}: ${out}`)))
  })

const layersFor = (cache: string) => {
  const dir = CacheDir.layer(cache)
  return Layer.mergeAll(dir, RowMemo.layerSqlite.pipe(Layer.provide(dir)), ModelPool.Default.pipe(Layer.provide(dir)), Progress.layerSilent)
}

/** Part 1: the elicit stage's rows per second and the parts of a request's cost. */
const clientPart = Effect.gen(function* () {
  const { child, match } = yield* Effect.promise(() => startChild(process.execPath, ["-e", serverScript], /port (\d+)/))
  const baseUrl = `http://127.0.0.1:${match[1]}/v1`
  const samples = 50
  const configFile = path.join(work, "client.json")
  fs.writeFileSync(configFile, JSON.stringify({
    templates: ["stated_pre_v1"],
    elicitation: { samples, maxTokens: 8 },
    model: { kind: "api", model: "bench-model", endpoints: [{ baseUrl, maxConcurrency: 256 }] }
  }))
  const { config } = yield* experimentConfig.load(configFile)
  const g = experimentGraph(config)
  const template = config.templates[0]!
  const rates: number[] = []
  const cpuPerRow: number[] = []
  let rows = 0
  for (let run = 0; run < 3; run++) {
    const cache = path.join(work, `client-cache-${run}`)
    const cpu = process.cpuUsage()
    const result = yield* Effect.scoped(Effect.flatMap(resolve(g.elicitations(template)), (graph) => build(graph, { concurrency: 1 })).pipe(Effect.provide(layersFor(cache))))
    const used = process.cpuUsage(cpu)
    const stage = result.nodes.find((n) => n.node === `elicit[${template.id}]`)!
    rows = stage.rows
    rates.push(stage.rows / stage.seconds)
    cpuPerRow.push((used.user + used.system) / stage.rows)
  }
  log(`elicit stage against a local server answering at once: ${rows.toLocaleString("en")} rows (200 tasks × ${samples} samples, 1-10 ratings with option probabilities from logprobs), fresh cache each run`)
  log(`  ${rates.map((r) => Math.round(r).toLocaleString("en")).join(", ")} rows/s; best ${Math.round(Math.max(...rates)).toLocaleString("en")} rows/s (${(1e6 / Math.max(...rates)).toFixed(0)} µs per row of wall time, target ≤ 500)`)
  log(`  client CPU per row (user + system, whole build): ${cpuPerRow.map((c) => c.toFixed(0)).join(", ")} µs; one core's worth of it is ${Math.round(1e6 / Math.min(...cpuPerRow)).toLocaleString("en")} rows/s`)

  // The parts, each alone.
  const request = {
    prompt: { kind: "chat" as const, messages: [{ role: "user", content: "Rate how much you would enjoy this task on a scale from 1 to 10. ".repeat(3) + "Write a poem about the sea." }], addGenerationPrompt: true },
    maxTokens: 8, temperature: 1, topP: 1, seed: 123456789, options: Array.from({ length: 10 }, (_, i) => String(i + 1))
  }
  const n = 20_000
  const per = (seconds: number, count = n) => `${((seconds / count) * 1e6).toFixed(1)} µs`
  let t = now()
  for (let i = 0; i < n; i++) hashValue([request.prompt as never, request.seed + i, { maxTokens: 8, temperature: 1, topP: 1 }, request.options as never, { topLogprobs: 20 }])
  const hashing = now() - t
  t = now()
  for (let i = 0; i < n; i++) JSON.stringify(chatBody("bench-model", { ...request, seed: i }, 20))
  const encoding = now() - t
  const replyText = JSON.stringify({ choices: [{ index: 0, message: { role: "assistant", content: "7" }, finish_reason: "stop", logprobs: { content: [{ token: "7", logprob: -2, top_logprobs: Array.from({ length: 20 }, (_, i) => ({ token: String(i + 1), logprob: -i - 1 })) }] } }], usage: { prompt_tokens: 60, completion_tokens: 1 }, model: "bench-model" })
  t = now()
  for (let i = 0; i < n; i++) {
    const r = decodeChatReply(JSON.parse(replyText))
    if (r._tag === "Right") optionProbsFrom(request.options, r.right.logprobs)
  }
  const decoding = now() - t
  const value = JSON.stringify({ response: "7", option_probs: Array.from({ length: 10 }, () => 0.1), option_note: null, prompt_tokens: 60, completion_tokens: 1, served_model: "bench-model" })
  const memoCache = path.join(work, "memo-cache")
  const writes = yield* Effect.scoped(Effect.gen(function* () {
    const writer = yield* memoWriter("bench/1")
    const t0 = now()
    for (let i = 0; i < n; i++) yield* writer.put([[hashValue(i), value]])
    yield* writer.flush
    return now() - t0
  })).pipe(Effect.provide(layersFor(memoCache)))
  const bookkeeping = yield* Effect.gen(function* () {
    const t0 = now()
    yield* memoMap({ namespace: "bench/2", items: Array.from({ length: n }, (_, i) => i), key: (i) => i, batchSize: 1, concurrency: 256, keep: () => false, compute: (b) => Effect.succeed(b.map(() => ({ v: 1 }))) })
    return now() - t0
  }).pipe(Effect.provide(layersFor(path.join(work, "memo-cache-2"))))
  const transport = yield* makeTransport([{ baseUrl, maxConcurrency: 256 }], { timeoutMs: 10_000, maxRetries: 0, backoffMs: 10 }, { initialConcurrency: 256, decrease: 0.8, ejectAfter: 5, ejectMs: 1000, maxEjectMs: 30_000 })
  const payload = chatBody("bench-model", request, 20)
  let http = Infinity
  let httpCpu = Infinity
  for (let run = 0; run < 3; run++) {
    const t0 = now()
    const cpu = process.cpuUsage()
    yield* Effect.forEach(Array.from({ length: n }), () => transport.post("chat/completions", payload, decodeChatReply), { concurrency: 256, discard: true })
    const used = process.cpuUsage(cpu)
    http = Math.min(http, now() - t0)
    httpCpu = Math.min(httpCpu, (used.user + used.system) / 1e6)
  }
  log("  where a row's time goes (each part alone, µs per row; the HTTP round trip at 256 in flight, so its wall time per row is what the fleet sees):")
  log(`    key hashing ${per(hashing)}, request body ${per(encoding)}, reply decoding and option probabilities ${per(decoding)}, memo write (groups of 1,024) ${per(writes)},`)
  log(`    stage bookkeeping (memo read, fibers, progress; no writes) ${per(bookkeeping)}, transport round trip ${per(http)} of wall time with the server's own work (${Math.round(n / http).toLocaleString("en")} requests/s), of which ${per(httpCpu)} of client CPU (reply decoding included)`)
  child.kill()
}).pipe(Effect.scoped)

/** Part 2: pipeline serve of stories260K against the in-process runtime. */
const servePart = Effect.gen(function* () {
  const modelDir = path.join(root, "../shared/data/models/stories260K-hf")
  if (!fs.existsSync(modelDir)) return log(`serve: ${modelDir} is missing; skipped`)
  const cache = path.join(work, "serve-cache")
  const { runtime } = yield* makeRuntime({ dir: modelDir, cacheDir: path.join(cache, "compiled") })
  const prompts = ["Tim had a blue kite", "The cat sat on the mat", "Mom said", "Once there was a tiny frog who", "Lily and Ben went to the park to play with"]
  const maxTokens = 64
  const total = 96
  const reps = 5
  const requestOf = (i: number) => ({ prompt: { kind: "chat" as const, messages: [{ role: "user", content: prompts[i % prompts.length]! }], addGenerationPrompt: true }, maxTokens, temperature: 1, topP: 1, seed: i })
  const tokensOf = (g: { tokenIds: ReadonlyArray<number>; finish: string }) => g.tokenIds.length + (g.finish === "eos" ? 1 : 0)
  const bin = path.join(root, "bin/pipeline")
  const { child, match } = yield* Effect.promise(() => startChild(bin, ["serve", "--checkpoint", modelDir, "--port", "0", "--cache", cache, "--batch-size", "32"], /serving (\S+) at (\S+)/))
  const [name, url] = [match[1]!, match[2]!]
  // The client is prefpipe's own, as an API subject model talks to the server.
  const transport = yield* makeTransport([{ baseUrl: url, maxConcurrency: 64 }], { timeoutMs: 60_000, maxRetries: 0, backoffMs: 10 }, { initialConcurrency: 64, decrease: 0.8, ejectAfter: 5, ejectMs: 1000, maxEjectMs: 30_000 })
  const ask = (i: number) =>
    Effect.map(
      transport.post("chat/completions", { model: name, messages: requestOf(i).prompt.messages, max_tokens: maxTokens, temperature: 1, seed: i }, decodeChatReply),
      (reply) => reply.value.completionTokens ?? 0
    )
  const inProcess = (batch: number) =>
    Effect.gen(function* () {
      const t0 = now()
      let tokens = 0
      for (let start = 0; start < total; start += batch) {
        const out = yield* generateBatch(runtime, Array.from({ length: Math.min(batch, total - start) }, (_, i) => requestOf(start + i)))
        tokens += out.reduce((a, g) => a + tokensOf(g), 0)
      }
      const s = now() - t0
      return { rps: total / s, tps: tokens / s }
    })
  const served = (concurrency: number) =>
    Effect.gen(function* () {
      const t0 = now()
      const answered = yield* Effect.forEach(Array.from({ length: total }, (_, i) => i), ask, { concurrency })
      const s = now() - t0
      return { rps: total / s, tps: answered.reduce((a, b) => a + b, 0) / s }
    })
  log("")
  log(`pipeline serve of stories260K (${total} chat requests of up to ${maxTokens} tokens, temperature 1) beside the in-process generateBatch, in turns (${reps} of each; medians):`)
  for (let rep = 0; rep < 2; rep++) yield* generateBatch(runtime, Array.from({ length: 32 }, (_, i) => requestOf(i)))
  for (let i = 0; i < 64; i++) yield* ask(i)
  for (const concurrency of [1, 8, 32]) {
    const local: Array<{ rps: number; tps: number }> = []
    const remote: Array<{ rps: number; tps: number }> = []
    for (let rep = 0; rep < reps; rep++) {
      local.push(yield* inProcess(concurrency))
      remote.push(yield* served(concurrency))
    }
    const ratios = remote.map((r, i) => r.tps / local[i]!.tps).sort((a, b) => a - b)
    const [l, r] = [median(local.map((x) => x.tps)), median(remote.map((x) => x.tps))]
    log(
      `  concurrency ${String(concurrency).padStart(2)}: serve ${median(remote.map((x) => x.rps)).toFixed(1)} requests/s, ${Math.round(r).toLocaleString("en")} tokens/s; ` +
        `in-process batch ${concurrency}: ${median(local.map((x) => x.rps)).toFixed(1)} requests/s, ${Math.round(l).toLocaleString("en")} tokens/s; ` +
        `serve/in-process ${median(ratios).toFixed(2)} (turns ${ratios[0]!.toFixed(2)}-${ratios[ratios.length - 1]!.toFixed(2)})`
    )
  }
  child.kill()
}).pipe(Effect.scoped)

Effect.runPromise(Effect.zipRight(clientPart, servePart).pipe(Effect.provide(NodeContext.layer)) as Effect.Effect<void, unknown>)
  .then(() => log(`\n(${os.cpus().length} CPUs, load ${os.loadavg().map((x) => x.toFixed(2)).join(" ")})`))
  .catch((e) => {
    console.error(e)
    process.exitCode = 1
  })
  .finally(() => fs.rmSync(work, { recursive: true, force: true }))
