/** Builds the ONNX decoder graph of a checkpoint (plain operators, or any set of onnxruntime's fused CPU operators) and caches it on disk. */
import { FileSystem } from "@effect/platform"
import { Effect } from "effect"
import { createHash } from "node:crypto"
import * as nodeFs from "node:fs"
import * as path from "node:path"
import { writeFileAtomic } from "../cache/AtomicFile"
import { checkManifest, stampFiles } from "../cache/Folders"
import { setAsideIn } from "../cache/Quarantine"
import { recordText } from "../cache/Records"
import { type Checkpoint, CheckpointError, type CheckpointFiles, type Dimensions, type ModelConfig, openTensors, type TensorSource } from "./Checkpoint"
import { ElemType, type ExternalData, type GraphBuilder, graphBuilder } from "./Graph"
import { floatToHalf } from "./Safetensors"

/**
 * Optional fusions: `rmsnorm` (SimplifiedLayerNormalization), `skipnorm` (residual add + RMSNorm in
 * com.microsoft.SkipSimplifiedLayerNormalization), `rotary` (com.microsoft.RotaryEmbedding), `packed` (one MatMul
 * for q/k/v and one for gate/up). Attention is plain operators (onnxruntime fuses the key transpose into
 * FusedMatMul): com.microsoft.GroupQueryAttention would have to copy the whole cache into its own present on every
 * call, since the cache is a graph input here, and cannot continue several tokens per row of a batch.
 */
export type Fusion = "rmsnorm" | "skipnorm" | "rotary" | "packed"

/** Every fusion. */
export const allFusions: ReadonlyArray<Fusion> = ["rmsnorm", "skipnorm", "rotary", "packed"]

/** What a compiled decoder computes; every field is part of the on-disk cache key. */
export interface CompileOptions {
  /** Which fusions to use; none gives the plain-operator reference graph. */
  readonly fusions: ReadonlyArray<Fusion>
  /** `last`: logits `[B, V]` at the last position; `all`: `[B, S, V]`. */
  readonly logits: "last" | "all"
  /**
   * Layers whose residual stream (after the block and any steering) the graph returns, stacked in ascending layer
   * order as one output `hidden` `[layers·B, S, hidden]` (one output costs less per call than one per layer).
   */
  readonly hiddenLayers: ReadonlyArray<number>
  /** Layers with an additive input `steer.L` `[B, S, hidden]` applied to the residual after the block. */
  readonly steerLayers: ReadonlyArray<number>
  /** Storage type of the weight initializers; float16 weights are cast to float32 inside the graph. */
  readonly dtype: "float32" | "float16"
}

/** The order in which a graph stacks the layers it returns in `hidden`: ascending, each once. */
export const stackedLayers = (layers: ReadonlyArray<number>): number[] => [...new Set(layers)].sort((a, b) => a - b)

const writeAll = (fd: number, bytes: Uint8Array) => {
  for (let at = 0; at < bytes.length; ) at += nodeFs.writeSync(fd, bytes, at)
}

const transpose = (data: Float32Array, rows: number, cols: number): Float32Array => {
  const out = new Float32Array(rows * cols)
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c]!
  return out
}

/** Inverse rotary frequencies, with Llama-3 frequency-dependent scaling when configured. */
export const inverseFrequencies = (config: ModelConfig, headDim: number): Float64Array => {
  const half = headDim / 2
  const inv = new Float64Array(half)
  for (let i = 0; i < half; i++) inv[i] = 1 / config.rope_theta ** ((2 * i) / headDim)
  const scaling = config.rope_scaling
  if (scaling === undefined) return inv
  const lowWavelen = scaling.original_max_position_embeddings / scaling.low_freq_factor
  const highWavelen = scaling.original_max_position_embeddings / scaling.high_freq_factor
  for (let i = 0; i < half; i++) {
    const wavelen = (2 * Math.PI) / inv[i]!
    if (wavelen > lowWavelen) inv[i] = inv[i]! / scaling.factor
    else if (wavelen >= highWavelen) {
      const smooth = (scaling.original_max_position_embeddings / wavelen - scaling.low_freq_factor) / (scaling.high_freq_factor - scaling.low_freq_factor)
      inv[i] = (1 - smooth) * (inv[i]! / scaling.factor) + smooth * inv[i]!
    }
  }
  return inv
}

