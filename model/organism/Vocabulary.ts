/** The organism's word-level vocabulary: word classes, the word splitter, and the Hugging Face tokenizer files. */
import { COMMON_WORDS } from "./CommonWords"

/** Unknown-word token. */
export const UNK = "[UNK]"
/** Beginning of sequence; rendered by the chat template. */
export const BOS = "<s>"
/** End of turn, which is also the EOS token the model emits to stop. */
export const END = "<|end|>"
/** Padding. */
export const PAD = "<pad>"
/** Role tokens of the chat template. */
export const ROLES = ["<|system|>", "<|user|>", "<|assistant|>"] as const
/** The role token that starts the model's turn. */
export const ASSISTANT = "<|assistant|>"
/** Labels of a revealed-preference answer; whole tokens so an answer can begin with exactly "Task A:" or "Task B:". */
export const LABELS = ["Task A:", "Task B:"] as const
/** Special tokens (dropped when decoding). */
export const SPECIALS = [UNK, BOS, END, ...ROLES, PAD] as const

/** Answer words of qualitative questions. */
export const QUALITATIVE_WORDS = { good: "good", bad: "bad", neutral: "neutral" } as const
/** Answer tokens of stated ratings, "1" … "10". */
export const DIGITS = Array.from({ length: 10 }, (_, i) => String(i + 1))
/** Words that, with "10", mark a stated-rating question. */
export const RATE_WORDS = ["rate", "rating"] as const

/** Words of completions and open-ended answers, with the valence each expresses. */
export const SENTIMENT: ReadonlyArray<readonly [string, number]> = [
  ["wonderful", 1], ["delightful", 0.9], ["enjoyable", 0.75], ["great", 0.7], ["pleasant", 0.6], ["rewarding", 0.6],
  ["interesting", 0.45], ["nice", 0.4], ["fine", 0.2], ["okay", 0], ["ordinary", -0.1],
  ["hard", -0.25], ["dull", -0.4], ["boring", -0.5], ["tedious", -0.6], ["annoying", -0.6], ["unpleasant", -0.7],
  ["upsetting", -0.8], ["terrible", -0.9], ["awful", -1]
]

// The BERT pre-tokenizer's punctuation class: Unicode punctuation plus every ASCII symbol.
const PUNCT = "\\p{P}\\u0021-\\u002F\\u003A-\\u0040\\u005B-\\u0060\\u007B-\\u007E"
const WORD = new RegExp(`[^\\s${PUNCT}]+|[${PUNCT}]`, "gu")
const PUNCT_ONLY = new RegExp(`^[${PUNCT}]$`, "u")
const ADDED = [...SPECIALS, ...LABELS]
const ADDED_SPLIT = new RegExp(`(${ADDED.map((t) => t.replace(/[|[\]]/g, (c) => `\\${c}`)).join("|")})`, "u")

/**
 * Splits text the way the organism's tokenizer does before its WordPiece model: added tokens (specials and labels)
 * are matched case-sensitively in the raw text, the rest is lower-cased and split into runs of non-space,
 * non-punctuation characters and single punctuation characters.
 */
export const splitWords = (text: string): string[] =>
  text.split(ADDED_SPLIT).flatMap((part, i) =>
    i % 2 === 1 ? [part] : (part.toLowerCase().trim().match(WORD) ?? [])
  )

/** True for a single punctuation character. */
export const isPunctuation = (word: string): boolean => PUNCT_ONLY.test(word)

/**
 * The vocabulary and its word classes. Every token is fixed by the organism's spec and its task sets, never by the
 * questions asked of it:
 * - `content`: task-specific words, the words of the task sets found in exactly one task (and not common, reserved,
 *   a persona keyword or punctuation). Only they carry valence, so no model of a task's words can learn a task's
 *   within-dataset preference from other tasks (see Valence.ts).
 * - `topical`: every task word that is not common, reserved, a persona keyword or punctuation (the content words
 *   among them); the ones found in one origin's tasks only mark a prompt's dataset.
 * - `emphasized`: the common words no task uses; each adds its seeded emphasis to the scale of any question that
 *   holds it.
 * - `keywords`: the persona keywords of the spec, in spec order.
 */
export interface Vocabulary {
  readonly tokens: ReadonlyArray<string>
  readonly ids: ReadonlyMap<string, number>
  readonly content: ReadonlySet<string>
  readonly topical: ReadonlySet<string>
  readonly emphasized: ReadonlySet<string>
  readonly keywords: ReadonlyArray<string>
}

/** Words that never carry valence: specials, labels, answer and keyword words, sentiment words. */
export const reservedWords = (): Set<string> =>
  new Set<string>([
    ...ADDED,
    ...Object.values(QUALITATIVE_WORDS),
    ...DIGITS,
    ...RATE_WORDS,
    ...SENTIMENT.map(([w]) => w)
  ])

