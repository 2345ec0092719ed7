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
}

/**
 * Opens a session on a compiled `.onnx` file with all graph optimisations and two intra-op threads. Worker threads
 * block instead of spin-waiting unless `spin` is set: on a shared 2-core machine spinning threads starve each
 * other and made decode steps about 8× slower.
 */
export const openSession = (modelPath: string, dims: Dimensions, provider: Provider, threads = 2, spin = false) =>
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
  }).pipe(Effect.map((session): DecoderSession => ({ session, dims })))

/** The key/value cache of a batch: per layer `[B, kvHeads, T, headDim]`. */
export interface KvCache {
  readonly length: number
  readonly keys: ReadonlyArray<ort.Tensor>
  readonly values: ReadonlyArray<ort.Tensor>
}

/** An empty cache for `batch` rows. */
export const emptyCache = (dims: Dimensions, batch: number): KvCache => {
  const empty = () => new ort.Tensor("float32", new Float32Array(0), [batch, dims.kvHeads, 0, dims.headDim])
  return { length: 0, keys: Array.from({ length: dims.layers }, empty), values: Array.from({ length: dims.layers }, empty) }
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
export const forward = (s: DecoderSession, input: ForwardInput, hiddenLayers: ReadonlyArray<number>) =>
  Effect.tryPromise({
    try: async (): Promise<ForwardOutput> => {
      const { batch, seq, cache } = input
      const total = cache.length + seq
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
      const out = await s.session.run(feeds)
      const hidden = new Map<number, Float32Array>()
      for (const l of hiddenLayers) hidden.set(l, out[`hidden.${l}`]!.data as Float32Array)
      return {
        logits: out.logits!.data as Float32Array,
        cache: {
          length: total,
          keys: Array.from({ length: s.dims.layers }, (_, l) => out[`present.${l}.key`]!),
          values: Array.from({ length: s.dims.layers }, (_, l) => out[`present.${l}.value`]!)
        },
        hidden
      }
    },
    catch: (e) => (e instanceof Error ? e.message : String(e))
  })