/** cos/sin tables `[maxPositions, headDim/2]` of the rotary embedding. */
export const rotaryTables = (config: ModelConfig, dims: Dimensions): { cos: Float32Array; sin: Float32Array } => {
  const inv = inverseFrequencies(config, dims.headDim)
  const half = dims.headDim / 2
  const cos = new Float32Array(dims.maxPositions * half)
  const sin = new Float32Array(dims.maxPositions * half)
  for (let p = 0; p < dims.maxPositions; p++)
    for (let i = 0; i < half; i++) {
      cos[p * half + i] = Math.cos(p * inv[i]!)
      sin[p * half + i] = Math.sin(p * inv[i]!)
    }
  return { cos, sin }
}

const duplicateHalves = (table: Float32Array, rows: number, half: number): Float32Array => {
  const out = new Float32Array(rows * half * 2)
  for (let r = 0; r < rows; r++) {
    out.set(table.subarray(r * half, (r + 1) * half), r * half * 2)
    out.set(table.subarray(r * half, (r + 1) * half), r * half * 2 + half)
  }
  return out
}

interface Residual {
  /** A resolved residual tensor, or a pending sum that the next skip-norm can compute. */
  readonly value: string | readonly [string, string]
  /** The layer whose residual this is, when the graph returns it (taken once resolved, so the skip-norm stays fused). */
  readonly returnedLayer?: number
}

/**
 * Builds the decoder graph. The key/value cache is an input only: `past.L.key`/`past.L.value` `[B, kvHeads, C, D]`
 * hold C slots, `past_mask` `[B, C]` says which slots hold real tokens, and the graph returns just the new tokens'
 * keys and values (`present` `[B, S, layers·2·kvHeads·D]`: per layer the rotated keys, then the values) for the
 * caller to write into its slots. Nothing proportional to the cache crosses the session boundary, so a decode step
 * costs the same whatever the context length, apart from the attention itself.
 */
