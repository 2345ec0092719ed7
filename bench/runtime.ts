/**
 * The runtime at the width of real models: a checkpoint of SmolLM2-135M's shape (hidden 576, 30 layers, 9/3 heads,
 * intermediate 1,536, vocabulary 49,152, tied embeddings) and, when memory allows, one of Llama-3.2-1B's (hidden 2,048,
 * 16 layers, 32/8 heads, intermediate 8,192, vocabulary 128,256), with random weights written by this benchmark. Each
 * measurement runs in a fresh process that only opens the checkpoint and runs it (and reports its own peak resident
 * memory), started from a bundle of this file as the CLI runs from its bundle:
 * - compile: the first session, compiling the checkpoint to ONNX (peak memory with the compile);
 * - decode at batch 1 against the memory-bandwidth limit: the copy bandwidth measured in the same process on as many
 *   threads as onnxruntime runs, or on one if that is higher (bytes read and written, as STREAM's Copy counts them) ÷
 *   the weight bytes (a token at batch 1 reads every weight once);
 * - decode at batch 32 against the peak of onnxruntime's MatMul at the model's own projection shapes (one graph of
 *   every projection of every layer, distinct weights, chained), measured in the same process with the same thread count
 *   (as FLOP/s: 2 × parameters × tokens);
 * - the cost of capturing the residual stream at three layers on every decode step;
 * - peak resident memory of a process that opens the compiled model and generates at batch 1 and 32 as the pipeline
 *   does (each prompt prefilled alone, then decoded together), against the weight bytes.
 * `npm run bench:runtime` (both shapes), or `-- smol` / `-- 1b`.
 */
import { NodeContext } from "@effect/platform-node"
import { Effect } from "effect"
// @ts-expect-error a plain ESM module without types
import { bundleOptions } from "../bin/bundleOptions.mjs"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Worker } from "node:worker_threads"
import { type GenerateRequest, generateBatch, leftPad, type Runtime } from "../model/Generate"
import { argmax } from "../model/Sampling"
import { writeTensors } from "../model/Safetensors"
import { type DecoderSession, emptyCache, forward } from "../model/Session"
import { defaultThreads, makeRuntime } from "../model/SubjectModel"
import { onnxProto, onnxRuntime } from "../model/onnxModules"
import { makePrng } from "../stats/prng"

interface Shape {
  readonly name: string
  readonly hidden: number
  readonly intermediate: number
  readonly layers: number
  readonly heads: number
  readonly kvHeads: number
  readonly vocab: number
}

const shapes: Record<string, Shape> = {
  smol: { name: "SmolLM2-135M shape", hidden: 576, intermediate: 1536, layers: 30, heads: 9, kvHeads: 3, vocab: 49152 },
  "1b": { name: "Llama-3.2-1B shape", hidden: 2048, intermediate: 8192, layers: 16, heads: 32, kvHeads: 8, vocab: 128256 }
}

const self = fileURLToPath(import.meta.url)
const decodeSteps = 48
const promptLength = 16
const captureLayers = [1, 2, 3]

/** The weight matrices of one layer as [rows (out), cols (in)]. */
const layerMatrices = (s: Shape): Array<[string, number, number]> => {
  const kv = (s.hidden / s.heads) * s.kvHeads
  return [["q_proj", s.hidden, s.hidden], ["k_proj", kv, s.hidden], ["v_proj", kv, s.hidden], ["o_proj", s.hidden, s.hidden],
    ["gate_proj", s.intermediate, s.hidden], ["up_proj", s.intermediate, s.hidden], ["down_proj", s.hidden, s.intermediate]]
}

const parameterCount = (s: Shape) =>
  s.vocab * s.hidden + s.hidden + s.layers * (2 * s.hidden + layerMatrices(s).reduce((n, [, r, c]) => n + r * c, 0))

