/** onnxruntime sessions over compiled decoders, and one forward call with its feeds and outputs as typed arrays. */
import { Effect } from "effect"
import * as ort from "onnxruntime-node"
import type { Dimensions } from "./Checkpoint"

/** Execution providers a session can run on. */
export type Provider = "cpu" | "cuda"

/** A live decoder session with the dimensions its feeds need. */
export interface DecoderSession {
  readonly session: ort.InferenceSession
  readonly dims: Dimensions
  /** Whether the graph's attention can update a fixed-capacity cache in place (GroupQueryAttention's shared buffer). */
  readonly sharesCache: boolean
}

/**
 * Opens a session on a compiled `.onnx` file with all graph optimisations and two intra-op threads. Worker threads
 * block instead of spin-waiting unless `spin` is set: on a shared 2-core machine spinning threads starve each
 * other and made decode steps about 8× slower.
 */
export const openSession = (modelPath: string, dims: Dimensions, provider: Provider, threads = 2, spin = false, sharesCache = false) =>
  Effect.tryPromise({
    try: () =>
      ort.InferenceSession.create(modelPath, {
        executionProviders: provider === "cuda" ? ["cuda", "cpu"] : ["cpu"],
        graphOptimizationLevel: "all",
        intraOpNumThreads: threads,
        interOpNumThreads: 1,
        executionMode: "sequential",
        extra: { session: { intra_op: { allow_spinning: spin ? "1" : "0" } } }
      }),
    catch: (e) => (e instanceof Error ? e.message : String(e))
  }).pipe(Effect.map((session): DecoderSession => ({ session, dims, sharesCache })))

/**
 * The key/value cache of a batch, per layer `[B, kvHeads, T, headDim]` holding `length` positions. With
 * `capacity` > 0 the tensors are fixed buffers `[B, kvHeads, capacity, headDim]` that the session updates in place
 * (no copies between calls); otherwise each call returns new, longer tensors.
 */
export interface KvCache {
  readonly length: number
  readonly capacity: number
  readonly keys: ReadonlyArray<ort.Tensor>
  readonly values: ReadonlyArray<ort.Tensor>
}

/** An empty cache for `batch` rows; `capacity` > 0 asks for in-place buffers, used only when the session supports them. */
export const emptyCache = (dims: Dimensions, batch: number, capacity = 0, session?: DecoderSession): KvCache => {
  const size = session?.sharesCache === true ? capacity : 0
  const empty = () => new ort.Tensor("float32", new Float32Array(batch * dims.kvHeads * size * dims.headDim), [batch, dims.kvHeads, size, dims.headDim])
  return { length: 0, capacity: size, keys: Array.from({ length: dims.layers }, empty), values: Array.from({ length: dims.layers }, empty) }
}

/** One forward call's inputs: ids and positions `[B, S]`, mask `[B, cache+S]`, steering tensors `[B, S, hidden]` by layer. */
export interface ForwardInput {
  readonly batch: number
  readonly seq: number
  readonly inputIds: BigInt64Array
  readonly positionIds: BigInt64Array
  readonly attentionMask: BigInt64Array
  readonly cache: KvCache
  readonly steer?: ReadonlyMap<number, Float32Array>
}

/** One forward call's outputs. */
export interface ForwardOutput {
  readonly logits: Float32Array
  readonly cache: KvCache
  readonly hidden: ReadonlyMap<number, Float32Array>
}

/** Runs the decoder once; `hiddenLayers` names the `hidden.L` outputs to fetch. */
export const forward = (s: DecoderSession, input: ForwardInput, hiddenLayers: ReadonlyArray<number>): Effect.Effect<ForwardOutput, string> =>
  input.cache.capacity > 0 && input.cache.length + input.seq > input.cache.capacity
    ? Effect.fail(`forward: ${input.cache.length + input.seq} positions exceed the cache capacity ${input.cache.capacity}`)
      : Effect.tryPromise({
      try: async (): Promise<ForwardOutput> => {
        const { batch, seq, cache } = input
        const total = cache.length + seq
        const inPlace = cache.capacity > 0
        const feeds: Record<string, ort.Tensor> = {
          input_ids: new ort.Tensor("int64", input.inputIds, [batch, seq]),
          position_ids: new ort.Tensor("int64", input.positionIds, [batch, seq]),
          attention_mask: new ort.Tensor("int64", input.attentionMask, [batch, total])
        }
        for (let l = 0; l < s.dims.layers; l++) {
          feeds[`past.${l}.key`] = cache.keys[l]!
          feeds[`past.${l}.value`] = cache.values[l]!
        }
        for (const [l, data] of input.steer ?? []) feeds[`steer.${l}`] = new ort.Tensor("float32", data, [batch, seq, s.dims.hidden])
        let fetches: Record<string, ort.Tensor | null> | undefined
        if (inPlace) {
          fetches = { logits: null }
          for (let l = 0; l < s.dims.layers; l++) {
            fetches[`present.${l}.key`] = cache.keys[l]!
            fetches[`present.${l}.value`] = cache.values[l]!
          }
          for (const l of hiddenLayers) fetches[`hidden.${l}`] = null
        }
        const out = fetches === undefined ? await s.session.run(feeds) : await s.session.run(feeds, fetches as ort.InferenceSession.FetchesType)
        const hidden = new Map<number, Float32Array>()
        for (const l of hiddenLayers) hidden.set(l, out[`hidden.${l}`]!.data as Float32Array)
        return {
          logits: out.logits!.data as Float32Array,
          cache: inPlace ? { ...cache, length: total } : {
            length: total,
            capacity: 0,
            keys: Array.from({ length: s.dims.layers }, (_, l) => out[`present.${l}.key`]!),
            values: Array.from({ length: s.dims.layers }, (_, l) => out[`present.${l}.value`]!)
          },
          hidden
        }
      },
      catch: (e) => (e instanceof Error ? e.message : String(e))
    })