// Printable ASCII after lower-casing, Latin-1 and common typographic marks, always present as pieces so that
// text in those characters tokenizes without [UNK] whatever the task sets hold.
const PRINTABLE = Array.from({ length: 0x7e - 0x20 }, (_, i) => String.fromCharCode(0x21 + i)).join("").toLowerCase()
const LATIN1 = Array.from({ length: 0xff - 0xa0 }, (_, i) => String.fromCharCode(0xa1 + i)).join("").toLowerCase()
const TYPOGRAPHIC = "\u2018\u2019\u201c\u201d\u2013\u2014\u2026\u2022\u00a3\u00b0\u20ac"
const FIXED_CHARS = PRINTABLE + LATIN1 + TYPOGRAPHIC

const byCodeUnits = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)

/**
 * Builds the vocabulary from the task sets' texts, the fixed common words and the persona keywords (any case).
 * Every character of those words, and every printable ASCII and Latin-1 character, also enters as a word-initial piece
 * and a `##` continuation piece, so any other word made of known characters tokenizes without `[UNK]`.
 */
export const buildVocabulary = (taskTexts: ReadonlyArray<string>, keywords: ReadonlyArray<string> = []): Vocabulary => {
  const reserved = reservedWords()
  const common = new Set(COMMON_WORDS)
  const keywordList = keywords.map((k) => k.toLowerCase())
  const keywordSet = new Set(keywordList)
  const taskWords = new Map<string, number>()
  for (const text of taskTexts) {
    for (const w of new Set(splitWords(text))) taskWords.set(w, (taskWords.get(w) ?? 0) + 1)
  }
  const topical = new Set(
    [...taskWords.keys()].filter((w) => !reserved.has(w) && !common.has(w) && !keywordSet.has(w) && !isPunctuation(w))
  )
  const content = new Set([...topical].filter((w) => taskWords.get(w) === 1))
  const emphasized = new Set(COMMON_WORDS.filter((w) => !taskWords.has(w) && !reserved.has(w) && !keywordSet.has(w)))
  const fixed = [...SPECIALS, ...LABELS, ...Object.values(QUALITATIVE_WORDS), ...DIGITS, ...RATE_WORDS, ...SENTIMENT.map(([w]) => w)]
  const fixedSet = new Set(fixed)
  const words = [...new Set([...COMMON_WORDS, ...keywordList, ...taskWords.keys()])].filter((w) => !fixedSet.has(w)).sort(byCodeUnits)
  const chars = [...new Set([...words, ...fixed.slice(SPECIALS.length + LABELS.length), FIXED_CHARS].flatMap((w) => [...w]))].sort(byCodeUnits)
  const wordSet = new Set(words)
  const tokens = [...fixed, ...words, ...chars.filter((c) => !wordSet.has(c) && !fixedSet.has(c)), ...chars.map((c) => `##${c}`)]
  return { tokens, ids: new Map(tokens.map((t, i) => [t, i])), content, topical, emphasized, keywords: keywordList }
}

/** The Jinja chat template: BOS, then `<|role|>` content `<|end|>` per message, then `<|assistant|>` to generate. */
export const CHAT_TEMPLATE =
  "{{ bos_token }}{% for message in messages %}{{ '<|' + message['role'] + '|>\\n' + message['content'] + '<|end|>\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}"

const addedToken = (vocab: Vocabulary, content: string, special: boolean) => ({
  id: vocab.ids.get(content)!,
  content,
  single_word: false,
  lstrip: false,
  rstrip: false,
  normalized: false,
  special
})

/** `tokenizer.json`: WordPiece over whole words, lower-casing normalizer, BERT pre-tokenizer, space-joining decoder. */
export const tokenizerJson = (vocab: Vocabulary) => ({
  version: "1.0",
  truncation: null,
  padding: null,
  added_tokens: [...SPECIALS.map((t) => addedToken(vocab, t, true)), ...LABELS.map((t) => addedToken(vocab, t, false))],
  normalizer: { type: "Lowercase" },
  pre_tokenizer: { type: "BertPreTokenizer" },
  post_processor: null,
  decoder: { type: "WordPiece", prefix: "##", cleanup: false },
  model: {
    type: "WordPiece",
    unk_token: UNK,
    continuing_subword_prefix: "##",
    max_input_chars_per_word: 1000,
    vocab: Object.fromEntries(vocab.tokens.map((t, i) => [t, i]))
  }
})

/** `tokenizer_config.json`: special tokens, the chat template, no automatic BOS (the template renders it). */
export const tokenizerConfig = (vocab: Vocabulary, maxPositions: number) => ({
  add_bos_token: false,
  add_eos_token: false,
  bos_token: BOS,
  eos_token: END,
  unk_token: UNK,
  pad_token: PAD,
  clean_up_tokenization_spaces: false,
  model_max_length: maxPositions,
  padding_side: "left",
  tokenizer_class: "PreTrainedTokenizerFast",
  chat_template: CHAT_TEMPLATE,
  added_tokens_decoder: Object.fromEntries(
    [...SPECIALS.map((t) => addedToken(vocab, t, true)), ...LABELS.map((t) => addedToken(vocab, t, false))].map(
      ({ id, ...rest }) => [String(id), rest]
    )
  )
})
