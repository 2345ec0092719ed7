import { Effect, Either, Schema } from "effect"
import { Embeddings, EmbeddingsConfig, type EmbeddingsError, layerOpenAI } from "../model/api/Embeddings"
import * as Stage from "../pipeline/Stage"
import { contentOutputs } from "./contentFeatures"
import { taskRows } from "./taskRows"

/** Too many tasks could not be embedded; the ones answered are memoized, so a rerun asks only for the rest. */
export class EmbeddingFeaturesError extends Schema.TaggedError<EmbeddingFeaturesError>()("EmbeddingFeaturesError", {
  model: Schema.String,
  failed: Schema.Number,
  total: Schema.Number,
  reasons: Schema.Array(Schema.String)
}) {
  get message() {
    return `content embeddings from ${this.model}: ${this.failed} of ${this.total} tasks could not be embedded (more than content.embeddings.failOnError allows; the count stops at the first group of requests past it): ${this.reasons.join("; ")}. The answered ones are memoized; rebuild to ask for the rest`
  }
}

/** The server answered vectors of different widths across requests (endpoints serving different models). */
export class EmbeddingWidthsError extends Schema.TaggedError<EmbeddingWidthsError>()("EmbeddingWidthsError", {
  model: Schema.String,
  first: Schema.Struct({ task_id: Schema.String, width: Schema.Number }),
  other: Schema.Struct({ task_id: Schema.String, width: Schema.Number })
}) {
  get message() {
    return `content embeddings from ${this.model}: task ${this.first.task_id} has ${this.first.width} values but task ${this.other.task_id} has ${this.other.width}; check that every endpoint serves the same model`
  }
}

// A failure one text can cause (too long for the model, a vector the server could not make) is worth isolating; a
// refused key (401/403), an unknown model (404) or a rate limit is every text's, and splitting would only repeat it.
const rowSpecific = (e: EmbeddingsError) => e.failure.startsWith("malformed reply") || /^HTTP (400|413|422)\b/.test(e.failure)

/**
 * Each text's vector, or why it has none. When a request fails for a reason one text can cause, every text is asked
 * for alone: those in batches that were answered come back from the memo without a request, so only the failed
 * batches' texts are sent again, one per request, and the failing text is left alone with its reason. Any other
 * failure is every text's.
 */
const embedEach = (texts: ReadonlyArray<string>): Effect.Effect<Array<Either.Either<Float32Array, string>>, never, Embeddings> =>
  Effect.gen(function* () {
    const embeddings = yield* Embeddings
    const result = yield* Effect.either(embeddings.embed(texts))
    if (Either.isRight(result)) return result.right.map((v) => Either.right(v))
    if (texts.length === 1 || !rowSpecific(result.left)) return texts.map(() => Either.left(result.left.failure))
    return yield* Effect.forEach(
      texts,
      (text) => embeddings.embed([text]).pipe(Effect.map(([v]) => v!), Effect.mapError((e) => e.failure), Effect.either),
      { concurrency: "unbounded" }
    )
  })

/**
 * Content features from an OpenAI-compatible `/v1/embeddings` model: the task text embedded as it is. Requests go
 * through the shared transport (batches, retries, Retry-After, the key from `apiKeyEnv` only) and every answer is
 * memoized per model and text, so the key is the model's name alone, never a server or a key. A task the server
 * cannot embed is left out and named in `info` (the probes then use the other tasks); more than `failOnError` of
 * them fails the stage.
 */
export const contentEmbeddings = Stage.make({
  name: "content_embeddings",
  version: 1,
  params: Schema.Struct({ embeddings: EmbeddingsConfig, failOnError: Schema.Number.pipe(Schema.between(0, 1)) }),
  keyOf: ({ embeddings }) => ({ model: embeddings.model }),
  run: ({ inputs, params, progress }) =>
    Effect.gen(function* () {
      const tasks = taskRows(inputs.tasks!.table("tasks"))
      yield* progress.total(tasks.length)
      const chunk = params.embeddings.batchSize * 8
      const vectors: Array<{ task_id: string; vector: Float32Array }> = []
      const failed: Array<{ task_id: string; reason: string }> = []
      for (let start = 0; start < tasks.length; start += chunk) {
        const part = tasks.slice(start, start + chunk)
        const results = yield* embedEach(part.map((t) => t.prompt))
        results.forEach((r, i) =>
          Either.isRight(r) ? vectors.push({ task_id: part[i]!.task_id, vector: r.right }) : failed.push({ task_id: part[i]!.task_id, reason: r.left })
        )
        // Past the allowed share there is no point asking for the rest (a server down, a refused key).
        if (failed.length > params.failOnError * tasks.length) break
        yield* progress.done(start + part.length)
      }
      if (failed.length > params.failOnError * tasks.length || vectors.length === 0) {
        const reasons = [...new Set(failed.map((f) => f.reason))].slice(0, 5)
        return yield* new EmbeddingFeaturesError({ model: params.embeddings.model, failed: failed.length, total: tasks.length, reasons })
      }
      const dim = vectors[0]!.vector.length
      const ragged = vectors.find((v) => v.vector.length !== dim)
      if (ragged !== undefined) {
        return yield* new EmbeddingWidthsError({
          model: params.embeddings.model, first: { task_id: vectors[0]!.task_id, width: dim }, other: { task_id: ragged.task_id, width: ragged.vector.length }
        })
      }
      return contentOutputs(vectors.map((v) => v.task_id), vectors.map((v) => v.vector), {
        provider: "embeddings", dim, tasks: tasks.length, model: params.embeddings.model, failed: failed.length, failures: failed.slice(0, 50)
      })
    }).pipe(Effect.provide(layerOpenAI(params.embeddings)))
})
