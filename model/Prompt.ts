/** Prompts (plain text or chat), their encoding, and the token positions named by activation selectors. */
import { Either } from "effect"
import type { ChatMessage, ChatRenderer } from "./ChatTemplate"
import { type TextTokenizer, tokenSpan } from "./Tokenizer"

/** A prompt: plain text (BOS added by the tokenizer) or a chat rendered by the template; `taskText` marks the task span. */
export type Prompt =
  | { readonly kind: "text"; readonly text: string; readonly taskText?: string }
  | {
    readonly kind: "chat"
    readonly messages: ReadonlyArray<ChatMessage>
    readonly addGenerationPrompt: boolean
    readonly taskText?: string
  }

/** A prompt's token ids and the positions selectors refer to. */
export interface EncodedPrompt {
  readonly ids: ReadonlyArray<number>
  readonly text: string
  readonly addSpecialTokens: boolean
  /** Last token before the model's turn (the end of the generation prompt). */
  readonly promptLast: number
  /** End-of-turn token of a completed assistant turn. */
  readonly eot: number | undefined
  /** Token span `[start, end)` of `taskText`. */
  readonly task: { readonly start: number; readonly end: number } | undefined
  /** Locates any text of the prompt (its last occurrence before the model's turn) as a token span. */
  readonly locate: (text: string) => { readonly start: number; readonly end: number } | undefined
}

const commonPrefix = (a: ReadonlyArray<number>, b: ReadonlyArray<number>): number => {
  let n = 0
  while (n < a.length && n < b.length && a[n] === b[n]) n++
  return n
}

/** Encodes a prompt and locates its turn boundaries and task span. */
export const encodePrompt = (tok: TextTokenizer, chat: ChatRenderer, prompt: Prompt): EncodedPrompt => {
  const rendered = prompt.kind === "text" ? { text: prompt.text, addSpecialTokens: true } : chat.render(prompt.messages, prompt.addGenerationPrompt)
  const ids = tok.encode(rendered.text, rendered.addSpecialTokens)
  let promptLast = ids.length - 1
  let promptEndChar = rendered.text.length
  let eot: number | undefined
  const last = prompt.kind === "chat" ? prompt.messages[prompt.messages.length - 1] : undefined
  if (prompt.kind === "chat" && !prompt.addGenerationPrompt && last?.role === "assistant") {
    const before = chat.render(prompt.messages.slice(0, -1), true)
    const beforeIds = tok.encode(before.text, before.addSpecialTokens)
    promptLast = Math.max(0, commonPrefix(ids, beforeIds) - 1)
    promptEndChar = before.text.length
    const contentAt = rendered.text.lastIndexOf(last.content)
    if (contentAt >= 0) {
      const contentEnd = contentAt + last.content.length
      eot = Math.min(ids.length - 1, commonPrefix(ids, tok.encode(rendered.text.slice(0, contentEnd), rendered.addSpecialTokens)))
    }
  }
  const locate = (text: string) => {
    const at = text.length === 0 ? -1 : rendered.text.lastIndexOf(text, promptEndChar - text.length)
    return at < 0 ? undefined : tokenSpan(tok, rendered.text, ids, rendered.addSpecialTokens, at, at + text.length)
  }
  return {
    ids,
    text: rendered.text,
    addSpecialTokens: rendered.addSpecialTokens,
    promptLast,
    eot,
    task: prompt.taskText === undefined ? undefined : locate(prompt.taskText),
    locate
  }
}

/** Selectors: `last`, `first`, `mean`, `prompt_last`, `eot`, `turn_boundary:N`, `task_last`, `task_mean`. */
export const selectorNames = ["last", "first", "mean", "prompt_last", "eot", "turn_boundary:N", "task_last", "task_mean"] as const

/** Why a selector name is not one of `selectorNames`, or undefined when it is. */
export const unknownSelector = (selector: string): string | undefined =>
  (selectorNames as ReadonlyArray<string>).includes(selector) || /^turn_boundary:\d+$/.test(selector)
    ? undefined
    : `unknown selector "${selector}" (known: ${selectorNames.join(", ")})`

const range = (start: number, end: number) => Array.from({ length: end - start }, (_, i) => start + i)

/**
 * Token indices a selector averages over. `turn_boundary:N` is N tokens before `prompt_last` (so
 * `turn_boundary:0` = `prompt_last`), counted in the chat template's tokens.
 */
export const selectorIndices = (encoded: EncodedPrompt, selector: string): Either.Either<number[], string> => {
  const n = encoded.ids.length
  switch (selector) {
    case "last":
      return Either.right([n - 1])
    case "first":
      return Either.right([0])
    case "mean":
      return Either.right(range(0, n))
    case "prompt_last":
      return Either.right([encoded.promptLast])
    case "eot":
      return encoded.eot === undefined ? Either.left("selector eot needs a chat prompt ending in a completed assistant turn") : Either.right([encoded.eot])
    case "task_last":
    case "task_mean":
      if (encoded.task === undefined) return Either.left(`selector ${selector} needs taskText that occurs in the prompt`)
      return Either.right(selector === "task_last" ? [encoded.task.end - 1] : range(encoded.task.start, encoded.task.end))
  }
  const boundary = /^turn_boundary:(\d+)$/.exec(selector)
  if (boundary !== null) {
    const index = encoded.promptLast - Number(boundary[1])
    return index < 0 ? Either.left(`selector ${selector} points before the first token`) : Either.right([index])
  }
  return Either.left(`unknown selector ${selector} (known: ${selectorNames.join(", ")})`)
}
