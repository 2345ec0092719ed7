import { Effect, Schema } from "effect"
import type { LoadedOutputs } from "../pipeline/Artifact"
import { ApiModelConfig } from "../model/api/ApiModel"
import type { Transport } from "../model/api/Transport"
import { ModelPool } from "../model/ModelPool"
import { RuntimeConfig } from "../pipeline/Config"

/**
 * How a stage runs its model; only the parts that can change numbers enter keys (provider and dtype of a local model,
 * topLogprobs of an API model). `checkpoint` is the folder of a model outside the cache (its identity is the model
 * input's fingerprint, never its path); `api` is a model behind OpenAI-compatible servers (its identity is the
 * `api_model` input, its name; never its endpoints or keys).
 */
export const RuntimeParams = Schema.Struct({ ...RuntimeConfig.fields, checkpoint: Schema.optional(Schema.String), api: Schema.optional(ApiModelConfig) })

/** The runtime parameters' contribution to a key. */
export const runtimeKey = (r: typeof RuntimeParams.Type) => (r.api === undefined ? { provider: r.provider, dtype: r.dtype } : { topLogprobs: r.api.topLogprobs })

/**
 * The subject model behind a model input: the organism's checkpoint output or an outside folder, loaded once per
 * process, or the API model of the runtime parameters, one transport per process.
 */
export const subjectModel = (model: LoadedOutputs, runtime: typeof RuntimeParams.Type) =>
  Effect.flatMap(ModelPool, (pool) =>
    runtime.api !== undefined
      ? Effect.map(pool.api(runtime.api), (m) => m.model)
      : pool.get(runtime.checkpoint ?? model.dir("checkpoint"), { provider: runtime.provider, dtype: runtime.dtype, batchSize: runtime.batchSize, threads: runtime.threads })
  )

/** The transport of an API model (for its counters); undefined for a local model. */
export const modelTransport = (runtime: typeof RuntimeParams.Type): Effect.Effect<Transport | undefined, unknown, ModelPool> =>
  runtime.api === undefined ? Effect.succeed(undefined) : Effect.flatMap(ModelPool, (pool) => Effect.map(pool.api(runtime.api!), (m) => m.transport))
