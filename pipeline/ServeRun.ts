// What `pipeline serve` runs, imported by pipeline/ServeCommand.ts when the command runs.
import * as NodeContext from "@effect/platform-node/NodeContext"
import { Config, Console, Effect, Layer, Option } from "effect"
import * as path from "node:path"
import { CacheDir } from "../cache/CacheDir"
import { RowMemo } from "../cache/Memo"
import { readTensor } from "../model/Checkpoint"
import { serveRuntime } from "../model/Serve"
import { makeRuntime } from "../model/SubjectModel"
import { experimentGraph } from "../reports/experiment"
import { build, loadOutput } from "./Build"
import { experimentConfig } from "./Config"
import { ConfigError } from "./Errors"
import { resolve } from "./Graph"
import { Progress } from "./Progress"
import { projectRoot } from "./ProjectRoot"

/** The options of `pipeline serve`. */
export interface ServeOptions {
  readonly config: Option.Option<string>
  readonly checkpoint: Option.Option<string>
  readonly host: string
  readonly port: number
  readonly name: Option.Option<string>
  readonly batchSize: number
  readonly batchWaitMs: number
  readonly maxTokens: number
  readonly threads: Option.Option<number>
  readonly apiKeyEnv: Option.Option<string>
  readonly cache: Option.Option<string>
}

/**
 * The checkpoint folder an experiment's local model lives in: the organism built into the cache (run through the
 * engine, so a built one is reused), or a checkpoint folder; for an API model, its `activations.model`.
 */
const experimentCheckpoint = (file: string) =>
  Effect.gen(function* () {
    const { config } = yield* experimentConfig.load(file)
    const g = experimentGraph(config)
    if (g.localModel === undefined) {
      return yield* new ConfigError({ file, field: "activations.model", reason: "the model is served over HTTP and no local model is configured; there is nothing to serve" })
    }
    const checkpoint = g.localRuntime?.checkpoint
    if (typeof checkpoint === "string") return { dir: checkpoint, organism: false }
    const result = yield* build(yield* resolve(g.localModel), { concurrency: 1 })
    const output = yield* loadOutput(result.root.outputs.checkpoint!)
    if (output._tag !== "Files") return yield* new ConfigError({ file, field: "model", reason: "the organism stage gave no checkpoint folder" })
    return { dir: output.dir, organism: true }
  })

/** Serves the checkpoint until interrupted (the embeddings endpoint reads the input embedding table alone). */
export const runServe = (o: ServeOptions) =>
    Effect.gen(function* () {
      const source = Option.isSome(o.checkpoint)
        ? { dir: path.resolve(o.checkpoint.value), organism: false }
        : yield* experimentCheckpoint(path.resolve(Option.getOrElse(o.config, () => path.join(projectRoot, "experiments", "default.json"))))
      const { root } = yield* CacheDir
      const { checkpoint, runtime } = yield* makeRuntime({
        dir: source.dir,
        cacheDir: path.join(root, "compiled"),
        batchSize: o.batchSize,
        ...(Option.isSome(o.threads) ? { threads: o.threads.value } : {})
      })
      const apiKey = Option.isSome(o.apiKeyEnv) ? yield* Config.redacted(o.apiKeyEnv.value) : undefined
      const name = Option.getOrElse(o.name, () => (source.organism ? `organism-${checkpoint.weightsHash.slice(0, 12)}` : path.basename(source.dir)))
      const served = yield* serveRuntime(runtime, (yield* readTensor(checkpoint, "model.embed_tokens.weight"))?.data, {
        host: o.host,
        port: o.port,
        name,
        batchSize: o.batchSize,
        batchWaitMs: o.batchWaitMs,
        defaultMaxTokens: o.maxTokens,
        apiKey
      })
      yield* Console.log(`serving ${name} at ${served.url}`)
      return yield* Effect.never
    }).pipe(
      Effect.scoped,
      Effect.provide(
        Layer.unwrapEffect(
          Effect.sync(() => {
            const dir = CacheDir.layer(Option.getOrElse(o.cache, () => process.env.PIPELINE_CACHE ?? path.join(projectRoot, ".pipeline")))
            return Layer.mergeAll(dir, RowMemo.layerSqlite.pipe(Layer.provide(dir)), Progress.layerSilent, NodeContext.layer)
          })
        )
      )
    )
