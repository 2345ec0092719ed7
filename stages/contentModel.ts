import { Effect, Schema } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { CheckpointError } from "../model/Checkpoint"
import { meanEmbeddings, openInputEmbeddings } from "../model/InputEmbeddings"
import { makeTokenizer } from "../model/Tokenizer"
import * as Stage from "../pipeline/Stage"
import { contentOutputs } from "./contentFeatures"
import { taskRows } from "./taskRows"

const readJson = (dir: string, name: string, optional: boolean) =>
  Effect.try({
    try: () => {
      const file = path.join(dir, name)
      if (optional && !fs.existsSync(file)) return {}
      return JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>
    },
    catch: (e) => new CheckpointError({ dir, field: name, reason: e instanceof Error ? e.message : String(e) })
  })

/**
 * Content features from the subject model's own input embeddings: each task's text tokenized alone (no chat
 * template, no special tokens) and the embedding rows of its tokens averaged, so nothing beyond lookup touches it.
 * `checkpoint` is the folder of a model outside the cache (its identity is the model input's fingerprint, never its
 * path); without it the model input's `checkpoint` folder (the organism) is read.
 */
export const contentModel = Stage.make({
  name: "content_model",
  version: 1,
  params: Schema.Struct({ checkpoint: Schema.optional(Schema.String) }),
  keyOf: () => ({}),
  run: ({ inputs, params, progress }) =>
    Effect.scoped(
      Effect.gen(function* () {
        const dir = params.checkpoint ?? inputs.model!.dir("checkpoint")
        const tasks = taskRows(inputs.tasks!.table("tasks"))
        yield* progress.total(tasks.length)
        const tokenizer = makeTokenizer(yield* readJson(dir, "tokenizer.json", false), yield* readJson(dir, "tokenizer_config.json", true))
        const tokens = tasks.map((t) => tokenizer.encode(t.prompt, false))
        const empty = tasks.findIndex((_, i) => tokens[i]!.length === 0)
        if (empty >= 0) return yield* Effect.fail(new Error(`task ${tasks[empty]!.task_id}: its prompt has no tokens under the model's tokenizer, so it has no mean input embedding`))
        const embeddings = yield* openInputEmbeddings(dir)
        const vectors = yield* Effect.try({
          try: () => meanEmbeddings(embeddings, tokens),
          catch: (e) => new CheckpointError({ dir, field: "model.embed_tokens.weight", reason: e instanceof Error ? e.message : String(e) })
        })
        yield* progress.done(tasks.length)
        return contentOutputs(tasks.map((t) => t.task_id), vectors, {
          provider: "model", dim: embeddings.dim, tasks: tasks.length,
          tokens: tokens.reduce((n, t) => n + t.length, 0), distinct_tokens: new Set(tokens.flat()).size
        })
      })
    )
})
