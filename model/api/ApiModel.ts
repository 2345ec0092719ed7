/** The subject model served by a fleet of OpenAI-compatible servers (vLLM, OpenRouter, llama.cpp, Ollama). */
import { type Context, Effect, Schema } from "effect"
import type { Generation, GenerateRequest } from "../Generate"
import { ModelError, type SubjectModel } from "../SubjectModel"
import { decodeChatReply, optionProbsFrom } from "./ChatCompletions"
import { EndpointConfig, makeTransport, RetryFields, type Transport, type TransportError } from "./Transport"

/** `"model": { "kind": "api", ... }`: a model by the name its servers serve it under, and the servers. */
export const ApiModelConfig = Schema.Struct({
  kind: Schema.Literal("api"),
  /**
   * The served model name (`meta-llama/Llama-3.1-8B-Instruct`). With the messages and the sampling fields it is all a
   * row's memo key holds about the model: moving from one server to a fleet of the same model reuses every answer.
   */
  model: Schema.NonEmptyString,
  endpoints: Schema.Array(EndpointConfig).pipe(Schema.minItems(1)),
  /** `top_logprobs` asked for when a template has options (OpenAI and vLLM allow up to 20 by default); 0 asks for none. */
  topLogprobs: Schema.optionalWith(Schema.Int.pipe(Schema.between(0, 100)), { default: () => 20 }),
  ...RetryFields
})
/** A model behind OpenAI-compatible servers. */
export type ApiModelConfig = typeof ApiModelConfig.Type

/** The error of an API request, with the transport's short reason as the row's failure. */
export const modelErrorOf = (model: string) => (e: TransportError): ModelError => new ModelError({ model, reason: e.message, failure: e.failure })

const localOnly = (model: string, what: string) =>
  Effect.fail(
    new ModelError({
      model,
      reason: `${what} needs the model's weights in-process, and ${model} is served over HTTP; set activations.model to a local checkpoint of the same model`
    })
  )

/** The chat-completions body of a generation request. */
export const chatBody = (model: string, request: GenerateRequest, topLogprobs: number) => {
  const wantsOptions = request.options !== undefined && request.options.length > 0 && topLogprobs > 0
  const top = request.logprobs ?? (wantsOptions ? topLogprobs : undefined)
  return {
    model,
    messages: request.prompt.kind === "chat" ? request.prompt.messages.map((m) => ({ role: m.role, content: m.content })) : [],
    max_tokens: request.maxTokens,
    temperature: request.temperature,
    top_p: request.topP,
    seed: request.seed,
    ...(request.stop === undefined || request.stop.length === 0 ? {} : { stop: request.stop }),
    ...(top === undefined ? {} : { logprobs: true, top_logprobs: top })
  }
}

/** A SubjectModel over the transport: text and option probabilities only (capabilities say so). */
export const apiSubjectModel = (config: ApiModelConfig, transport: Transport): Context.Tag.Service<SubjectModel> => {
  const model = config.model
  const fail = (reason: string) => Effect.fail(new ModelError({ model, reason }))
  const one = (request: GenerateRequest): Effect.Effect<Generation, ModelError> => {
    if (request.steering !== undefined) return localOnly(model, "steering")
    if (request.prompt.kind !== "chat" || !request.prompt.addGenerationPrompt) return fail("an API model answers chat prompts that end with the model's turn; plain-text prompts need a local model")
    return transport.post("chat/completions", chatBody(model, request, config.topLogprobs), decodeChatReply).pipe(
      Effect.mapError(modelErrorOf(model)),
      Effect.map(({ value: reply }): Generation => {
        const wanted = request.options !== undefined && request.options.length > 0
        const options = !wanted ? undefined : config.topLogprobs === 0 && request.logprobs === undefined ? { note: "topLogprobs is 0" } : optionProbsFrom(request.options!, reply.logprobs)
        return {
          text: reply.text,
          tokenIds: [],
          promptIds: [],
          finish: reply.finish,
          promptTokens: reply.promptTokens ?? 0,
          completionTokens: reply.completionTokens ?? 0,
          ...(reply.servedModel === null ? {} : { servedModel: reply.servedModel }),
          ...(options === undefined ? {} : "probs" in options ? { optionProbs: options.probs } : { optionProbs: null, optionNote: options.note })
        }
      })
    )
  }
  return {
    info: { id: `api:${model}`, weightsHash: "", architecture: "api", numLayers: 0, hiddenSize: 0, vocabSize: 0, hasChatTemplate: true },
    capabilities: { activations: false, steering: false },
    parallelism: { batchSize: 1, concurrency: config.endpoints.reduce((a, e) => a + e.maxConcurrency, 0) },
    // Stages send one request per call; a batch goes out at once and fails as a whole.
    generate: (requests) => (requests.length === 1 ? Effect.map(one(requests[0]!), (g) => [g]) : Effect.forEach(requests, one, { concurrency: "unbounded" })),
    scoreOptions: () => localOnly(model, "option scoring beyond single tokens"),
    activations: () => localOnly(model, "activations"),
    residualNorm: () => localOnly(model, "steering calibration")
  }
}

/** The transport and SubjectModel of an API model config (the transport is exposed for its counters). */
export const makeApiModel = (config: ApiModelConfig) =>
  Effect.map(
    makeTransport(config.endpoints, config).pipe(Effect.mapError(modelErrorOf(config.model))),
    (transport) => ({ transport, model: apiSubjectModel(config, transport) })
  )
