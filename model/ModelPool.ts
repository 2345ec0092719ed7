import { FileSystem } from "@effect/platform"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { Context, Effect, Layer, Scope } from "effect"
import * as path from "node:path"
import { CacheDir, cachePaths } from "../cache/CacheDir"
import { type ApiModelConfig, makeApiModel } from "./api/ApiModel"
import type { Transport } from "./api/Transport"
import { layerCheckpoint, type ModelError, SubjectModel } from "./SubjectModel"

/** How a pooled model runs (provider, weight dtype, batch size, threads). */
export interface PoolOptions {
  readonly provider: "cpu" | "cuda"
  readonly dtype: "float32" | "float16"
  readonly batchSize: number
  readonly threads?: number | undefined
}

type Model = Context.Tag.Service<SubjectModel>

/**
 * Loaded subject models by checkpoint folder, kept open for the whole process so that stages sharing a model load
 * and compile it once (compiled graphs are cached under the cache folder's `compiled/`), and API models by config,
 * so that every stage of a process shares one transport and its pacing.
 */
export class ModelPool extends Effect.Service<ModelPool>()("prefpipe/ModelPool", {
  scoped: Effect.gen(function* () {
    const { root } = yield* CacheDir
    const fs = yield* FileSystem.FileSystem
    const scope = yield* Effect.scope
    const lock = yield* Effect.makeSemaphore(1)
    const loaded = new Map<string, Effect.Effect<Model, ModelError>>()
    const load = (dir: string, options: PoolOptions) =>
      Layer.buildWithScope(
        layerCheckpoint({
          dir,
          cacheDir: cachePaths(root).compiled,
          quarantineRoot: root,
          provider: options.provider,
          dtype: options.dtype,
          batchSize: options.batchSize,
          ...(options.threads === undefined ? {} : { threads: options.threads })
        }),
        scope
      ).pipe(
        Effect.map((ctx) => Context.get(ctx, SubjectModel)),
        Effect.provideService(FileSystem.FileSystem, fs)
      )
    /** The model in a checkpoint folder, loaded on first use. */
    const get = (dir: string, options: PoolOptions): Effect.Effect<Model, ModelError> =>
      lock
        .withPermits(1)(
          Effect.gen(function* () {
            const key = JSON.stringify([path.resolve(dir), options])
            const existing = loaded.get(key)
            if (existing !== undefined) return existing
            const once = yield* Effect.cached(load(dir, options))
            loaded.set(key, once)
            return once
          })
        )
        .pipe(Effect.flatten)
    const apis = new Map<string, Effect.Effect<{ readonly model: Model; readonly transport: Transport }, ModelError>>()
    /** The model behind an API config and its transport, made on first use. */
    const api = (config: ApiModelConfig): Effect.Effect<{ readonly model: Model; readonly transport: Transport }, ModelError> =>
      lock
        .withPermits(1)(
          Effect.gen(function* () {
            const key = JSON.stringify(config)
            const existing = apis.get(key)
            if (existing !== undefined) return existing
            const once = yield* Effect.cached(makeApiModel(config).pipe(Scope.extend(scope)))
            apis.set(key, once)
            return once
          })
        )
        .pipe(Effect.flatten)
    return { get, api } as const
  }),
  dependencies: [NodeContext.layer]
}) {}
