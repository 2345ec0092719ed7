/** The OpenAI chat-completions wire format as the subject model uses it: request bodies, replies, option probabilities. */
import { Either } from "effect"
import type { FinishReason } from "../Generate"

/** One entry of `logprobs.content`: a generated token, its log-probability and the most likely tokens at its step. */
export interface WireLogprob {
  readonly token: string
  readonly logprob: number
  readonly top_logprobs?: ReadonlyArray<{ readonly token: string; readonly logprob: number }>
}

/** What the subject model reads from a chat completion. */
export interface ChatReply {
  readonly text: string
  readonly finish: FinishReason
  readonly promptTokens: number | null
  readonly completionTokens: number | null
  readonly servedModel: string | null
  readonly logprobs: ReadonlyArray<WireLogprob> | null
}

const isRecord = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null && !Array.isArray(x)

/**
 * OpenAI's `stop` covers both a stop string and the end-of-sequence token; vLLM's `stop_reason` tells them apart (the
 * stop string, or null at EOS), so with it the finish reason matches what a local model reports.
 */
const finishOf = (choice: Record<string, unknown>): FinishReason => {
  switch (choice.finish_reason) {
    case "length":
      return "length"
    case "content_filter":
      return "filtered"
    default:
      if (!("stop_reason" in choice)) return "stop"
      return typeof choice.stop_reason === "string" ? "stop" : "eos"
  }
}

const logprobsOf = (choice: Record<string, unknown>): ReadonlyArray<WireLogprob> | null | string => {
  const logprobs = choice.logprobs
  if (logprobs === undefined || logprobs === null) return null
  if (!isRecord(logprobs) || !Array.isArray(logprobs.content)) return "choices[0].logprobs.content is not a list"
  for (const entry of logprobs.content) {
    if (!isRecord(entry) || typeof entry.token !== "string" || typeof entry.logprob !== "number") return "choices[0].logprobs.content has an entry without token and logprob"
    if (entry.top_logprobs !== undefined && !Array.isArray(entry.top_logprobs)) return "top_logprobs is not a list"
  }
  return logprobs.content as ReadonlyArray<WireLogprob>
}

const count = (usage: unknown, field: string): number | null => {
  const v = isRecord(usage) ? usage[field] : undefined
  return typeof v === "number" && Number.isFinite(v) ? v : null
}

/** Reads a chat completion, or names what is malformed about it (`choices is empty`). */
export const decodeChatReply = (json: unknown): Either.Either<ChatReply, string> => {
  if (!isRecord(json)) return Either.left("the body is not a JSON object")
  if (!Array.isArray(json.choices)) return Either.left("no choices")
  if (json.choices.length === 0) return Either.left("choices is empty")
  const choice = json.choices[0] as unknown
  if (!isRecord(choice) || !isRecord(choice.message)) return Either.left("choices[0] has no message")
  const content = choice.message.content
  if (content !== null && content !== undefined && typeof content !== "string") return Either.left("choices[0].message.content is not a string")
  const logprobs = logprobsOf(choice)
  if (typeof logprobs === "string") return Either.left(logprobs)
  return Either.right({
    text: content ?? "",
    finish: finishOf(choice),
    promptTokens: count(json.usage, "prompt_tokens"),
    completionTokens: count(json.usage, "completion_tokens"),
    servedModel: typeof json.model === "string" ? json.model : null,
    logprobs
  })
}

/**
 * Option probabilities from the first generated token's `top_logprobs`: each option's probability is the sum over the
 * listed tokens whose text, trimmed of surrounding whitespace, is the option label, renormalised over the options.
 * That reads single-token options only; an option that is several tokens in the server's tokenizer, or less likely
 * than the last listed token, is missing, and the row then has no option probabilities (with the reason).
 */
export const optionProbsFrom = (options: ReadonlyArray<string>, logprobs: ReadonlyArray<WireLogprob> | null): { readonly probs: number[] } | { readonly note: string } => {
  if (logprobs === null) return { note: "no logprobs in the reply" }
  const first = logprobs[0]
  if (first === undefined) return { note: "no generated token to read logprobs from" }
  const listed = [...(first.top_logprobs ?? [])]
  if (!listed.some((t) => t.token === first.token)) listed.push({ token: first.token, logprob: first.logprob })
  const probs = options.map((o) => listed.reduce((p, t) => (t.token.trim() === o ? p + Math.exp(t.logprob) : p), 0))
  const missing = options.findIndex((_, i) => probs[i] === 0)
  if (missing >= 0) return { note: `option "${options[missing]}" is not among the ${listed.length} most likely first tokens` }
  const sum = probs.reduce((a, b) => a + b, 0)
  return { probs: probs.map((p) => p / sum) }
}