/** Writes a Llama checkpoint of the shape with random float32 weights (scale 0.02, norms near 1) and a WordPiece vocabulary. */
const writeCheckpoint = (s: Shape, dir: string) => {
  fs.mkdirSync(dir, { recursive: true })
  const prng = makePrng(7)
  const random = (n: number, scale: number, centre = 0) => {
    const out = new Float32Array(n)
    for (let i = 0; i < n; i++) out[i] = centre + (prng.next() * 2 - 1) * scale
    return out
  }
  const tensors = [
    { name: "model.embed_tokens.weight", shape: [s.vocab, s.hidden], data: random(s.vocab * s.hidden, 0.02) },
    { name: "model.norm.weight", shape: [s.hidden], data: random(s.hidden, 0.05, 1) }
  ]
  for (let l = 0; l < s.layers; l++) {
    for (const [name, rows, cols] of layerMatrices(s)) {
      const group = name.endsWith("proj") && ["gate_proj", "up_proj", "down_proj"].includes(name) ? "mlp" : "self_attn"
      tensors.push({ name: `model.layers.${l}.${group}.${name}.weight`, shape: [rows, cols], data: random(rows * cols, 0.02) })
    }
    tensors.push({ name: `model.layers.${l}.input_layernorm.weight`, shape: [s.hidden], data: random(s.hidden, 0.05, 1) })
    tensors.push({ name: `model.layers.${l}.post_attention_layernorm.weight`, shape: [s.hidden], data: random(s.hidden, 0.05, 1) })
  }
  // Shards of at most 2 GiB with an index, as a hub checkpoint of this size comes (one file would also pass the
  // largest array Node can allocate).
  const shards: (typeof tensors)[] = [[]]
  let bytes = 0
  for (const t of tensors) {
    if (bytes + 4 * t.data.length > 2 ** 31 && shards.at(-1)!.length > 0) {
      shards.push([])
      bytes = 0
    }
    shards.at(-1)!.push(t)
    bytes += 4 * t.data.length
  }
  if (shards.length === 1) fs.writeFileSync(path.join(dir, "model.safetensors"), writeTensors(tensors, "F32"))
  else {
    const files = shards.map((_, i) => `model-${String(i + 1).padStart(5, "0")}-of-${String(shards.length).padStart(5, "0")}.safetensors`)
    shards.forEach((shard, i) => fs.writeFileSync(path.join(dir, files[i]!), writeTensors(shard, "F32")))
    const weightMap = Object.fromEntries(shards.flatMap((shard, i) => shard.map((t) => [t.name, files[i]!])))
    fs.writeFileSync(path.join(dir, "model.safetensors.index.json"), JSON.stringify({ metadata: { total_size: 4 * parameterCount(s) }, weight_map: weightMap }))
  }
  const config = {
    architectures: ["LlamaForCausalLM"], model_type: "llama", hidden_size: s.hidden, intermediate_size: s.intermediate,
    num_attention_heads: s.heads, num_key_value_heads: s.kvHeads, num_hidden_layers: s.layers, vocab_size: s.vocab,
    max_position_embeddings: 2048, rms_norm_eps: 1e-5, rope_theta: 10000, tie_word_embeddings: true, bos_token_id: 1, eos_token_id: 2
  }
  fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify(config))
  const words = ["[UNK]", "<s>", "</s>", ...Array.from({ length: s.vocab - 3 }, (_, i) => `w${i}`)]
  fs.writeFileSync(path.join(dir, "tokenizer.json"), JSON.stringify({
    version: "1.0", truncation: null, padding: null, normalizer: null, pre_tokenizer: { type: "WhitespaceSplit" },
    added_tokens: ["[UNK]", "<s>", "</s>"].map((content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    post_processor: { type: "TemplateProcessing", single: [{ SpecialToken: { id: "<s>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }], pair: [{ SpecialToken: { id: "<s>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }, { Sequence: { id: "B", type_id: 0 } }], special_tokens: { "<s>": { id: "<s>", ids: [1], tokens: ["<s>"] } } },
    decoder: { type: "WordPiece", prefix: "##", cleanup: true },
    model: { type: "WordPiece", unk_token: "[UNK]", continuing_subword_prefix: "##", max_input_chars_per_word: 100, vocab: Object.fromEntries(words.map((w, i) => [w, i])) }
  }))
  fs.writeFileSync(path.join(dir, "tokenizer_config.json"), JSON.stringify({ bos_token: "<s>", eos_token: "</s>" }))
  return tensors.reduce((n, t) => n + t.data.byteLength, 0)
}

const statusBytes = (field: string) => Number(/(\d+)\s*kB/.exec(fs.readFileSync("/proc/self/status", "utf8").split("\n").find((l) => l.startsWith(field)) ?? "")?.[1] ?? NaN) * 1024
const now = () => Number(process.hrtime.bigint()) / 1e9
const gib = (b: number) => `${(b / 2 ** 30).toFixed(2)} GiB`

// A copier: its own share of the arrays, one copy each time it is told to.
const copier = `
const { parentPort, workerData } = require("node:worker_threads")
const a = new Float32Array(workerData.n).fill(1), b = new Float32Array(workerData.n)
parentPort.on("message", () => { b.set(a); parentPort.postMessage(0) })
`

/**
 * Memory bandwidth of copying 256 MiB into another array on `threads` threads at once (each its share), counting bytes
 * read and written as STREAM's Copy does; the best of 5 runs after one that touches every page. Decode reads the
 * weights on as many threads as onnxruntime runs, so its limit is this bandwidth on that many.
 */
const copyBandwidth = async (threads: number) => {
  const n = Math.floor((256 << 20) / 4 / threads)
  const workers = Array.from({ length: threads }, () => new Worker(copier, { eval: true, workerData: { n } }))
  const round = () => Promise.all(workers.map((w) => new Promise((done) => (w.once("message", done), w.postMessage(0)))))
  try {
    await round()
    let best = 0
    for (let rep = 0; rep < 5; rep++) {
      const t = now()
      await round()
      best = Math.max(best, (2 * 4 * n * threads) / (now() - t))
    }
    return best
  } finally {
    await Promise.all(workers.map((w) => w.terminate()))
  }
}

/**
 * FLOP/s of onnxruntime's MatMul alone at the model's shapes: one graph holding every projection of every layer and the
 * output matrix (distinct weights, as many bytes as the model's, or as many layers as fit in a 2 GiB protobuf beside the
 * output matrix: still far more than any cache), chained layer to layer as a decode step would be, at the given batch
 * and thread count; the best of 10 runs.
 */
const matmulPeak = async (s: Shape, batch: number, threads: number) => {
  const ort = onnxRuntime(), onnx = onnxProto()
  const info = (name: string, dims: number[]) => onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType: 1, shape: { dim: dims.map((d) => ({ dimValue: d })) } } } })
  const prng = makePrng(3)
  const initializers: ReturnType<typeof onnx.TensorProto.create>[] = []
  const nodes: ReturnType<typeof onnx.NodeProto.create>[] = []
  let flops = 0
  const matmul = (input: string, name: string, inp: number, out: number) => {
    const w = new Float32Array(inp * out)
    for (let i = 0; i < w.length; i++) w[i] = (prng.next() - 0.5) * 0.02
    initializers.push(onnx.TensorProto.create({ name, dims: [inp, out], dataType: 1, rawData: new Uint8Array(w.buffer) }))
    nodes.push(onnx.NodeProto.create({ opType: "MatMul", input: [input, name], output: [`${name}.y`] }))
    flops += 2 * batch * inp * out
    return `${name}.y`
  }
  const kv = (s.hidden / s.heads) * s.kvHeads
  let x = "x"
  const sides: string[] = []
  const layerBytes = 4 * layerMatrices(s).reduce((n, [, r, c]) => n + r * c, 0)
  const layers = Math.max(1, Math.min(s.layers, Math.floor((2 ** 31 - 4 * s.hidden * s.vocab) / layerBytes)))
  for (let l = 0; l < layers; l++) {
    const q = matmul(x, `q${l}`, s.hidden, s.hidden)
    sides.push(matmul(x, `k${l}`, s.hidden, kv), matmul(x, `v${l}`, s.hidden, kv))
    const o = matmul(q, `o${l}`, s.hidden, s.hidden)
    const g = matmul(o, `g${l}`, s.hidden, s.intermediate), u = matmul(o, `u${l}`, s.hidden, s.intermediate)
    nodes.push(onnx.NodeProto.create({ opType: "Mul", input: [g, u], output: [`m${l}`] }))
    x = matmul(`m${l}`, `d${l}`, s.intermediate, s.hidden)
  }
  const logits = matmul(x, "lm", s.hidden, s.vocab)
  // The keys and values feed nothing else here; their sums keep them in the graph.
  sides.forEach((side, i) => nodes.push(onnx.NodeProto.create({ opType: "ReduceSum", input: [side], output: [`s${i}`], attribute: [onnx.AttributeProto.create({ name: "keepdims", type: onnx.AttributeProto.AttributeType.INT, i: 0 })] })))
  nodes.push(onnx.NodeProto.create({ opType: "Sum", input: sides.map((_, i) => `s${i}`), output: ["side"] }))
  const graph = onnx.GraphProto.create({ name: "matmuls", node: nodes, initializer: initializers, input: [info("x", [batch, s.hidden])], output: [info(logits, [batch, s.vocab]), info("side", [])] })
  const model = onnx.ModelProto.encode(onnx.ModelProto.create({ irVersion: 8, opsetImport: [{ domain: "", version: 12 }], graph })).finish()
  initializers.length = 0
  const session = await ort.InferenceSession.create(model, { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: "all", extra: { session: { intra_op: { allow_spinning: "0" } } } })
  const input = new ort.Tensor("float32", Float32Array.from({ length: batch * s.hidden }, () => prng.next() - 0.5), [batch, s.hidden])
  let best = Infinity
  for (let rep = 0; rep < 10; rep++) {
    const t = now()
    await session.run({ x: input })
    best = Math.min(best, now() - t)
  }
  await session.release()
  return flops / best
}

