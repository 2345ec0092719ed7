/** Text ↔ token ids through `@huggingface/tokenizers`, with character-span → token-span alignment by prefix tokenization. */
import { Tokenizer } from "@huggingface/tokenizers"

/** A loaded tokenizer and the special tokens the runtime needs. */
export interface TextTokenizer {
  /** Token ids of `text`; `addSpecialTokens` runs the post-processor (e.g. BOS for Llama). */
  readonly encode: (text: string, addSpecialTokens: boolean) => number[]
  /** Text of token ids, special tokens dropped. */
  readonly decode: (ids: ReadonlyArray<number>) => string
  readonly bosToken: string | undefined
  readonly eosToken: string | undefined
  readonly eosIds: ReadonlyArray<number>
  readonly padId: number
  readonly vocabSize: number
  /** A token's vocabulary entry as stored (`##ing`, `Ġthe`, `▁the`). */
  readonly piece: (id: number) => string | undefined
  /** The prefix a WordPiece vocabulary marks word-continuing pieces with (`##`); undefined for other models. */
  readonly continuingPrefix: string | undefined
}

const tokenText = (value: unknown): string | undefined =>
  typeof value === "string" ? value : typeof value === "object" && value !== null && "content" in value ? String((value as { content: unknown }).content) : undefined

const wordPiecePrefix = (json: unknown): string | undefined => {
  const model = (json as { model?: { type?: unknown; continuing_subword_prefix?: unknown } } | null)?.model
  return model?.type === "WordPiece" ? (typeof model.continuing_subword_prefix === "string" ? model.continuing_subword_prefix : "##") : undefined
}

/** Builds a tokenizer from parsed `tokenizer.json` and `tokenizer_config.json`; any model type the library supports. */
export const makeTokenizer = (tokenizerJson: unknown, tokenizerConfig: Record<string, unknown>, extraEosIds: ReadonlyArray<number> = []): TextTokenizer => {
  const tokenizer = new Tokenizer(tokenizerJson as object, tokenizerConfig)
  const bosToken = tokenText(tokenizerConfig.bos_token)
  const eosToken = tokenText(tokenizerConfig.eos_token)
  const eosId = eosToken === undefined ? undefined : tokenizer.token_to_id(eosToken)
  const eosIds = [...new Set([...extraEosIds, ...(eosId === undefined ? [] : [eosId])])]
  const padToken = tokenText(tokenizerConfig.pad_token)
  const padId = (padToken === undefined ? undefined : tokenizer.token_to_id(padToken)) ?? eosIds[0] ?? 0
  return {
    encode: (text, addSpecialTokens) => tokenizer.encode(text, { add_special_tokens: addSpecialTokens }).ids,
    decode: (ids) => (ids.length === 0 ? "" : tokenizer.decode([...ids], { skip_special_tokens: true })),
    bosToken,
    eosToken,
    eosIds,
    padId,
    vocabSize: tokenizer.get_vocab(true).size,
    piece: (id) => tokenizer.id_to_token(id),
    continuingPrefix: wordPiecePrefix(tokenizerJson)
  }
}

const commonPrefix = (a: ReadonlyArray<number>, b: ReadonlyArray<number>): number => {
  let n = 0
  while (n < a.length && n < b.length && a[n] === b[n]) n++
  return n
}

/**
 * Token index range `[start, end)` covering characters `[charStart, charEnd)` of `text`, whose full encoding is `ids`.
 * The tokenizer reports no offsets, so each boundary is found by encoding the prefix up to it and comparing with the
 * full encoding: tokens shared with the prefix's encoding lie before the boundary, and a token that straddles a
 * boundary (a merge across it) is counted inside the span.
 */
export const tokenSpan = (
  tok: TextTokenizer,
  text: string,
  ids: ReadonlyArray<number>,
  addSpecialTokens: boolean,
  charStart: number,
  charEnd: number
): { start: number; end: number } => {
  const before = commonPrefix(ids, tok.encode(text.slice(0, charStart), addSpecialTokens))
  const upTo = tok.encode(text.slice(0, charEnd), addSpecialTokens)
  const shared = commonPrefix(ids, upTo)
  const end = shared === upTo.length ? shared : Math.min(ids.length, shared + 1)
  const start = Math.min(before, ids.length - 1)
  return { start, end: Math.max(end, start + 1) }
}
