import { HttpClient, HttpClientRequest } from "@effect/platform"
import { Clock, Config, Context, Duration, Effect, Layer, Option, Random, Redacted, Ref, Schema } from "effect"
import { hashValue, toKeyable } from "../core/Key"

/** One chat turn as OpenAI-compatible servers take it. */
export const ChatMessage = Schema.Struct({
  role: Schema.Literal("system", "user", "assistant"),
  content: Schema.String
})
/** One chat turn as OpenAI-compatible servers take it. */
export type ChatMessage = typeof ChatMessage.Type

/** Structured-output request passed through as `response_format`. */
export type ResponseFormat =
  | { readonly type: "json_object" }
  | { readonly type: "json_schema"; readonly json_schema: { readonly name: string; readonly schema: unknown; readonly strict?: boolean } }

/** A chat-completion request: the conversation and its sampling parameters. */
export interface ChatRequest {
  readonly messages: ReadonlyArray<ChatMessage>
  readonly temperature: number
  readonly maxTokens: number
  readonly responseFormat?: ResponseFormat
  /** Sent as `seed` and part of the memo key, so repeated samples of one prompt are distinct rows. */
  readonly seed?: number
}

/** The assistant's reply. */
export interface ChatCompletion {
  readonly text: string
}

/** Why a chat call failed; `retryAfterMs` carries a server's Retry-After when it sent one. */
export class ChatClientError extends Schema.TaggedError<ChatClientError>()("ChatClientError", {
  model: Schema.String,
  kind: Schema.Literal("unconfigured", "config", "rate_limited", "server", "timeout", "network", "http", "malformed"),
  status: Schema.optional(Schema.Number),
  retryAfterMs: Schema.optional(Schema.Number),
  reason: Schema.String
}) {
  get message() {
    const status = this.status === undefined ? "" : ` (HTTP ${this.status})`
    return `chat model ${this.model}: ${this.kind}${status}: ${this.reason}`
  }
}

/** The judge/parser port: an OpenAI-compatible chat model. */
export class ChatClient extends Context.Tag("prefpipe/ChatClient")<ChatClient, {
  readonly model: string
  readonly complete: (request: ChatRequest) => Effect.Effect<ChatCompletion, ChatClientError>
}>() {}

/** Row-level store of answered requests, keyed by `chatRequestKey`; errors are never stored. */
export class RequestMemo extends Context.Tag("prefpipe/RequestMemo")<RequestMemo, {
  readonly get: (key: string) => Effect.Effect<string | undefined>
  readonly set: (key: string, value: string) => Effect.Effect<void>
}>() {
  /** A memo that lives as long as the layer. */
  static readonly layerInMemory = Layer.sync(RequestMemo, () => {
    const entries = new Map<string, string>()
    return {
      get: (key: string) => Effect.sync(() => entries.get(key)),
      set: (key: string, value: string) => Effect.sync(() => void entries.set(key, value))
    }
  })
}

/** Connection and pacing settings of an OpenAI-compatible endpoint (vLLM, llama.cpp server, Ollama, hosted APIs). */
export const ChatClientConfig = Schema.Struct({
  /** Base URL up to and including the API version, e.g. `http://127.0.0.1:8000/v1`; `/chat/completions` is appended. */
  baseUrl: Schema.String,
  model: Schema.String,
  apiKey: Schema.optional(Schema.Redacted(Schema.String)),
  /** Name of an environment variable holding the API key, used when `apiKey` is absent. */
  apiKeyEnv: Schema.optional(Schema.String),
  maxConcurrency: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 4 }),
  timeoutMs: Schema.optionalWith(Schema.Number.pipe(Schema.positive()), { default: () => 60_000 }),
  maxRetries: Schema.optionalWith(Schema.Int.pipe(Schema.nonNegative()), { default: () => 4 }),
  /** First retry delay; later ones double, each scaled by a random factor in [0.5, 1.5). */
  backoffMs: Schema.optionalWith(Schema.Number.pipe(Schema.nonNegative()), { default: () => 500 })
})
/** Connection and pacing settings of an OpenAI-compatible endpoint. */
export type ChatClientConfig = typeof ChatClientConfig.Type


/** The memo key of a request: sha256 over a canonical encoding of the model, the messages and the sampling parameters. */
export const chatRequestKey = (model: string, request: ChatRequest): string =>
  hashValue(
    toKeyable({
      model,
      messages: request.messages.map((m) => ({ role: m.role, content: m.content })),
      temperature: request.temperature,
      maxTokens: request.maxTokens,
      responseFormat: request.responseFormat ?? null,
      seed: request.seed ?? null
    })
  )

const CompletionBody = Schema.Struct({
  choices: Schema.NonEmptyArray(Schema.Struct({
    message: Schema.Struct({ content: Schema.NullOr(Schema.String) })
  }))
})
const decodeCompletionBody = Schema.decodeUnknownEither(Schema.parseJson(CompletionBody))

const retryable = new Set<ChatClientError["kind"]>(["rate_limited", "server", "timeout", "network"])

/** Parses a Retry-After header (delta-seconds or an HTTP date) into milliseconds from `now`. */
const retryAfterMs = (header: string | undefined, now: number): number | undefined => {
  if (header === undefined) return undefined
  const seconds = Number(header)
  if (header.trim() !== "" && Number.isFinite(seconds)) return Math.max(0, seconds * 1000)
  const date = Date.parse(header)
  return Number.isNaN(date) ? undefined : Math.max(0, date - now)
}