/** Greedy requests of `promptLength`-token text prompts (BOS and random words), `steps` new tokens each. */
const textRequests = (vocab: number, batch: number, steps: number): GenerateRequest[] => {
  const prng = makePrng(batch)
  return Array.from({ length: batch }, (_, b) => ({
    prompt: { kind: "text", text: Array.from({ length: promptLength - 1 }, () => `w${prng.int(vocab - 3)}`).join(" ") },
    maxTokens: steps, temperature: 0, topP: 1, seed: b
  }))
}

/** Greedy decode straight over a session: prefill `promptLength` tokens per row, then `steps` single-token calls. */
const decode = (rt: Runtime, session: DecoderSession, batch: number, steps: number, hiddenLayers: ReadonlyArray<number>) =>
  Effect.gen(function* () {
    const prng = makePrng(batch)
    const ids = Array.from({ length: batch }, () => [1, ...Array.from({ length: promptLength - 1 }, () => 3 + prng.int(rt.dims.vocab - 3))])
    const padded = leftPad(ids, 0)
    let out = yield* forward(session, { batch, seq: padded.seq, inputIds: padded.ids, positionIds: padded.positions, attentionMask: padded.mask, cache: emptyCache(rt.dims, batch, padded.seq) }, hiddenLayers)
    const mask = new BigInt64Array(batch).fill(1n)
    const t = now()
    for (let step = 0; step < steps; step++) {
      const next = BigInt64Array.from({ length: batch }, (_, b) => BigInt(argmax(out.logits, b * rt.dims.vocab, rt.dims.vocab)))
      const positions = BigInt64Array.from(ids, (p) => BigInt(p.length + step))
      out = yield* forward(session, { batch, seq: 1, inputIds: next, positionIds: positions, attentionMask: mask, cache: out.cache }, hiddenLayers)
    }
    return (batch * steps) / (now() - t)
  })

