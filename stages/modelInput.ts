import { Effect, Schema } from "effect"
import type { LoadedOutputs } from "../pipeline/Artifact"
import { ModelPool } from "../model/ModelPool"
import { RuntimeConfig } from "../pipeline/Config"

/**
 * How a stage runs its model; only the parts that can change numbers (provider, dtype) enter keys. `checkpoint` is
 * the folder of a model outside the cache (its identity is the model input's fingerprint, never its path).
 */
export const RuntimeParams = Schema.Struct({ ...RuntimeConfig.fields, checkpoint: Schema.optional(Schema.String) })

/** The runtime parameters' contribution to a key. */
export const runtimeKey = (r: typeof RuntimeParams.Type) => ({ provider: r.provider, dtype: r.dtype })

/** The subject model behind a model input (the organism's checkpoint output, or an outside folder), loaded once per process. */
export const subjectModel = (model: LoadedOutputs, runtime: typeof RuntimeParams.Type) =>
  Effect.flatMap(ModelPool, (pool) =>
    pool.get(runtime.checkpoint ?? model.dir("checkpoint"), { provider: runtime.provider, dtype: runtime.dtype, batchSize: runtime.batchSize, threads: runtime.threads })
  )
