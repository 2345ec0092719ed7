import { Context, Deferred, Effect, Either, Layer, Option, Redacted, Schema } from "effect"
import { hashValue, toKeyable } from "../core/Key"
import { EndpointConfig, makeTransport, RetryFields, type TransportError } from "./api/Transport"

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

/** Why a chat call failed; `failure` is the short reason a failed row is counted under (`HTTP 500`, `timeout`). */
export class ChatClientError extends Schema.TaggedError<ChatClientError>()("ChatClientError", {
  model: Schema.String,
  kind: Schema.Literal("unconfigured", "config", "rate_limited", "server", "timeout", "network", "http", "malformed"),
  status: Schema.optional(Schema.Number),
  failure: Schema.String,
  reason: Schema.String
}) {
  get message() {
    return `chat model ${this.model}: ${this.reason}`
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
  baseUrl: EndpointConfig.fields.baseUrl,
  model: Schema.String,
  apiKey: Schema.optional(Schema.Redacted(Schema.String)),
  /** Name of an environment variable holding the API key, used when `apiKey` is absent. */
  apiKeyEnv: Schema.optional(Schema.String),
  maxConcurrency: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 4 }),
  ...RetryFields
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

/** The first choice's text of a chat completion, or what is malformed about the reply. */
export const decodeChatText = (json: unknown): Either.Either<string, string> => {
  const choices = (json as { choices?: unknown } | null)?.choices
  if (!Array.isArray(choices)) return Either.left("no choices")
  if (choices.length === 0) return Either.left("choices is empty")
  const content = (choices[0] as { message?: { content?: unknown } } | null)?.message?.content
  if (content === null) return Either.right("")
  return typeof content === "string" ? Either.right(content) : Either.left("choices[0].message.content is not a string")
}

/** A ChatClientError from a transport failure (the key is already redacted there). */
export const fromTransport = (model: string) => (e: TransportError): ChatClientError =>
  new ChatClientError({ model, kind: e.kind, ...(e.status === undefined ? {} : { status: e.status }), failure: e.failure, reason: e.message })

/**
 * A ChatClient over an OpenAI-compatible `/chat/completions` endpoint through the shared transport (adaptive
 * concurrency up to `maxConcurrency`, Retry-After, jittered retries of 408/409/429/5xx, timeouts, network errors and
 * malformed replies), answers memoized in `RequestMemo` as soon as they arrive.
 */
export const layerOpenAI = (config: ChatClientConfig): Layer.Layer<ChatClient, ChatClientError, RequestMemo> =>
  Layer.scoped(
    ChatClient,
    Effect.gen(function*() {
      const model = config.model
      const apiKey = config.apiKey === undefined ? undefined : Option.some(config.apiKey)
      const transport = yield* makeTransport(
        [{ baseUrl: config.baseUrl, ...(config.apiKeyEnv === undefined ? {} : { apiKeyEnv: config.apiKeyEnv }), maxConcurrency: config.maxConcurrency, ...(apiKey === undefined ? {} : { apiKey: Redacted.value(config.apiKey!) }) }],
        config
      ).pipe(Effect.mapError(fromTransport(model)))
      const memo = yield* RequestMemo
      // Identical requests in flight at once (many rows share a short answer) are asked once.
      const inflight = new Map<string, Deferred.Deferred<ChatCompletion, ChatClientError>>()

      const complete = (request: ChatRequest): Effect.Effect<ChatCompletion, ChatClientError> =>
        Effect.gen(function*() {
          const key = chatRequestKey(model, request)
          const hit = yield* memo.get(key)
          if (hit !== undefined) return { text: hit }
          const pending = inflight.get(key)
          if (pending !== undefined) return yield* Deferred.await(pending)
          const deferred = yield* Deferred.make<ChatCompletion, ChatClientError>()
          inflight.set(key, deferred)
          return yield* ask(key, request).pipe(
            Effect.onExit((exit) => Effect.zipRight(Effect.sync(() => inflight.delete(key)), Deferred.done(deferred, exit)))
          )
        })

      const ask = (key: string, request: ChatRequest): Effect.Effect<ChatCompletion, ChatClientError> =>
        Effect.gen(function*() {
          const body = {
            model,
            messages: request.messages,
            temperature: request.temperature,
            max_tokens: request.maxTokens,
            ...(request.responseFormat === undefined ? {} : { response_format: request.responseFormat }),
            ...(request.seed === undefined ? {} : { seed: request.seed })
          }
          const answer = yield* transport.post("chat/completions", body, decodeChatText).pipe(Effect.mapError(fromTransport(model)))
          yield* memo.set(key, answer.value)
          return { text: answer.value }
        })

      return { model, complete }
    })
  )

/** A ChatClient for when no model is configured: every call fails, naming the config field to set. */
export const layerUnconfigured = (configField: string): Layer.Layer<ChatClient> =>
  Layer.succeed(ChatClient, {
    model: "unconfigured",
    complete: () =>
      Effect.fail(new ChatClientError({
        model: "unconfigured",
        kind: "unconfigured",
        failure: "no judge configured",
        reason: `no chat model is configured; set ${configField} (baseUrl and model) in the experiment config`
      }))
  })