export const buildDecoder = (
  checkpoint: Pick<Checkpoint, "config" | "dims"> & { readonly weights: TensorSource },
  options: CompileOptions,
  external?: ExternalData
): GraphBuilder => {
  const { config, dims, weights } = checkpoint
  const g = graphBuilder(options.dtype === "float16" ? floatToHalf : undefined, external)
  const { hidden: H, heads, kvHeads, headDim: D, layers, vocab, intermediate } = dims
  const groups = heads / kvHeads
  const has = (fusion: Fusion) => options.fusions.includes(fusion)
  const useRotary = has("rotary")
  const eps = config.rms_norm_eps
  // Query projections carry the attention scale 1/√D (the rotary embedding is linear, so scaling before it is the same).
  const w = (name: string) => {
    const data = weights.get(name)!.data
    return name.includes(".self_attn.q_proj.") ? data.map((x) => x / Math.sqrt(D)) : data
  }
  const linear = (name: string, inDim: number, outDim: number) => g.weight(name, [inDim, outDim], transpose(w(name), outDim, inDim))
  const f = (v: number) => ({ f: v })
  const i = (v: number) => ({ i: v })

  const inputIds = g.input("input_ids", ElemType.int64, ["batch", "seq"])
  const mask = g.input("attention_mask", ElemType.int64, ["batch", "seq"])
  const pastMask = g.input("past_mask", ElemType.int64, ["batch", "capacity"])
  const positions = g.input("position_ids", ElemType.int64, ["batch", "seq"])
  const past = Array.from({ length: layers }, (_, l) => ({
    key: g.input(`past.${l}.key`, ElemType.float, ["batch", kvHeads, "capacity", D]),
    value: g.input(`past.${l}.value`, ElemType.float, ["batch", kvHeads, "capacity", D])
  }))
  const steer = new Map(options.steerLayers.map((l) => [l, g.input(`steer.${l}`, ElemType.float, ["batch", "seq", H])]))

  // Attention bias [B, 1, groups·S, C+S] (rows g·S+s): query s sees every cached slot the past mask keeps, and new
  // token j <= s when the mask keeps j. Every cached slot precedes the new tokens.
  const seqShape = g.node("Shape", [inputIds], { start: i(1), end: i(2) })[0]!
  const seq = g.node("Squeeze", [seqShape])[0]!
  const one = g.ints([1], [])
  const newPos = g.node("Range", [g.ints([0], []), seq, one])[0]!
  const causal = g.node("LessOrEqual", [g.node("Unsqueeze", [newPos, g.ints([0])])[0]!, g.node("Unsqueeze", [newPos, g.ints([1])])[0]!])[0]!
  const keeps = (m: string) => g.node("Unsqueeze", [g.node("Cast", [m], { to: i(ElemType.bool) })[0]!, g.ints([1, 2])])[0]!
  const newAllowed = g.node("And", [causal, keeps(mask)])[0]!
  const pastAllowed = g.node("Expand", [keeps(pastMask), g.node("Concat", [g.ints([1, 1]), seqShape, g.ints([1])], { axis: i(0) })[0]!])[0]!
  const allowed = g.node("Concat", [pastAllowed, newAllowed], { axis: i(3) })[0]!
  const bias = g.node("Tile", [g.node("Where", [allowed, g.floats([0], []), g.floats([-1e30], [])])[0]!, g.ints([1, 1, groups, 1])])[0]!
  const slotSplit = g.node("Concat", [g.node("Shape", [pastMask], { start: i(1), end: i(2) })[0]!, seqShape], { axis: i(0) })[0]!

  const { cos, sin } = rotaryTables(config, dims)
  let cosFull = "", sinFull = "", cosHalf = "", sinHalf = "", rotate = ""
  if (useRotary) {
    cosHalf = g.weight("rotary.cos", [dims.maxPositions, D / 2], cos)
    sinHalf = g.weight("rotary.sin", [dims.maxPositions, D / 2], sin)
  } else {
    const cosTable = g.weight("rotary.cos", [dims.maxPositions, D], duplicateHalves(cos, dims.maxPositions, D / 2))
    const sinTable = g.weight("rotary.sin", [dims.maxPositions, D], duplicateHalves(sin, dims.maxPositions, D / 2))
    cosFull = g.node("Unsqueeze", [g.node("Gather", [cosTable, positions])[0]!, g.ints([1])])[0]!
    sinFull = g.node("Unsqueeze", [g.node("Gather", [sinTable, positions])[0]!, g.ints([1])])[0]!
    // rotate_half(x) = x @ R with R mapping [x1, x2] to [-x2, x1].
    const r = new Float32Array(D * D)
    for (let k = 0; k < D / 2; k++) {
      r[(k + D / 2) * D + k] = -1
      r[k * D + k + D / 2] = 1
    }
    rotate = g.floats(Array.from(r), [D, D])
  }
  const rope = (x: string) =>
    g.node("Add", [g.node("Mul", [x, cosFull])[0]!, g.node("Mul", [g.node("MatMul", [x, rotate])[0]!, sinFull])[0]!])[0]!

  const rmsNorm = (x: string, weight: string) => {
    if (has("rmsnorm")) return g.node("SimplifiedLayerNormalization", [x, weight], { epsilon: f(eps), axis: i(-1) })[0]!
    const meanSquare = g.node("ReduceMean", [g.node("Mul", [x, x])[0]!], { axes: { ints: [-1] }, keepdims: i(1) })[0]!
    const inv = g.node("Reciprocal", [g.node("Sqrt", [g.node("Add", [meanSquare, g.floats([eps], [])])[0]!])[0]!])[0]!
    return g.node("Mul", [g.node("Mul", [x, inv])[0]!, weight])[0]!
  }
  const returned = new Map<number, string>()
  const exported = (residual: Residual, value: string) => {
    if (residual.returnedLayer !== undefined) returned.set(residual.returnedLayer, value)
    return value
  }
  /** Normalises the residual, resolving a pending sum with the skip-norm when that fusion is on. */
  const normResidual = (residual: Residual, weight: string): { normed: string; residual: string } => {
    if (typeof residual.value === "string" || !has("skipnorm")) {
      const resolved = resolve(residual)
      return { normed: rmsNorm(resolved, weight), residual: resolved }
    }
    const outs = g.node("SkipSimplifiedLayerNormalization", [residual.value[0], residual.value[1], weight], { epsilon: f(eps) }, { domain: "com.microsoft", count: 4 })
    return { normed: outs[0]!, residual: exported(residual, outs[3]!) }
  }
  const resolve = (residual: Residual): string =>
    exported(residual, typeof residual.value === "string" ? residual.value : g.node("Add", [residual.value[0], residual.value[1]])[0]!)

  /** Each layer's new keys (rotated) and values `[B, S, kvHeads·D]`, concatenated into the `present` output. */
  const presents: string[] = []
  /** Attention over the cached slots and the new tokens, grouping query heads over their key/value head. */
  const attention = (q: string, k: string, v: string, l: number, rotated: boolean) => {
    const heads4 = (x: string, n: number) => g.node("Transpose", [g.node("Reshape", [x, g.ints([0, 0, n, D])])[0]!], { perm: { ints: [0, 2, 1, 3] } })[0]!
    const qh = rotated ? heads4(q, heads) : rope(heads4(q, heads))
    const kh = rotated ? heads4(k, kvHeads) : rope(heads4(k, kvHeads))
    const vh = heads4(v, kvHeads)
    const unheads = (x: string) => g.node("Reshape", [g.node("Transpose", [x], { perm: { ints: [0, 2, 1, 3] } })[0]!, g.ints([0, 0, kvHeads * D])])[0]!
    presents.push(rotated ? k : unheads(kh), v)
    const qg = g.node("Reshape", [qh, g.ints([0, kvHeads, -1, D])])[0]!
    const scoresOn = (keys: string) => g.node("MatMul", [qg, g.node("Transpose", [keys], { perm: { ints: [0, 1, 3, 2] } })[0]!])[0]!
    const scores = g.node("Concat", [scoresOn(past[l]!.key), scoresOn(kh)], { axis: i(3) })[0]!
    const probs = g.node("Softmax", [g.node("Add", [scores, bias])[0]!], { axis: i(-1) })[0]!
    const [onPast, onNew] = g.node("Split", [probs, slotSplit], { axis: i(3) }, { count: 2 })
    const ctx = g.node("Add", [g.node("MatMul", [onPast!, past[l]!.value])[0]!, g.node("MatMul", [onNew!, vh])[0]!])[0]!
    const merged = g.node("Transpose", [g.node("Reshape", [ctx, g.ints([0, heads, -1, D])])[0]!], { perm: { ints: [0, 2, 1, 3] } })[0]!
    return g.node("Reshape", [merged, g.ints([0, 0, heads * D])])[0]!
  }

  const rotaryAttention = (q: string, k: string, v: string, l: number) => {
    const qr = g.node("RotaryEmbedding", [q, positions, cosHalf, sinHalf], { interleaved: i(0), num_heads: i(heads) }, { domain: "com.microsoft" })[0]!
    const kr = g.node("RotaryEmbedding", [k, positions, cosHalf, sinHalf], { interleaved: i(0), num_heads: i(kvHeads) }, { domain: "com.microsoft" })[0]!
    return attention(qr, kr, v, l, true)
  }

  /** One MatMul over the concatenated (transposed) weights of several projections, split back into their outputs. */
  const packedProjection = (x: string, inDim: number, names: ReadonlyArray<string>, outDims: ReadonlyArray<number>, withBias: boolean) => {
    const total = outDims.reduce((a, b) => a + b, 0)
    const packed = new Float32Array(inDim * total)
    let column = 0
    names.forEach((name, n) => {
      const t = transpose(w(`${name}.weight`), outDims[n]!, inDim)
      for (let r = 0; r < inDim; r++) packed.set(t.subarray(r * outDims[n]!, (r + 1) * outDims[n]!), r * total + column)
      column += outDims[n]!
    })
    let y = g.node("MatMul", [x, g.weight(`${names[0]}.packed`, [inDim, total], packed)])[0]!
    if (withBias) {
      const bias = new Float32Array(total)
      let at = 0
      names.forEach((name, n) => {
        bias.set(w(`${name}.bias`), at)
        at += outDims[n]!
      })
      y = g.node("Add", [y, g.weight(`${names[0]}.packed_bias`, [total], bias)])[0]!
    }
    return g.node("Split", [y, g.ints(outDims)], { axis: i(-1) }, { count: names.length })
  }

  // A tied embedding is also the output projection: one copy, read in place by the Gather and the Gemm.
  const embedding = g.weight("model.embed_tokens.weight", [vocab, H], w("model.embed_tokens.weight"), { shared: config.tie_word_embeddings === true })
  let residual: Residual = { value: g.node("Gather", [embedding, inputIds])[0]! }
  for (let l = 0; l < layers; l++) {
    const p = `model.layers.${l}.`
    const attnIn = normResidual(residual, g.weight(`${p}input_layernorm.weight`, [H], w(`${p}input_layernorm.weight`)))
    const project = (n: string, outDim: number) => {
      const y = g.node("MatMul", [attnIn.normed, linear(`${p}self_attn.${n}_proj.weight`, H, outDim)])[0]!
      return dims.qkvBias ? g.node("Add", [y, g.weight(`${p}self_attn.${n}_proj.bias`, [outDim], w(`${p}self_attn.${n}_proj.bias`))])[0]! : y
    }
    const [q, k, v] = has("packed")
      ? packedProjection(attnIn.normed, H, ["q", "k", "v"].map((n) => `${p}self_attn.${n}_proj`), [heads * D, kvHeads * D, kvHeads * D], dims.qkvBias)
      : [project("q", heads * D), project("k", kvHeads * D), project("v", kvHeads * D)]
    const attn = useRotary ? rotaryAttention(q, k, v, l) : attention(q, k, v, l, false)
    const attnOut = g.node("MatMul", [attn, linear(`${p}self_attn.o_proj.weight`, heads * D, H)])[0]!
    const mlpIn = normResidual({ value: [attnOut, attnIn.residual] }, g.weight(`${p}post_attention_layernorm.weight`, [H], w(`${p}post_attention_layernorm.weight`)))
    const [gate, up] = has("packed")
      ? packedProjection(mlpIn.normed, H, [`${p}mlp.gate_proj`, `${p}mlp.up_proj`], [intermediate, intermediate], false)
      : [`${p}mlp.gate_proj.weight`, `${p}mlp.up_proj.weight`].map((name) => g.node("MatMul", [mlpIn.normed, linear(name, H, intermediate)])[0]!)
    const act = g.node("Mul", [gate, g.node("Sigmoid", [gate])[0]!])[0]!
    const down = g.node("MatMul", [g.node("Mul", [act, up])[0]!, linear(`${p}mlp.down_proj.weight`, intermediate, H)])[0]!
    const steerInput = steer.get(l)
    residual = {
      value: [down, steerInput === undefined ? mlpIn.residual : g.node("Add", [mlpIn.residual, steerInput])[0]!],
      ...(options.hiddenLayers.includes(l) ? { returnedLayer: l } : {})
    }
  }
  const final = rmsNorm(resolve(residual), g.weight("model.norm.weight", [H], w("model.norm.weight")))
  const head = config.tie_word_embeddings === true ? embedding : g.weight("lm_head.weight", [vocab, H], w("lm_head.weight"))
  // Gemm takes the head [vocab, H] as stored (transB), so it needs no transposed copy; it multiplies matrices only.
  if (options.logits === "last") g.node("Gemm", [g.node("Gather", [final, g.ints([-1], [])], { axis: i(1) })[0]!, head], { transB: i(1) }, { outputs: ["logits"] })
  else {
    const rows = g.node("Gemm", [g.node("Reshape", [final, g.ints([-1, H])])[0]!, head], { transB: i(1) })[0]!
    const shape = g.node("Concat", [g.node("Shape", [inputIds])[0]!, g.ints([vocab])], { axis: i(0) })[0]!
    g.node("Reshape", [rows, shape], {}, { outputs: ["logits"] })
  }
  g.output("logits", ElemType.float, options.logits === "last" ? ["batch", vocab] : ["batch", "seq", vocab])
  g.node("Concat", presents, { axis: i(2) }, { outputs: ["present"] })
  g.output("present", ElemType.float, ["batch", "seq", 2 * layers * kvHeads * D])
  const hiddenLayers = stackedLayers(options.hiddenLayers)
  if (hiddenLayers.length > 0) {
    g.node("Concat", hiddenLayers.map((l) => returned.get(l)!), { axis: i(0) }, { outputs: ["hidden"] })
    g.output("hidden", ElemType.float, [hiddenLayers.length === 1 ? "batch" : `${hiddenLayers.length}*batch`, "seq", H])
  }
  return g
}