/** Child: opens the checkpoint (compiling it unless cached) and, unless `compileOnly`, runs every decode measurement. */
const child = (dir: string, cacheDir: string, compileOnly: boolean) =>
  Effect.gen(function* () {
    const rssStart = statusBytes("VmRSS:")
    const t0 = now()
    const { runtime: rt } = yield* makeRuntime({ dir, cacheDir })
    const plain = yield* rt.session({ logits: "last", hiddenLayers: [], steerLayers: [] })
    const openSeconds = now() - t0
    if (compileOnly) return { rssStart, openSeconds, peakRss: statusBytes("VmHWM:") }
    // One runtime open, generating at both batch sizes as the pipeline does: the memory a generating process needs.
    yield* generateBatch(rt, textRequests(rt.dims.vocab, 1, 4))
    yield* generateBatch(rt, textRequests(rt.dims.vocab, 32, 2))
    const peakRss = statusBytes("VmHWM:")
    const capture = yield* rt.session({ logits: "last", hiddenLayers: captureLayers, steerLayers: [] })
    const threads = defaultThreads(rt.dims)
    // On a shared machine a neighbour on the other core can hold the several-thread figure below the one-thread one;
    // the machine's bandwidth is at least what either reached.
    const bandwidthOne = yield* Effect.promise(() => copyBandwidth(1))
    const bandwidth = threads === 1 ? bandwidthOne : Math.max(bandwidthOne, yield* Effect.promise(() => copyBandwidth(threads)))
    const best = { b1: 0, b32: 0, b1Capture: 0, b32Capture: 0 }
    // Interleaved rounds, best of each: a busy neighbour only ever slows a run down.
    for (let round = 0; round < 3; round++) {
      best.b1 = Math.max(best.b1, yield* decode(rt, plain, 1, decodeSteps, []))
      best.b1Capture = Math.max(best.b1Capture, yield* decode(rt, capture, 1, decodeSteps, captureLayers))
      best.b32 = Math.max(best.b32, yield* decode(rt, plain, 32, decodeSteps / 4, []))
      best.b32Capture = Math.max(best.b32Capture, yield* decode(rt, capture, 32, decodeSteps / 4, captureLayers))
    }
    const peak = yield* Effect.promise(() => matmulPeak(shapeOf(rt.dims), 32, threads))
    return { rssStart, openSeconds, peakRss, threads, bandwidth, bandwidthOne, matmulFlops: peak, ...best }
  })

