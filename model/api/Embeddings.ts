/** Text embeddings from any OpenAI-compatible `/embeddings` endpoint, over the shared transport, memoized per text. */
import { Context, Effect, Either, Layer, Schema } from "effect"
import { memoWriter, RowMemo } from "../../cache/Memo"
import { hashValue } from "../../core/Key"
import { EndpointConfig, makeTransport, RetryFields, type TransportCounters, type TransportError } from "./Transport"

/** An embeddings model: its served name, its servers, and how many texts one request carries. */
export const EmbeddingsConfig = Schema.Struct({
  model: Schema.NonEmptyString,
  endpoints: Schema.Array(EndpointConfig).pipe(Schema.minItems(1)),
  batchSize: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 2048)), { default: () => 64 }),
  ...RetryFields
})
/** An embeddings model and its servers. */
export type EmbeddingsConfig = typeof EmbeddingsConfig.Type

/** Texts could not be embedded (a request still failing after its retries); `failure` is its short reason. */
export class EmbeddingsError extends Schema.TaggedError<EmbeddingsError>()("EmbeddingsError", {
  model: Schema.String,
  failure: Schema.String,
  reason: Schema.String,
  /** How many of the texts asked for could not be embedded (the others are memoized). */
  failed: Schema.Number
}) {
  get message() {
    return `embeddings ${this.model}: ${this.failed} texts not embedded: ${this.reason}`
  }
}

/** The embeddings port: one vector per text, in order. */
export class Embeddings extends Context.Tag("prefpipe/Embeddings")<Embeddings, {
  readonly model: string
  readonly embed: (texts: ReadonlyArray<string>) => Effect.Effect<Float32Array[], EmbeddingsError>
  readonly counters: () => TransportCounters | undefined
}>() {}

/** The vectors of an `/embeddings` reply for `count` inputs, in input order, or what is malformed about it. */
export const decodeEmbeddings = (count: number) => (json: unknown): Either.Either<Float32Array[], string> => {
  const data = (json as { data?: unknown } | null)?.data
  if (!Array.isArray(data)) return Either.left("no data list")
  if (data.length !== count) return Either.left(`${data.length} embeddings for ${count} inputs`)
  const out: Array<Float32Array | undefined> = Array.from({ length: count }, () => undefined)
  for (const [i, item] of data.entries()) {
    const { embedding, index } = (item ?? {}) as { embedding?: unknown; index?: unknown }
    const at = typeof index === "number" ? index : i
    if (!Number.isInteger(at) || at < 0 || at >= count || out[at] !== undefined) return Either.left(`data.${i}.index is not a distinct input index`)
    if (!Array.isArray(embedding) || embedding.length === 0 || !embedding.every((x) => typeof x === "number" && Number.isFinite(x))) {
      return Either.left(`data.${i}.embedding is not a list of numbers`)
    }
    out[at] = Float32Array.from(embedding as number[])
  }
  const width = out[0]!.length
  const ragged = out.findIndex((v) => v!.length !== width)
  return ragged >= 0 ? Either.left(`data has embeddings of ${width} and ${out[ragged]!.length} values`) : Either.right(out as Float32Array[])
}

const toBase64 = (v: Float32Array) => Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("base64")
const fromBase64 = (s: string) => {
  const bytes = Buffer.from(s, "base64")
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength))
}

/**
 * Embeddings over OpenAI-compatible servers: texts already embedded come from the row memo (keyed by the model name
 * and the text, never the server or key), the others go in requests of `batchSize` texts, as many at once as the
 * fleet takes, and each answered request is stored before anything else can fail. A request still failing after its
 * retries fails the call with the reason; what was answered stays memoized, so a rerun asks only the rest.
 */
export const layerOpenAI = (config: EmbeddingsConfig): Layer.Layer<Embeddings, EmbeddingsError, RowMemo> =>
  Layer.scoped(
    Embeddings,
    Effect.gen(function* () {
      const fail = (e: TransportError, failed: number) => new EmbeddingsError({ model: config.model, failure: e.failure, reason: e.message, failed })
      const transport = yield* makeTransport(config.endpoints, config).pipe(Effect.mapError((e) => fail(e, 0)))
      const memo = yield* RowMemo
      const namespace = `embeddings/1/${config.model}`
      const writer = yield* memoWriter(namespace)
      const embed = (texts: ReadonlyArray<string>): Effect.Effect<Float32Array[], EmbeddingsError> =>
        Effect.gen(function* () {
          const keys = texts.map((t) => hashValue(["embedding", config.model, t]))
          const found = yield* memo.getMany(namespace, keys).pipe(Effect.orElseSucceed(() => new Map<string, string>()))
          const out: Array<Float32Array | undefined> = keys.map((k) => {
            const v = writer.pending(k) ?? found.get(k)
            return v === undefined ? undefined : fromBase64(v)
          })
          // Each distinct missing text once, in requests of batchSize.
          const missing = [...new Set(keys.flatMap((k, i) => (out[i] === undefined ? [k] : [])))]
          const textOf = new Map(keys.map((k, i) => [k, texts[i]!]))
          const batches: string[][] = []
          for (let i = 0; i < missing.length; i += config.batchSize) batches.push(missing.slice(i, i + config.batchSize))
          const results = yield* Effect.forEach(
            batches,
            (batch) =>
              transport.post("embeddings", { model: config.model, input: batch.map((k) => textOf.get(k)!), encoding_format: "float" }, decodeEmbeddings(batch.length)).pipe(
                Effect.tap(({ value }) => writer.put(batch.map((k, j) => [k, toBase64(value[j]!)] as const)).pipe(Effect.ignore)),
                Effect.map(({ value }) => new Map(batch.map((k, j) => [k, value[j]!]))),
                Effect.either
              ),
            { concurrency: "unbounded" }
          )
          const errors = results.flatMap((r, b) => (Either.isLeft(r) ? [[r.left, batches[b]!.length] as const] : []))
          if (errors.length > 0) return yield* fail(errors[0]![0], errors.reduce((a, [, n]) => a + n, 0))
          const fresh = new Map(results.flatMap((r) => (Either.isRight(r) ? [...r.right.entries()] : [])))
          return keys.map((k, i) => out[i] ?? fresh.get(k)!)
        })
      return { model: config.model, embed, counters: () => transport.counters() }
    })
  )
