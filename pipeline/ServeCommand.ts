import { Command, Options } from "@effect/cli"
import { NodeContext } from "@effect/platform-node"
import { Config, Console, Effect, Layer, Option } from "effect"
import * as path from "node:path"
import { CacheDir } from "../cache/CacheDir"
import { RowMemo } from "../cache/Memo"
import { serveRuntime } from "../model/Serve"
import { makeRuntime } from "../model/SubjectModel"
import { experimentGraph } from "../reports/experiment"
import { build, loadOutput } from "./Build"
import { experimentConfig } from "./Config"
import { ConfigError } from "./Errors"
import { resolve } from "./Graph"
import { Progress } from "./Progress"
import { projectRoot } from "./Target"

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

/**
 * `pipeline serve`: an OpenAI-compatible server over an experiment's organism (or local model) or a checkpoint
 * folder, on 127.0.0.1 unless told otherwise, until interrupted.
 */
export const serveCommand = Command.make(
  "serve",
  {
    config: Options.file("config").pipe(Options.withDescription("experiment config whose organism (or local model) to serve (default: experiments/default.json)"), Options.optional),
    checkpoint: Options.directory("checkpoint").pipe(Options.withDescription("a Hugging Face checkpoint folder to serve instead"), Options.optional),
    host: Options.text("host").pipe(Options.withDescription("interface to listen on"), Options.withDefault("127.0.0.1")),
    port: Options.integer("port").pipe(Options.withDescription("port (0: any free one; the address is printed)"), Options.withDefault(8000)),
    name: Options.text("name").pipe(
      Options.withDescription("model name clients send (default: organism-<weights hash> for an organism, the folder's name for a checkpoint)"),
      Options.optional
    ),
    batchSize: Options.integer("batch-size").pipe(Options.withDescription("requests per forward batch"), Options.withDefault(32)),
    batchWaitMs: Options.integer("batch-wait-ms").pipe(Options.withDescription("how long an idle server waits to fill a batch"), Options.withDefault(2)),
    maxTokens: Options.integer("max-tokens").pipe(Options.withDescription("max_tokens of requests that give none"), Options.withDefault(256)),
    threads: Options.integer("threads").pipe(Options.withDescription("onnxruntime intra-op threads"), Options.optional),
    apiKeyEnv: Options.text("api-key-env").pipe(Options.withDescription("environment variable holding a key every request must carry as a Bearer token"), Options.optional),
    cache: Options.directory("cache").pipe(Options.withDescription("cache folder (default: $PIPELINE_CACHE or .pipeline/ in the project)"), Options.optional)
  },
  (o) =>
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
      const served = yield* serveRuntime(runtime, checkpoint.weights.get("model.embed_tokens.weight")?.data, {
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
).pipe(Command.withDescription("serve an experiment's organism or a checkpoint over an OpenAI-compatible HTTP API (chat completions, models, tokenize, embeddings)"))
