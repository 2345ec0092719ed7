/** The organism's word-level vocabulary: word classes, the word splitter, and the Hugging Face tokenizer files. */

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
 * The vocabulary: token strings by id, ids by token, which words are content words (they carry valence), and which
 * words occur in templates but in no task and are not reserved (they set a template's scale).
 */
export interface Vocabulary {
  readonly tokens: ReadonlyArray<string>
  readonly ids: ReadonlyMap<string, number>
  readonly content: ReadonlySet<string>
  readonly templateOnly: ReadonlySet<string>
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

// Printable ASCII after lower-casing, always present as pieces so any ASCII text tokenizes without [UNK].
const PRINTABLE = Array.from({ length: 0x7e - 0x20 }, (_, i) => String.fromCharCode(0x21 + i)).join("").toLowerCase()

const byCodeUnits = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)

/**
 * Builds the vocabulary. Task words that are not reserved, not template words and not punctuation are content words.
 * Every character seen, and every printable ASCII character, also enters as a word-initial piece and a `##`
 * continuation piece, so unseen words made of known characters still tokenize without `[UNK]`.
 */
export const buildVocabulary = (
  taskTexts: ReadonlyArray<string>,
  templateTexts: ReadonlyArray<string>,
  extraWords: ReadonlyArray<string>
): Vocabulary => {
  const reserved = reservedWords()
  const templateWords = new Set(templateTexts.flatMap((t) => splitWords(t.replace(/\{[A-Za-z_][A-Za-z0-9_]*\}/g, " "))))
  const extra = new Set(extraWords.flatMap(splitWords))
  const taskWords = new Set(taskTexts.flatMap(splitWords))
  const content = new Set<string>()
  for (const w of taskWords) {
    if (!reserved.has(w) && !templateWords.has(w) && !extra.has(w) && !isPunctuation(w)) content.add(w)
  }
  const templateOnly = new Set([...templateWords].filter((w) => !taskWords.has(w) && !reserved.has(w) && !extra.has(w) && !isPunctuation(w)))
  const fixed = [...SPECIALS, ...LABELS, ...Object.values(QUALITATIVE_WORDS), ...DIGITS, ...RATE_WORDS, ...SENTIMENT.map(([w]) => w)]
  const fixedSet = new Set(fixed)
  const words = [...new Set([...templateWords, ...extra, ...taskWords])].filter((w) => !fixedSet.has(w)).sort(byCodeUnits)
  const chars = [...new Set([...words, ...fixed.slice(SPECIALS.length + LABELS.length), PRINTABLE].flatMap((w) => [...w]))].sort(byCodeUnits)
  const wordSet = new Set(words)
  const tokens = [...fixed, ...words, ...chars.filter((c) => !wordSet.has(c) && !fixedSet.has(c)), ...chars.map((c) => `##${c}`)]
  return { tokens, ids: new Map(tokens.map((t, i) => [t, i])), content, templateOnly }
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
