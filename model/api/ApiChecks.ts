/**
 * What can be checked of a server before any row is asked: which models it serves (`GET /models`), whether it honours
 * `seed` (the same seeded request twice), and whether it renders conversations with the same chat template and
 * tokenizer as a local checkpoint (vLLM's `POST /tokenize` with messages; else the prompt token count of a one-token
 * completion; else nothing).
 */
import { Effect, Either } from "effect"
import type { ChatMessage } from "../ChatClient"
import { decodeChatReply } from "./ChatCompletions"
import type { Transport } from "./Transport"

const isRecord = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null && !Array.isArray(x)

/** The model ids an endpoint lists, or why it lists none. */
export const servedModels = (transport: Transport, endpoint: number) =>
  transport
    .get(
      "models",
      (json) =>
        isRecord(json) && Array.isArray(json.data)
          ? Either.right(json.data.flatMap((m) => (isRecord(m) && typeof m.id === "string" ? [m.id] : [])))
          : Either.left("no data list"),
      { endpoint, retries: 1 }
    )
    .pipe(Effect.map((r) => r.value))

/** The seed check's probe: an open-ended request whose samples at temperature 1 differ unless the seed fixes them. */
const seedProbe = (model: string) => ({
  model,
  messages: [{ role: "user", content: "Write ten random words, separated by spaces." }],
  temperature: 1,
  top_p: 1,
  max_tokens: 16,
  seed: 1234567
})

/** Whether an endpoint gives the same text to the same seeded request twice. */
export const seedHonoured = (transport: Transport, endpoint: number, model: string) =>
  Effect.gen(function* () {
    const ask = transport.post("chat/completions", seedProbe(model), decodeChatReply, { endpoint, retries: 2 }).pipe(Effect.map((r) => r.value.text))
    const first = yield* ask
    const second = yield* ask
    return { honoured: first === second, first, second }
  })

/** How a server's rendering of a probe conversation compared with the local checkpoint's. */
export type TemplateCheck =
  | { readonly method: "tokenize"; readonly same: boolean; readonly local: number; readonly served: number; readonly firstDifference: number }
  | { readonly method: "prompt_tokens"; readonly same: boolean; readonly local: number; readonly served: number }
  | { readonly method: "none"; readonly reason: string }

const firstDifference = (a: ReadonlyArray<number>, b: ReadonlyArray<number>): number => {
  let i = 0
  while (i < a.length && i < b.length && a[i] === b[i]) i++
  return i === a.length && i === b.length ? -1 : i
}

/**
 * Compares the token ids a server renders `messages` to (with the generation prompt) against `localIds`: exactly
 * through vLLM's `/tokenize`, or by count through a one-token completion's `usage.prompt_tokens` where the server has
 * no `/tokenize` (OpenRouter and most hosted APIs; equal counts do not prove equal templates), or not at all.
 */
export const compareTemplate = (transport: Transport, endpoint: number, model: string, messages: ReadonlyArray<ChatMessage>, localIds: ReadonlyArray<number>) =>
  Effect.gen(function* () {
    const tokenized = yield* Effect.either(
      transport.post(
        "/tokenize",
        { model, messages, add_generation_prompt: true },
        (json) =>
          isRecord(json) && Array.isArray(json.tokens) && json.tokens.every((t) => typeof t === "number")
            ? Either.right(json.tokens as number[])
            : Either.left("no token list"),
        { endpoint, retries: 1 }
      )
    )
    if (Either.isRight(tokenized)) {
      const served = tokenized.right.value
      const at = firstDifference(localIds, served)
      return { method: "tokenize", same: at < 0, local: localIds.length, served: served.length, firstDifference: at } satisfies TemplateCheck
    }
    const counted = yield* Effect.either(
      transport.post("chat/completions", { model, messages, max_tokens: 1, temperature: 0 }, decodeChatReply, { endpoint, retries: 1 })
    )
    if (Either.isLeft(counted)) return { method: "none", reason: `neither /tokenize nor a one-token completion answered (${counted.left.failure})` } satisfies TemplateCheck
    const served = counted.right.value.promptTokens
    if (served === null) return { method: "none", reason: "the server has no /tokenize and reports no usage.prompt_tokens" } satisfies TemplateCheck
    return { method: "prompt_tokens", same: served === localIds.length, local: localIds.length, served } satisfies TemplateCheck
  })
