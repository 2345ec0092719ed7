/** onnxruntime sessions over compiled decoders, and one forward call with its feeds and outputs as typed arrays. */
import { Effect } from "effect"
import type * as Ort from "onnxruntime-node"
import type { Dimensions } from "./Checkpoint"
import { stackedLayers } from "./Compile"
import { onnxRuntime } from "./onnxModules"

/** Execution providers a session can run on. */
export type Provider = "cpu" | "cuda"

/** A live decoder session with the dimensions its feeds need. */
export interface DecoderSession {
  readonly session: Ort.InferenceSession
  readonly dims: Dimensions
}

/**
 * Opens a session on a compiled `.onnx` file with all graph optimisations. Worker threads block instead of
 * spin-waiting unless `spin` is set: on a shared 2-core machine spinning threads starve each other and made decode
 * steps about 8× slower.
 */
export const openSession = (modelPath: string, dims: Dimensions, provider: Provider, threads = 1, spin = false) =>
  Effect.tryPromise({
    try: () =>
      onnxRuntime().InferenceSession.create(modelPath, {
        executionProviders: provider === "cuda" ? ["cuda", "cpu"] : ["cpu"],
        graphOptimizationLevel: "all",
        intraOpNumThreads: threads,
        interOpNumThreads: 1,
        executionMode: "sequential",
        // Errors only: onnxruntime warns on every open that a shared weight (Graph's `shared`) is not a constant.
        logSeverityLevel: 3,
        extra: { session: { intra_op: { allow_spinning: spin ? "1" : "0" } } }
      }),
    catch: (e) => (e instanceof Error ? e.message : String(e))
  }).pipe(Effect.map((session): DecoderSession => ({ session, dims })))

/**
 * The key/value cache of a batch: per layer `[B, kvHeads, capacity, headDim]` slots, of which the first `length`
 * are filled, and `mask` `[B, capacity]` marking the slots that hold real (not padding) tokens. `forward` writes
 * the new tokens' keys and values into the slots in place, so a cache is used once: pass on the one it returns.
 */
export interface KvCache {
  readonly batch: number
  readonly length: number
  readonly capacity: number
  readonly keys: ReadonlyArray<Ort.Tensor>
  readonly values: ReadonlyArray<Ort.Tensor>
  readonly mask: Ort.Tensor
}

/**
 * Capacities are multiples of this. A full cache grows by half, so each token is copied O(1) times on average while
 * attention, which runs over every slot, never sees more than half as many empty slots as filled ones (plus a chunk).
 */
const slotChunk = 32

const slotTensors = (dims: Dimensions, batch: number, capacity: number) => {
  const tensor = () => new (onnxRuntime().Tensor)("float32", new Float32Array(batch * dims.kvHeads * capacity * dims.headDim), [batch, dims.kvHeads, capacity, dims.headDim])
  return {
    keys: Array.from({ length: dims.layers }, tensor),
    values: Array.from({ length: dims.layers }, tensor),
    mask: new (onnxRuntime().Tensor)("int64", new BigInt64Array(batch * capacity), [batch, capacity])
  }
}

/** An empty cache for `batch` rows with room for `capacity` tokens (it grows when a call needs more). */
export const emptyCache = (dims: Dimensions, batch: number, capacity = 0): KvCache => {
  const size = Math.ceil(Math.max(1, capacity) / slotChunk) * slotChunk
  return { batch, length: 0, capacity: size, ...slotTensors(dims, batch, size) }
}

/** A cache of `rows.length` rows, row r a copy of `cache` row `rows[r]`, with room for `needed` slots. */
export const selectRows = (dims: Dimensions, cache: KvCache, rows: ReadonlyArray<number>, needed = cache.length): KvCache => {
  const { length, capacity: old } = cache
  const out = emptyCache(dims, rows.length, needed)
  const span = old * dims.headDim
  const copyRows = (from: Ort.Tensor, to: Ort.Tensor) => {
    const src = from.data as Float32Array
    const dst = to.data as Float32Array
    rows.forEach((row, r) => {
      for (let h = 0; h < dims.kvHeads; h++) {
        const at = (row * dims.kvHeads + h) * span
        dst.set(src.subarray(at, at + length * dims.headDim), (r * dims.kvHeads + h) * out.capacity * dims.headDim)
      }
    })
  }
  for (let l = 0; l < dims.layers; l++) {
    copyRows(cache.keys[l]!, out.keys[l]!)
    copyRows(cache.values[l]!, out.values[l]!)
  }
  const srcMask = cache.mask.data as BigInt64Array
  const dstMask = out.mask.data as BigInt64Array
  rows.forEach((row, r) => dstMask.set(srcMask.subarray(row * old, row * old + length), r * out.capacity))
  return { ...out, length }
}

/**
 * One cache holding the rows of several (row r a copy of `caches[r]`'s row `rows[r]`, default 0), each row's slots from
 * slot 0: a shorter row's slots past its own length are masked off, so it attends over its own tokens only.
 */
export const stackCaches = (dims: Dimensions, caches: ReadonlyArray<KvCache>, rows: ReadonlyArray<number> = caches.map(() => 0)): KvCache => {
  const length = Math.max(0, ...caches.map((c) => c.length))
  const out = emptyCache(dims, caches.length, length)
  const D = dims.headDim
  caches.forEach((cache, r) => {
    const row = rows[r]!
    for (let l = 0; l < dims.layers; l++) {
      for (const [from, to] of [[cache.keys[l]!, out.keys[l]!], [cache.values[l]!, out.values[l]!]] as const) {
        const src = from.data as Float32Array
        const dst = to.data as Float32Array
        for (let h = 0; h < dims.kvHeads; h++) {
          const at = (row * dims.kvHeads + h) * cache.capacity * D
          dst.set(src.subarray(at, at + cache.length * D), (r * dims.kvHeads + h) * out.capacity * D)
        }
      }
    }
    ;(out.mask.data as BigInt64Array).set((cache.mask.data as BigInt64Array).subarray(row * cache.capacity, row * cache.capacity + cache.length), r * out.capacity)
  })
  return { ...out, length }
}

