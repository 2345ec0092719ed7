/**
 * Subject-model benchmark on stories260K (../shared/data/models/stories260K-hf): prefill and decode tokens/s at
 * batch 1, 8 and 32 through `generateBatch`, the raw decode loop per fusion set and per thread count, and the extra
 * cost of fetching the residual stream at 3 layers on every decode step, and the cost of sampling one row of a
 * Llama-3-sized vocabulary. Every figure is the best of several runs (10, or 5 for the raw loop's 3 batch sizes × 6
 * fusion sets), since the machine is shared and a busy neighbour only ever slows a run down.
 */
import { NodeContext } from "@effect/platform-node"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { allFusions, type Fusion } from "../model/Compile"
import { generateBatch, leftPad, type Runtime } from "../model/Generate"
import { argmax, sampleToken, seededRandom } from "../model/Sampling"
import { type DecoderSession, emptyCache, forward } from "../model/Session"
import { defaultThreads, makeRuntime } from "../model/SubjectModel"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const modelDir = path.join(root, "../shared/data/models/stories260K-hf")
const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), "prefpipe-bench-model-"))
const prompts = ["Tim had a blue kite", "The cat sat on the mat", "Mom said", "Once there was a tiny frog who", "Lily and Ben went to the park to play with"]
const decodeSteps = 128

const now = () => Number(process.hrtime.bigint()) / 1e9
const repeats = 10

/** The best (shortest) of `repeats` runs of each timed field. */
const best = <A extends Record<string, number>>(run: Effect.Effect<A, string>) =>
  Effect.map(Effect.all(Array.from({ length: repeats }, () => run)), (runs) => {
    const out = { ...runs[0]! }
    for (const r of runs) for (const k of Object.keys(r) as Array<keyof A>) if (k.toString().endsWith("Seconds")) out[k] = Math.min(out[k] as number, r[k] as number) as A[keyof A]
    return out
  })

/** Greedy decode loop straight over the session: prefill `promptLength` tokens then `steps` single-token calls. */
const decodeLoop = (rt: Runtime, session: DecoderSession, batch: number, steps: number, hiddenLayers: ReadonlyArray<number>) =>
  Effect.gen(function* () {
    const ids = Array.from({ length: batch }, (_, b) => rt.tokenizer.encode(prompts[b % prompts.length]!, true))
    const padded = leftPad(ids, rt.tokenizer.padId)
    const t0 = now()
    let out = yield* forward(session, { batch, seq: padded.seq, inputIds: padded.ids, positionIds: padded.positions, attentionMask: padded.mask, cache: emptyCache(rt.dims, batch, padded.seq) }, hiddenLayers)
    const t1 = now()
    const mask = new BigInt64Array(batch).fill(1n)
    for (let t = 0; t < steps; t++) {
      const next = BigInt64Array.from({ length: batch }, (_, b) => BigInt(argmax(out.logits, b * rt.dims.vocab, rt.dims.vocab)))
      const positions = BigInt64Array.from(ids, (p) => BigInt(p.length + t))
      out = yield* forward(session, { batch, seq: 1, inputIds: next, positionIds: positions, attentionMask: mask, cache: out.cache }, hiddenLayers)
    }
    const t2 = now()
    return { prefillSeconds: t1 - t0, decodeSeconds: t2 - t1, promptTokens: ids.reduce((a, x) => a + x.length, 0) }
  })

