import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { Effect, Either, Schema } from "effect"
import { compareTemplate, seedHonoured, servedModels, type TemplateCheck } from "../model/api/ApiChecks"
import { ApiModelConfig } from "../model/api/ApiModel"
import type { ChatMessage } from "../model/ChatClient"
import { makeChatRenderer } from "../model/ChatTemplate"
import { loadTextSide } from "../model/Checkpoint"
import { ModelPool } from "../model/ModelPool"
import { encodePrompt } from "../model/Prompt"
import { makeTokenizer } from "../model/Tokenizer"
import * as Artifact from "../pipeline/Artifact"
import * as Stage from "../pipeline/Stage"
import type { StageDiagnostic } from "./stageDiagnostics"

/** The servers of an API model cannot serve the experiment as configured; names the config fields to change. */
export class ApiModelMismatch extends Schema.TaggedError<ApiModelMismatch>()("ApiModelMismatch", {
  field: Schema.String,
  reason: Schema.String
}) {
  get message() {
    return `config field ${this.field}: ${this.reason}`
  }
}

/** A conversation like the post-task ones stages send (system prompt, task, completion, question). */
export const probeConversation = (system: string): ReadonlyArray<ChatMessage> => [
  ...(system === "" ? [] : [{ role: "system" as const, content: system }]),
  { role: "user", content: "Write a short poem about the sea." },
  { role: "assistant", content: "Waves fold over\nand the gulls call out." },
  { role: "user", content: "Was doing that task good or bad for you? Answer with one word." }
]

const ChecksParams = Schema.Struct({
  model: ApiModelConfig,
  /** The experiment's system prompt: the template check's probe conversation has one when the experiment does. */
  system: Schema.String,
  /** The folder of `activations.model` when it is a checkpoint outside the cache (its fingerprint is the local input's output). */
  checkpoint: Schema.optional(Schema.String)
})

interface EndpointCheck {
  readonly baseUrl: string
  readonly answered: boolean
  readonly served: ReadonlyArray<string> | null
  readonly seed: "honoured" | "ignored" | "unchecked"
  readonly template: TemplateCheck | null
}

/**
 * Checks an API model's servers before any row is asked: every endpoint that answers must list the configured model
 * (when it lists models at all), each is asked one seeded request twice (a server that ignores seeds is reported, as
 * sample-level reproducibility then rests on the row memo alone), and with a local checkpoint for activations
 * (`local` input) a probe conversation must render to the same tokens on the servers as through the checkpoint's
 * chat template. Keyed by the model name and the endpoints, so a new fleet is checked again.
 */
export const apiChecks = Stage.make({
  name: "api_checks",
  version: 1,
  params: ChecksParams,
  keyOf: (p) => ({ model: p.model.model, endpoints: p.model.endpoints.map((e) => e.baseUrl), system: p.system }),
  run: ({ inputs, params }) =>
    Effect.gen(function* () {
      const { model } = params
      const { transport } = yield* Effect.flatMap(ModelPool, (pool) => pool.api(model))
      const local = inputs.local
      const localIds =
        local === undefined
          ? undefined
          : yield* Effect.gen(function* () {
              const dir = params.checkpoint ?? local.dir("checkpoint")
              const text = yield* loadTextSide(dir)
              const tok = makeTokenizer(text.tokenizerJson, text.tokenizerConfig, text.eosTokenIds)
              const chat = makeChatRenderer(text.chatTemplate, tok.bosToken, tok.eosToken)
              return encodePrompt(tok, chat, { kind: "chat", messages: probeConversation(params.system), addGenerationPrompt: true }).ids
            }).pipe(Effect.provide(NodeFileSystem.layer))
      const checks: EndpointCheck[] = []
      for (const [i, baseUrl] of transport.endpoints.entries()) {
        const listed = yield* Effect.either(servedModels(transport, i))
        const served = Either.isRight(listed) ? listed.right : null
        if (Either.isLeft(listed) && !["http", "malformed"].includes(listed.left.kind)) {
          checks.push({ baseUrl, answered: false, served: null, seed: "unchecked", template: null })
          continue
        }
        if (served !== null && served.length > 0 && !served.includes(model.model)) {
          return yield* new ApiModelMismatch({
            field: "model.model",
            reason: `${baseUrl} serves ${served.slice(0, 8).map((s) => JSON.stringify(s)).join(", ")}${served.length > 8 ? ", ..." : ""}, not ${JSON.stringify(model.model)}`
          })
        }
        const seed = yield* Effect.either(seedHonoured(transport, i, model.model))
        const template = localIds === undefined ? null : yield* compareTemplate(transport, i, model.model, probeConversation(params.system), localIds)
        if (template !== null && template.method !== "none" && !template.same) {
          return yield* new ApiModelMismatch({
            field: "activations.model",
            reason:
              `its chat template and tokenizer render a probe conversation as ${template.local} tokens, ${baseUrl} (model.model ${JSON.stringify(model.model)}) as ${template.served}` +
              `${template.method === "tokenize" ? ` (first difference at token ${template.firstDifference})` : " (compared by usage.prompt_tokens)"}; ` +
              "the activation pass would read conversations rendered differently from the ones the served model answered. Point activations.model at the checkpoint the servers run"
          })
        }
        checks.push({ baseUrl, answered: true, served, seed: Either.isLeft(seed) ? "unchecked" : seed.right.honoured ? "honoured" : "ignored", template })
      }
      if (!checks.some((c) => c.answered)) {
        return yield* new ApiModelMismatch({ field: "model.endpoints", reason: `no endpoint answered (${transport.endpoints.join(", ")}); nothing was asked` })
      }
      const diagnostics: StageDiagnostic[] = checks.flatMap((c): StageDiagnostic[] => [
        ...(c.answered ? [] : [{ level: "warning" as const, code: "endpoint-unchecked", message: `${c.baseUrl} did not answer the checks before the build (model ${model.model})` }]),
        ...(c.seed === "ignored"
          ? [{ level: "warning" as const, code: "seed-ignored", message: `${c.baseUrl} (model ${model.model}) gave two different answers to the same seeded request: its samples cannot be reproduced from their seeds, so sample-level reproducibility rests on the row memo alone` }]
          : []),
        ...(c.template?.method === "none"
          ? [{ level: "warning" as const, code: "chat-template-unchecked", message: `${c.baseUrl}: the chat template of activations.model could not be compared with the served model's (${c.template.reason})` }]
          : c.template?.method === "prompt_tokens"
          ? [{ level: "warning" as const, code: "chat-template-by-count", message: `${c.baseUrl} has no /tokenize: the chat template of activations.model was compared by prompt token count only (${c.template.local} tokens on both sides), which equal templates give but does not prove` }]
          : [])
      ])
      return { checks: Artifact.json({ model: model.model, endpoints: checks }), diagnostics: Artifact.json(diagnostics) }
    })
})

/**
 * The API model as an input of the stages that ask it: its name only, so its output (and every key downstream) is
 * the same whichever servers answer; it runs after the checks, which every such stage therefore follows.
 */
export const apiModel = Stage.make({
  name: "api_model",
  version: 1,
  params: Schema.Struct({ model: Schema.NonEmptyString }),
  run: ({ params }) => Effect.succeed({ model: Artifact.json({ kind: "api", model: params.model }) })
})