/** The cache with room for `needed` slots: itself, or a larger copy. */
const reserve = (dims: Dimensions, cache: KvCache, needed: number): KvCache =>
  needed <= cache.capacity ? cache : selectRows(dims, cache, Array.from({ length: cache.batch }, (_, b) => b), Math.max(needed, 1.5 * cache.capacity))

/** Writes the new tokens' keys/values (`present` `[B, S, layers·2·kvHeads·D]`) and mask into slots `length..length+S`. */
const writeSlots = (dims: Dimensions, cache: KvCache, present: Float32Array, mask: BigInt64Array, seq: number): KvCache => {
  const { batch, length, capacity } = cache
  const { headDim: D, kvHeads } = dims
  const targets: Float32Array[] = []
  for (let l = 0; l < dims.layers; l++) targets.push(cache.keys[l]!.data as Float32Array, cache.values[l]!.data as Float32Array)
  let src = 0
  for (let b = 0; b < batch; b++)
    for (let s = 0; s < seq; s++)
      for (const dst of targets)
        for (let h = 0; h < kvHeads; h++) {
          const at = ((b * kvHeads + h) * capacity + length + s) * D
          for (let k = 0; k < D; k++) dst[at + k] = present[src + k]!
          src += D
        }
  const slots = cache.mask.data as BigInt64Array
  for (let b = 0; b < batch; b++)
    for (let s = 0; s < seq; s++) slots[b * capacity + length + s] = mask[b * seq + s]!
  return { ...cache, length: length + seq }
}

/**
 * One forward call's inputs: ids, positions and mask `[B, S]` of the new tokens (mask 0 marks left padding), the
 * cache of the tokens before them, steering tensors `[B, S, hidden]` by layer.
 */
export interface ForwardInput {
  readonly batch: number
  readonly seq: number
  readonly inputIds: BigInt64Array
  readonly positionIds: BigInt64Array
  readonly attentionMask: BigInt64Array
  readonly cache: KvCache
  readonly steer?: ReadonlyMap<number, Float32Array>
}

/** The input of one unpadded sequence, from an empty cache with room for it. */
export const sequenceInput = (dims: Dimensions, ids: ReadonlyArray<number>): ForwardInput => ({
  batch: 1,
  seq: ids.length,
  inputIds: BigInt64Array.from(ids, BigInt),
  positionIds: BigInt64Array.from(ids, (_, i) => BigInt(i)),
  attentionMask: new BigInt64Array(ids.length).fill(1n),
  cache: emptyCache(dims, 1, ids.length)
})

/** One forward call's outputs. */
export interface ForwardOutput {
  readonly logits: Float32Array
  readonly cache: KvCache
  readonly hidden: ReadonlyMap<number, Float32Array>
}

/** Runs the decoder once; `hiddenLayers` are the layers the session was compiled to return (fetched when not empty). */
export const forward = (s: DecoderSession, input: ForwardInput, hiddenLayers: ReadonlyArray<number>): Effect.Effect<ForwardOutput, string> =>
  input.cache.batch !== input.batch
    ? Effect.fail(`forward: a cache of ${input.cache.batch} rows for a batch of ${input.batch}`)
    : Effect.tryPromise({
      try: async (): Promise<ForwardOutput> => {
        const { batch, seq } = input
        const cache = reserve(s.dims, input.cache, input.cache.length + seq)
        // An empty cache goes in as zero slots, so a prefill attends over its own tokens only.
        const past = cache.length === 0 ? slotTensors(s.dims, batch, 0) : cache
        const feeds: Record<string, Ort.Tensor> = {
          input_ids: new (onnxRuntime().Tensor)("int64", input.inputIds, [batch, seq]),
          position_ids: new (onnxRuntime().Tensor)("int64", input.positionIds, [batch, seq]),
          attention_mask: new (onnxRuntime().Tensor)("int64", input.attentionMask, [batch, seq]),
          past_mask: past.mask
        }
        for (let l = 0; l < s.dims.layers; l++) {
          feeds[`past.${l}.key`] = past.keys[l]!
          feeds[`past.${l}.value`] = past.values[l]!
        }
        for (const [l, data] of input.steer ?? []) feeds[`steer.${l}`] = new (onnxRuntime().Tensor)("float32", data, [batch, seq, s.dims.hidden])
        const layers = stackedLayers(hiddenLayers)
        const out = await s.session.run(feeds, layers.length === 0 ? ["logits", "present"] : ["logits", "present", "hidden"])
        const hidden = new Map<number, Float32Array>()
        if (layers.length > 0) {
          const stacked = out.hidden!.data as Float32Array
          const size = batch * seq * s.dims.hidden
          if (stacked.length !== layers.length * size) throw new Error(`forward: the session returns ${stacked.length / size} hidden layers, not the ${layers.length} asked for`)
          layers.forEach((l, k) => hidden.set(l, stacked.subarray(k * size, (k + 1) * size)))
        }
        return {
          logits: out.logits!.data as Float32Array,
          cache: writeSlots(s.dims, cache, out.present!.data as Float32Array, input.attentionMask, seq),
          hidden
        }
      },
      catch: (e) => (e instanceof Error ? e.message : String(e))
    })
