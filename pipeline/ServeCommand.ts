import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Effect from "effect/Effect"

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
  // The model, the engine and the server load when the command runs, not with every command.
  (o) => Effect.flatMap(Effect.promise(() => import("./ServeRun")), (m) => m.runServe(o))
).pipe(Command.withDescription("serve an experiment's organism or a checkpoint over an OpenAI-compatible HTTP API (chat completions, models, tokenize, embeddings)"))