const shapeOf = (dims: { hidden: number; intermediate: number; layers: number; heads: number; kvHeads: number; vocab: number }): Shape =>
  ({ name: "", hidden: dims.hidden, intermediate: dims.intermediate, layers: dims.layers, heads: dims.heads, kvHeads: dims.kvHeads, vocab: dims.vocab })

/**
 * Bundles this file into `dir`. Run through tsx, a process holds the TypeScript loader and its transformed sources
 * (about 0.14 GiB more resident memory), which the CLI, running from its bundle, does not.
 */
const bundleSelf = async (dir: string) => {
  const esbuild = await import("esbuild")
  const bundle = path.join(dir, "bench-runtime.mjs")
  await esbuild.build({ ...bundleOptions(bundle), entryPoints: [self] })
  return bundle
}

const runChild = (bundle: string, dir: string, cacheDir: string, compileOnly: boolean) => {
  const out = execFileSync(process.execPath, [bundle, "--child", dir, cacheDir, compileOnly ? "compile" : "decode"], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], maxBuffer: 1 << 24 })
  return JSON.parse(out.trim().split("\n").pop()!) as Record<string, number>
}

const memAvailable = () => Number(/MemAvailable:\s+(\d+)/.exec(fs.readFileSync("/proc/meminfo", "utf8"))?.[1] ?? 0) * 1024