const resolveApiKey = (config: ChatClientConfig): Effect.Effect<Option.Option<Redacted.Redacted<string>>, ChatClientError> => {
  if (config.apiKey !== undefined) return Effect.succeed(Option.some(config.apiKey))
  const env = config.apiKeyEnv
  if (env === undefined) return Effect.succeed(Option.none())
  return Config.redacted(env).pipe(
    Effect.map(Option.some),
    Effect.mapError(() =>
      new ChatClientError({ model: config.model, kind: "config", reason: `environment variable ${env} (named by apiKeyEnv) is not set` })
    )
  )
}

/**
 * A ChatClient over an OpenAI-compatible `/chat/completions` endpoint: at most `maxConcurrency` requests in flight,
 * a shared pause after a 429 (honouring Retry-After), jittered exponential retries on 5xx, timeouts and network
 * errors, answers memoized in `RequestMemo`.
 */
export const layerOpenAI = (config: ChatClientConfig): Layer.Layer<ChatClient, ChatClientError, RequestMemo> =>
  Layer.effect(
    ChatClient,
    Effect.gen(function*() {
      const apiKey = yield* resolveApiKey(config)
      const http = yield* HttpClient.HttpClient
      const memo = yield* RequestMemo
      const permits = yield* Effect.makeSemaphore(config.maxConcurrency)
      const pausedUntil = yield* Ref.make(0)
      const url = `${config.baseUrl.replace(/\/+$/, "")}/chat/completions`
      const model = config.model
      // Servers may echo request headers into error bodies; nothing we report may carry the key.
      const redact = (text: string): string =>
        Option.match(apiKey, {
          onNone: () => text,
          onSome: (key) => (Redacted.value(key) === "" ? text : text.split(Redacted.value(key)).join("[redacted]"))
        })
      const fail = (kind: ChatClientError["kind"], reason: string, extra: { status?: number; retryAfterMs?: number } = {}) =>
        new ChatClientError({ model, kind, reason: redact(reason), ...extra })

      const waitForPause = Effect.gen(function*() {
        const until = yield* Ref.get(pausedUntil)
        const now = yield* Clock.currentTimeMillis
        if (until > now) yield* Effect.sleep(Duration.millis(until - now))
      })

      const attempt = (body: unknown): Effect.Effect<ChatCompletion, ChatClientError> =>
        Effect.gen(function*() {
          const base = HttpClientRequest.post(url).pipe(HttpClientRequest.bodyUnsafeJson(body))
          const request = Option.match(apiKey, {
            onNone: () => base,
            onSome: (key) => HttpClientRequest.bearerToken(base, Redacted.value(key))
          })
          const response = yield* http.execute(request).pipe(
            Effect.mapError((e) => fail("network", e.message))
          )
          const text = yield* response.text.pipe(Effect.mapError((e) => fail("network", e.message)))
          const status = response.status
          if (status === 429) {
            const now = yield* Clock.currentTimeMillis
            const after = retryAfterMs(response.headers["retry-after"], now)
            return yield* fail("rate_limited", "too many requests", after === undefined ? { status } : { status, retryAfterMs: after })
          }
          if (status >= 500) return yield* fail("server", text.slice(0, 200), { status })
          if (status < 200 || status >= 300) return yield* fail("http", text.slice(0, 200), { status })
          const decoded = decodeCompletionBody(text)
          if (decoded._tag === "Left") return yield* fail("malformed", `response is not a chat completion: ${text.slice(0, 120)}`, { status })
          return { text: decoded.right.choices[0].message.content ?? "" }
        }).pipe(
          Effect.timeoutFail({
            duration: Duration.millis(config.timeoutMs),
            onTimeout: () => fail("timeout", `no complete answer within ${config.timeoutMs} ms`)
          }),
          permits.withPermits(1)
        )

      const withRetries = (body: unknown, done: number): Effect.Effect<ChatCompletion, ChatClientError> =>
        waitForPause.pipe(
          Effect.zipRight(attempt(body)),
          Effect.catchIf(
            (e) => retryable.has(e.kind) && done < config.maxRetries,
            (e) =>
              Effect.gen(function*() {
                const jitter = 0.5 + (yield* Random.next)
                const delay = e.retryAfterMs ?? config.backoffMs * 2 ** done * jitter
                if (e.kind === "rate_limited") {
                  const now = yield* Clock.currentTimeMillis
                  yield* Ref.update(pausedUntil, (until) => Math.max(until, now + delay))
                }
                yield* Effect.sleep(Duration.millis(delay))
                return yield* withRetries(body, done + 1)
              })
          )
        )

      const complete = (request: ChatRequest): Effect.Effect<ChatCompletion, ChatClientError> =>
        Effect.gen(function*() {
          const key = chatRequestKey(model, request)
          const hit = yield* memo.get(key)
          if (hit !== undefined) return { text: hit }
          const body = {
            model,
            messages: request.messages,
            temperature: request.temperature,
            max_tokens: request.maxTokens,
            ...(request.responseFormat === undefined ? {} : { response_format: request.responseFormat }),
            ...(request.seed === undefined ? {} : { seed: request.seed })
          }
          const answer = yield* withRetries(body, 0)
          yield* memo.set(key, answer.text)
          return answer
        })

      return { model, complete }
    })
  // undici loads with the first judge client, not with every stage that could use one.
  ).pipe(Layer.provide(Layer.unwrapEffect(Effect.promise(() => import("@effect/platform-node/NodeHttpClient")).pipe(Effect.map((m) => m.layerUndici)))))

/** A ChatClient for when no model is configured: every call fails, naming the config field to set. */
export const layerUnconfigured = (configField: string): Layer.Layer<ChatClient> =>
  Layer.succeed(ChatClient, {
    model: "unconfigured",
    complete: () =>
      Effect.fail(new ChatClientError({
        model: "unconfigured",
        kind: "unconfigured",
        reason: `no chat model is configured; set ${configField} (baseUrl and model) in the experiment config`
      }))
  })
