import { Effect } from "effect"
import type { LoadedOutputs } from "../pipeline/Artifact"
import { ModelPool } from "../model/ModelPool"
import { RuntimeConfig } from "../pipeline/Config"

/** How a stage runs its model; only the parts that can change numbers (provider, dtype) enter keys. */
export const RuntimeParams = RuntimeConfig

/** The runtime parameters' contribution to a key. */
export const runtimeKey = (r: typeof RuntimeConfig.Type) => ({ provider: r.provider, dtype: r.dtype })

/** The subject model behind a model input (a checkpoint folder output), loaded once per process. */
export const subjectModel = (model: LoadedOutputs, runtime: typeof RuntimeConfig.Type) =>
  Effect.flatMap(ModelPool, (pool) => pool.get(model.dir("checkpoint"), runtime))