const main = async () => {
  const picked = process.argv.slice(2)
  const names = picked.length === 0 ? Object.keys(shapes) : picked
  console.log(`${os.availableParallelism()} cores, load average ${os.loadavg().map((l) => l.toFixed(2)).join(" ")}`)
  for (const key of names) {
    const s = shapes[key]
    if (s === undefined) throw new Error(`unknown shape ${key}; shapes are ${Object.keys(shapes).join(", ")}`)
    const weightBytes = 4 * parameterCount(s)
    // Writing the checkpoint holds the tensors and the file's bytes, which may still be resident here while a child decodes.
    if (3.5 * weightBytes > memAvailable()) {
      console.log(`\n${s.name}: skipped, ${gib(weightBytes)} of float32 weights need about ${gib(3.5 * weightBytes)} to write and compile; ${gib(memAvailable())} is available`)
      continue
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `bench-runtime-${key}-`))
    try {
      const written = writeCheckpoint(s, path.join(dir, "checkpoint"))
      const bundle = await bundleSelf(dir)
      console.log(`\n${s.name}: ${(parameterCount(s) / 1e6).toFixed(1)}M parameters, ${gib(written)} of float32 weights`)
      const cacheDir = path.join(dir, "onnx")
      const cold = runChild(bundle, path.join(dir, "checkpoint"), cacheDir, true)
      console.log(`  open with compile: ${cold.openSeconds!.toFixed(1)} s, peak RSS ${gib(cold.peakRss!)} = ${(cold.peakRss! / written).toFixed(2)}× the weights`)
      const r = runChild(bundle, path.join(dir, "checkpoint"), cacheDir, false)
      const limit = r.bandwidth! / written
      const one = r.threads === 1 ? "" : `, ${(r.bandwidthOne! / 1e9).toFixed(1)} GB/s on one`
      console.log(`  onnxruntime threads ${r.threads}; copy bandwidth ${(r.bandwidth! / 1e9).toFixed(1)} GB/s (the best on ${r.threads} or on one thread${one}) → batch-1 limit ${limit.toFixed(1)} tok/s`)
      console.log(`  decode batch 1: ${r.b1!.toFixed(1)} tok/s = ${((100 * r.b1!) / limit).toFixed(0)}% of the bandwidth limit  [target ≥ 60%]`)
      const achieved = 2 * parameterCount(s) * r.b32!
      console.log(`  decode batch 32: ${r.b32!.toFixed(0)} tok/s = ${(achieved / 1e9).toFixed(1)} GFLOP/s = ${((100 * achieved) / r.matmulFlops!).toFixed(0)}% of onnxruntime's MatMul alone at these shapes (${(r.matmulFlops! / 1e9).toFixed(1)} GFLOP/s)  [target ≥ 40%]`)
      console.log(`  capturing layers ${captureLayers.join(", ")} on every step: batch 1 ${(100 * (r.b1! / r.b1Capture! - 1)).toFixed(1)}% slower, batch 32 ${(100 * (r.b32! / r.b32Capture! - 1)).toFixed(1)}% slower`)
      console.log(`  peak RSS opening the compiled model and generating at batch 1 and 32: ${gib(r.peakRss!)} = ${(r.peakRss! / written).toFixed(2)}× the weights, of which ${gib(r.rssStart!)} before opening anything (Node and the modules)  [target ≤ 1.5×]`)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }
  console.log(`\nload average at the end ${os.loadavg().map((l) => l.toFixed(2)).join(" ")}`)
}

const [flag, dir, cacheDir, mode] = process.argv.slice(2)
if (flag === "--write") {
  // Writes a checkpoint for experiments: --write DIR [SHAPE].
  console.log(gib(writeCheckpoint(shapes[cacheDir ?? "smol"]!, dir!)))
} else if (flag === "--child") {
  Effect.runPromise(child(dir!, cacheDir!, mode === "compile").pipe(Effect.provide(NodeContext.layer)))
    .then((r) => process.stdout.write(JSON.stringify(r) + "\n"))
    .catch((e) => {
      console.error(e)
      process.exit(1)
    })
} else {
  await main()
}
