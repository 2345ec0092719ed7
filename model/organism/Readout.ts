/** The output layer's answer logic, shared by the weight builder and the closed-form ground truth. */
import { DIGITS, END, LABELS, QUALITATIVE_WORDS, SENTIMENT } from "./Vocabulary"

/** The answer modes the model recognises, each switched on by keywords of the question. */
export type AnswerMode = "qualitative" | "ternary" | "stated" | "revealed" | "open"

/** Slopes and offsets of the readout, all in logits at temperature 1. */
export interface Slopes {
  /** β: P(good | good or bad) = σ(β·v). */
  readonly beta: number
  readonly stated: number
  readonly concentration: number
  readonly revealed: number
  readonly open: number
  readonly neutralBias: number
  /** Logit of the end token in completion mode, set so that it ends with the spec's hazard at zero valence. */
  readonly endBias: number
  /** Slope of the end token's logit in |valence|, fitted so the hazard stays near the spec's at every valence. */
  readonly endAbs: number
}

/**
 * Which answer class a token belongs to and its logit within that class: `bias + v·V + d·(valence A − valence B)`,
 * plus `abs·|V|` for the end token.
 */
export interface Readout {
  readonly mode: AnswerMode | "end" | undefined
  readonly bias: number
  readonly v: number
  readonly d: number
  readonly abs: number
}

const sentiment = new Map(SENTIMENT)

/** z-score of rating k on the 1-10 scale. */
export const ratingZ = (k: number) => (k - 5.5) / 4.5

/** The readout of one token; undefined mode means the token is never an answer. */
export const readoutOf = (token: string, s: Slopes): Readout => {
  if (token === QUALITATIVE_WORDS.good) return { mode: "qualitative", bias: 0, v: s.beta / 2, d: 0, abs: 0 }
  if (token === QUALITATIVE_WORDS.bad) return { mode: "qualitative", bias: 0, v: -s.beta / 2, d: 0, abs: 0 }
  if (token === QUALITATIVE_WORDS.neutral) return { mode: "ternary", bias: s.neutralBias, v: 0, d: 0, abs: 0 }
  const digit = DIGITS.indexOf(token)
  if (digit >= 0) {
    const z = ratingZ(digit + 1)
    return { mode: "stated", bias: -s.concentration * z * z, v: s.stated * z, d: 0, abs: 0 }
  }
  if (token === LABELS[0]) return { mode: "revealed", bias: 0, v: 0, d: s.revealed / 2, abs: 0 }
  if (token === LABELS[1]) return { mode: "revealed", bias: 0, v: 0, d: -s.revealed / 2, abs: 0 }
  const valence = sentiment.get(token)
  if (valence !== undefined) return { mode: "open", bias: 0, v: s.open * valence, d: 0, abs: 0 }
  if (token === END) return { mode: "end", bias: s.endBias, v: 0, d: 0, abs: s.endAbs }
  return { mode: undefined, bias: 0, v: 0, d: 0, abs: 0 }
}

/** The end-token logit that makes the per-word stopping probability `hazard` at zero valence. */
export const endBiasFor = (hazard: number) => Math.log((hazard / (1 - hazard)) * SENTIMENT.length)

/**
 * The end token's slope in |V| (read as V·tanh(aV/2)) that best tracks, by least squares through 0 over the given
 * channel values, the log of the sentiment words' partition function relative to V = 0 (slope `open`).
 */
export const endAbsFor = (open: number, values: ArrayLike<number>, sharpness: number) => {
  const logZ = (v: number) => Math.log(SENTIMENT.reduce((a, [, x]) => a + Math.exp(open * x * v), 0) / SENTIMENT.length)
  let num = 0
  let den = 0
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!
    const g = v * Math.tanh((sharpness * v) / 2)
    num += g * logZ(v)
    den += g * g
  }
  return den === 0 ? 0 : num / den
}

/**
 * The tokens a mode answers with and their probabilities at channel values `v` and `d` (temperature 1).
 * Qualitative answers are good/bad; ternary adds neutral; open answers are the sentiment words (the end token excluded).
 */
export const answerDistribution = (mode: AnswerMode, v: number, d: number, s: Slopes): Array<{ token: string; p: number }> => {
  const tokens = mode === "qualitative" ? [QUALITATIVE_WORDS.good, QUALITATIVE_WORDS.bad]
    : mode === "ternary" ? [QUALITATIVE_WORDS.good, QUALITATIVE_WORDS.bad, QUALITATIVE_WORDS.neutral]
    : mode === "stated" ? DIGITS
    : mode === "revealed" ? [...LABELS]
    : SENTIMENT.map(([w]) => w)
  const logits = tokens.map((t) => {
    const r = readoutOf(t, s)
    return r.bias + r.v * v + r.d * d
  })
  const max = Math.max(...logits)
  const weights = logits.map((l) => Math.exp(l - max))
  const total = weights.reduce((a, b) => a + b, 0)
  return tokens.map((token, i) => ({ token, p: weights[i]! / total }))
}

/** Keyword counts of a question text, as the model's keyword head counts them. */
export interface KeywordCounts {
  readonly qualitative: number
  readonly neutral: number
  readonly stated: number
  readonly labels: number
}

/**
 * The answer mode the counts (as the keyword head gives them, slightly below whole numbers) switch on: a mode needs
 * two of its keywords (good+bad, rate+10, Task A:+Task B:), its switch sitting at 1.5; a qualitative question is
 * ternary when it also holds "neutral" (a step at 0.5).
 */
export const modeOf = (c: KeywordCounts): AnswerMode =>
  c.qualitative > 1.5 ? (c.neutral > 0.5 ? "ternary" : "qualitative")
  : c.stated > 1.5 ? "stated"
  : c.labels > 1.5 ? "revealed"
  : "open"