/**
 * A compiled model on disk: the `.onnx` path, its weights in `<path>.data` beside it (page-aligned, so onnxruntime maps
 * them rather than copying them); `nodes` is 0 when read from the cache.
 */
export interface CompiledModel {
  readonly path: string
  readonly nodes: number
}

/** The cache key of a compiled model: weights hash, options and compiler version. */
export const compileKey = (weightsHash: string, options: CompileOptions): string =>
  createHash("sha256")
    .update(JSON.stringify({
      compiler: 4,
      weightsHash,
      fusions: [...new Set(options.fusions)].sort(),
      logits: options.logits,
      hiddenLayers: [...options.hiddenLayers].sort((a, b) => a - b),
      steerLayers: [...options.steerLayers].sort((a, b) => a - b),
      dtype: options.dtype
    }))
    .digest("hex")
    .slice(0, 32)

/**
 * Compiles the checkpoint into `cacheDir` unless a model with the same key is already there and checks out against
 * its manifest (`<key>.json`: each file's hash, size and modification time; contents are rehashed when a time
 * changed). A damaged or unlisted graph is moved to the quarantine of `quarantineRoot` with one line and compiled
 * again. The manifest is written before the graph is renamed into place, so a graph never appears without it. The
 * weights are read one tensor at a time as the graph is built and written to its data file straight away.
 */