const program = Effect.gen(function* () {
  const lines: string[] = []
  const log = (line: string) => {
    lines.push(line)
    console.log(line)
  }
  const runtimes = new Map<string, Runtime>()
  const runtimeFor = (fusions: ReadonlyArray<Fusion>, threads?: number) =>
    Effect.gen(function* () {
      const key = `${fusions.join(",")}@${threads}`
      if (!runtimes.has(key)) runtimes.set(key, (yield* makeRuntime({ dir: modelDir, cacheDir, fusions, ...(threads === undefined ? {} : { threads }) })).runtime)
      return runtimes.get(key)!
    })

  const rt = yield* runtimeFor(allFusions)
  log(`stories260K, ${os.cpus().length} CPUs, onnxruntime intra-op threads ${defaultThreads(rt.dims)} unless stated, graph optimisation "all"`)
  log("")
  log("generateBatch (greedy, left padding, KV cache), all fusions:")
  const requestsOf = (batch: number) =>
    Array.from({ length: batch }, (_, b) => ({ prompt: { kind: "text" as const, text: prompts[b % prompts.length]! }, maxTokens: decodeSteps, temperature: 0, topP: 1, seed: b }))
  // Warm-up at every batch size first, so that no size is timed while the JIT is still compiling the loop.
  for (let rep = 0; rep < 3; rep++) for (const batch of [1, 8, 32]) yield* generateBatch(rt, requestsOf(batch))
  for (const batch of [1, 8, 32]) {
    const requests = requestsOf(batch)
    let generated = 0
    let promptTokens = 0
    const m = yield* best(Effect.gen(function* () {
      const a = now()
      yield* generateBatch(rt, requests.map((r) => ({ ...r, maxTokens: 1 })))
      const b = now()
      const results = yield* generateBatch(rt, requests)
      const c = now()
      generated = results.reduce((sum, r) => sum + r.tokenIds.length, 0) - batch
      promptTokens = results.reduce((sum, r) => sum + r.promptTokens, 0)
      return { prefillSeconds: b - a, decodeSeconds: c - b - (b - a) }
    }))
    log(`  batch ${String(batch).padStart(2)}: prefill ${Math.round(promptTokens / m.prefillSeconds).toLocaleString("en")} tok/s, decode ${Math.round(generated / m.decodeSeconds).toLocaleString("en")} tok/s`)
  }

  log("")
  log(`raw decode loop (${decodeSteps} steps, argmax), tokens/s by fusion set and thread count:`)
  const sets: Array<{ fusions: ReadonlyArray<Fusion>; threads?: number }> = [
    { fusions: [] },
    { fusions: ["rmsnorm"] },
    { fusions: ["rmsnorm", "skipnorm"] },
    { fusions: ["rmsnorm", "skipnorm", "rotary"] },
    { fusions: allFusions },
    { fusions: allFusions, threads: 2 }
  ]
  // Interleaved (set by set, repeated) so that load drifting during the run hits every set alike; best run kept.
  const sessions = yield* Effect.forEach(sets, ({ fusions, threads }) =>
    Effect.flatMap(runtimeFor(fusions, threads), (r) => Effect.map(r.session({ logits: "last", hiddenLayers: [], steerLayers: [] }), (session) => ({ r, session }))))
  const bestSeconds = sets.map(() => [Infinity, Infinity, Infinity])
  const prefillSeconds = sets.map(() => [Infinity, Infinity, Infinity])
  const promptTokens = [0, 0, 0]
  for (let rep = 0; rep < repeats / 2; rep++)
    for (const [k, { r, session }] of sessions.entries())
      for (const [j, batch] of [1, 8, 32].entries()) {
        if (rep === 0) yield* decodeLoop(r, session, batch, 8, [])
        const m = yield* decodeLoop(r, session, batch, decodeSteps, [])
        bestSeconds[k]![j] = Math.min(bestSeconds[k]![j]!, m.decodeSeconds)
        prefillSeconds[k]![j] = Math.min(prefillSeconds[k]![j]!, m.prefillSeconds)
        promptTokens[j] = m.promptTokens
      }
  sets.forEach(({ fusions, threads }, k) => {
    const row = [1, 8, 32].map((batch, j) =>
      `b${batch} ${Math.round((batch * decodeSteps) / bestSeconds[k]![j]!).toLocaleString("en")} (prefill ${Math.round(promptTokens[j]! / prefillSeconds[k]![j]!).toLocaleString("en")})`
    )
    log(`  [${fusions.join(", ") || "plain"}]${threads === undefined ? "" : `, ${threads} threads`}: ${row.join(", ")}`)
  })

  log("")
  log("activation capture: residual after layers 1, 2, 3 fetched on every decode step, all fusions:")
  const plainSession = yield* rt.session({ logits: "last", hiddenLayers: [], steerLayers: [] })
  const captureSession = yield* rt.session({ logits: "last", hiddenLayers: [1, 2, 3], steerLayers: [] })
  for (const batch of [1, 32]) {
    let plain = Infinity
    let capture = Infinity
    for (let rep = 0; rep < repeats; rep++) {
      plain = Math.min(plain, (yield* decodeLoop(rt, plainSession, batch, decodeSteps, [])).decodeSeconds)
      capture = Math.min(capture, (yield* decodeLoop(rt, captureSession, batch, decodeSteps, [1, 2, 3])).decodeSeconds)
    }
    log(`  batch ${String(batch).padStart(2)}: plain ${Math.round((batch * decodeSteps) / plain).toLocaleString("en")} tok/s, capturing ${Math.round((batch * decodeSteps) / capture).toLocaleString("en")} tok/s, extra cost ${(100 * (capture / plain - 1)).toFixed(1)}%`)
  }

  log("")
  const vocab = 128_256
  const random = seededRandom(1)
  // Zipf-shaped rows (logit −1.5·ln rank, ranks shuffled), about as peaked as a language model's next-token distribution.
  const rows = Array.from({ length: 8 }, () => {
    const row = Float32Array.from({ length: vocab }, (_, r) => -1.5 * Math.log(r + 1))
    for (let i = vocab - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1))
      const t = row[i]!
      row[i] = row[j]!
      row[j] = t
    }
    return row
  })
  const perRow = (topP: number) => {
    const t0 = now()
    for (let k = 0; k < 64; k++) sampleToken(rows[k % rows.length]!, 0, vocab, 1, topP, random)
    return ((now() - t0) / 64) * 1e3
  }
  log(`sampling one row of a Llama-3-sized vocabulary (${vocab.toLocaleString("en")} logits, temperature 1): top-p 0.9 ${perRow(0.9).toFixed(2)} ms, top-p 1 ${perRow(1).toFixed(2)} ms`)
})

Effect.runPromise(program.pipe(Effect.provide(NodeContext.layer))).catch((e) => {
  console.error(e)
  process.exitCode = 1
})