export const compileCached = (checkpoint: CheckpointFiles | Checkpoint, options: CompileOptions, cacheDir: string, quarantineRoot = cacheDir) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const key = compileKey(checkpoint.weightsHash, options)
    const target = path.join(cacheDir, `${key}.onnx`)
    const manifest = path.join(cacheDir, `${key}.json`)
    const dataFile = `${target}.data`
    if (yield* fs.exists(target)) {
      const problem = yield* Effect.try(() => checkManifest(manifest, cacheDir, false))
      if (problem === undefined) return { path: target, nodes: 0 } satisfies CompiledModel
      yield* setAsideIn(quarantineRoot, [target, dataFile, manifest], problem, "compiling it again")
    }
    yield* fs.makeDirectory(cacheDir, { recursive: true })
    const suffix = `.tmp-${process.pid}-${Date.now()}`
    const external = path.basename(dataFile)
    const g = yield* Effect.scoped(Effect.gen(function* () {
      const weights = "weights" in checkpoint ? checkpoint.weights : yield* openTensors(checkpoint)
      const fd = yield* Effect.acquireRelease(Effect.try(() => nodeFs.openSync(dataFile + suffix, "w")), (fd) => Effect.sync(() => nodeFs.closeSync(fd)))
      return yield* Effect.try({
        try: () => buildDecoder({ config: checkpoint.config, dims: checkpoint.dims, weights }, options, { location: external, write: (bytes) => writeAll(fd, bytes) }),
        catch: (e) => new CheckpointError({ dir: checkpoint.dir, field: "weights", reason: e instanceof Error ? e.message : String(e) })
      })
    })).pipe(Effect.tapError(() => fs.remove(dataFile + suffix).pipe(Effect.ignore)))
    yield* fs.rename(dataFile + suffix, dataFile)
    yield* fs.writeFile(target + suffix, g.encode(`decoder_${key}`).model)
    yield* Effect.try(() => {
      const files = stampFiles(cacheDir, [path.basename(target) + suffix, external])
      const { [path.basename(target) + suffix]: graph, ...rest } = files
      writeFileAtomic(manifest, recordText({ files: { [path.basename(target)]: graph!, ...rest } }))
    })
    yield* fs.rename(target + suffix, target)
    return { path: target, nodes: g.size() } satisfies CompiledModel
  })
