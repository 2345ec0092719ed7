/**
 * Closed-form ground truth of the organism. What the network computes at a prompt's last position is read off the
 * prompt's words (`readPrompt`): the valence heads give plain means over content words, the marking head each origin's
 * share of the own words, the persona head each persona's share of the keywords, the keyword head exact counts and
 * emphasis sums shrunk by SINK/(SINK + keyword-scored tokens), and every RMSNorm is taken as the identity. In the
 * network attention leaks about e^-20 of its weight to unmatched tokens, rotary embeddings change matching scores by
 * at most ~1e-2 at 4096 tokens and each norm deviates by ~1e-4, so probabilities agree to about 1e-3. Expected values
 * are conditional on the answer class (what `option_probs` normalise to): the mode switch puts e^-25 or less of the
 * mass elsewhere. A post-task prompt's completion is assumed to hold no content word, keyword or emphasized word (the
 * organism's own completions are sentiment words).
 */
import { answerDistribution, type AnswerMode, type KeywordCounts, modeOf, type Slopes } from "./Readout"
import {
  ASSISTANT,
  BOS,
  DIGITS,
  END,
  LABELS,
  QUALITATIVE_WORDS,
  RATE_WORDS,
  SENTIMENT,
  splitWords,
  type Vocabulary
} from "./Vocabulary"
import { SINK } from "./Weights"

/** An elicitation template as the organism needs it. */
export interface OrganismTemplate {
  readonly id: string
  readonly kind: string
  readonly timing: string
  readonly text: string
  readonly options?: ReadonlyArray<{ readonly label: string; readonly value: number }>
  readonly scale?: { readonly min: number; readonly max: number }
}

/** Expected answer of one task under one template, asked with one persona's system prompt. */
export interface ExpectedAnswer {
  readonly task_id: string
  readonly template_id: string
  readonly persona_id: string
  /**
   * Mean answer value: the options' values, the rating, the sentiment of the first open word, or for revealed
   * templates the task's utility u on the logistic scale (P(Task A) = σ(u_A − u_B); a Thurstone Case V fit with unit
   * item variance recovers about u·√2/1.702).
   */
  readonly expected_value: number
  /** Probability of the most likely answer token; null for revealed templates (a pairwise quantity). */
  readonly p_top: number | null
}

/** A chat message as the organism's chat template renders it. */
export interface Message {
  readonly role: string
  readonly content: string
}

/** The words of a conversation rendered with the organism's chat template and a generation prompt (see CHAT_TEMPLATE). */
export const conversationWords = (messages: ReadonlyArray<Message>): string[] =>
  splitWords(`${BOS}${messages.map((m) => `<|${m.role}|>\n${m.content}${END}\n`).join("")}${ASSISTANT}\n`)

/** Everything the closed forms need of a built organism: its word classes and what it planted on them. */
export interface PlantedWords {
  readonly vocab: Vocabulary
  /** Valence of each content word. */
  readonly wordValence: ReadonlyMap<string, number>
  /** Emphasis of each emphasized word. */
  readonly emphasis: ReadonlyMap<string, number>
  /** Origin index of each own word. */
  readonly own: ReadonlyMap<string, number>
  /** Per origin: c_o (on V) and a_o (the dataset part). */
  readonly centre: ReadonlyArray<number>
  readonly shift: ReadonlyArray<number>
  /** Per persona (spec order) and origin, a marked task's shift, and each persona's channel. */
  readonly personaShift: ReadonlyArray<ReadonlyArray<number>>
  readonly personaChannel: ReadonlyArray<"direction" | "behaviour">
  readonly preSignal: number
  readonly postSignal: number
}

/** What the organism reads off a prompt at its last position. */
export interface PromptReading {
  readonly counts: KeywordCounts
  readonly mode: AnswerMode
  /** True when the prompt holds two assistant turns (a post-task question): valence is read at postSignal. */
  readonly post: boolean
  /** 1 plus the prompt's emphasis. */
  readonly scale: number
  /** Each origin's share of the prompt's own words. */
  readonly marks: ReadonlyArray<number>
  /** Each persona's share of the prompt's persona keywords. */
  readonly presence: ReadonlyArray<number>
  /** The part of valence the planted direction carries: mean content-word valence, c_o, direction personas' shifts. */
  readonly direction: number
  /** The dataset part, read through the per-dataset features. */
  readonly dataset: number
  /** Behaviour personas' shift, read through the behaviour channel. */
  readonly behaviour: number
  /** What the answer readouts multiply: signal × scale × (direction + dataset + behaviour). */
  readonly value: number
}

const qualitativeWords = new Set<string>([QUALITATIVE_WORDS.good, QUALITATIVE_WORDS.bad])
const statedWords = new Set<string>([...RATE_WORDS, "10"])
const labelWords = new Set<string>(LABELS)

/** Reads a prompt's words the way the network's heads do (see the module comment for the approximation). */
export const readPrompt = (planted: PlantedWords, words: ReadonlyArray<string>): PromptReading => {
  const keywordIndex = new Map(planted.vocab.keywords.map((k, p) => [k, p]))
  const raw = { qualitative: 0, neutral: 0, stated: 0, labels: 0, assistant: 0 }
  let scored = 0
  let emphasis = 0
  let contentSum = 0
  let contentCount = 0
  const ownCounts = planted.centre.map(() => 0)
  const keywordCounts = planted.vocab.keywords.map(() => 0)
  for (const w of words) {
    let keyword = true
    if (qualitativeWords.has(w)) raw.qualitative++
    else if (w === QUALITATIVE_WORDS.neutral) raw.neutral++
    else if (statedWords.has(w)) raw.stated++
    else if (labelWords.has(w)) raw.labels++
    else if (w === ASSISTANT) raw.assistant++
    else keyword = false
    const e = planted.emphasis.get(w)
    if (keyword || e !== undefined) scored++
    if (e !== undefined) emphasis += e
    const v = planted.wordValence.get(w)
    if (v !== undefined) {
      contentSum += v
      contentCount++
    }
    const o = planted.own.get(w)
    if (o !== undefined) ownCounts[o]!++
    const p = keywordIndex.get(w)
    if (p !== undefined) keywordCounts[p]!++
  }
  const shrink = SINK / (SINK + scored)
  const counts = {
    qualitative: raw.qualitative * shrink,
    neutral: raw.neutral * shrink,
    stated: raw.stated * shrink,
    labels: raw.labels * shrink
  }
  const post = raw.assistant * shrink > 1.5
  const signal = post ? planted.postSignal : planted.preSignal
  const scale = 1 + emphasis * shrink
  const ownTotal = ownCounts.reduce((a, b) => a + b, 0)
  const marks = ownCounts.map((c) => (ownTotal === 0 ? 0 : c / ownTotal))
  const keywordTotal = keywordCounts.reduce((a, b) => a + b, 0)
  const presence = keywordCounts.map((c) => (keywordTotal === 0 ? 0 : c / keywordTotal))
  const personaPart = (channel: "direction" | "behaviour") =>
    presence.reduce(
      (acc, on, p) =>
        planted.personaChannel[p] !== channel ? acc : acc + on * marks.reduce((a, m, o) => a + m * planted.personaShift[p]![o]!, 0),
      0
    )
  const direction = (contentCount === 0 ? 0 : contentSum / contentCount) +
    marks.reduce((a, m, o) => a + m * planted.centre[o]!, 0) + personaPart("direction")
  const dataset = marks.reduce((a, m, o) => a + m * planted.shift[o]!, 0)
  const behaviour = personaPart("behaviour")
  return {
    counts,
    mode: modeOf(counts),
    post,
    scale,
    marks,
    presence,
    direction,
    dataset,
    behaviour,
    value: signal * scale * (direction + dataset + behaviour)
  }
}

const sentimentValue = new Map(SENTIMENT)

// The value of each answer token of a mode: option values (by lower-cased first word of the label), ratings, sentiment.
const tokenValues = (mode: AnswerMode, t: OrganismTemplate): Map<string, number> => {
  if (mode === "stated") return new Map(DIGITS.map((d, i) => [d, i + 1]))
  if (mode === "open") return sentimentValue
  if (t.options !== undefined && t.options.length > 0)
    return new Map(t.options.map((o) => [splitWords(o.label)[0] ?? "", o.value]))
  return new Map([[QUALITATIVE_WORDS.good, 1], [QUALITATIVE_WORDS.bad, 0], [QUALITATIVE_WORDS.neutral, 0.5]])
}

/** Mean and variance of the answer value of a mode at planted valence channel `v`. */
export const answerMoments = (mode: AnswerMode, v: number, t: OrganismTemplate, s: Slopes) => {
  const values = tokenValues(mode, t)
  const dist = answerDistribution(mode, v, 0, s).filter((a) => values.has(a.token))
  const mass = dist.reduce((acc, a) => acc + a.p, 0)
  const mean = dist.reduce((acc, a) => acc + a.p * values.get(a.token)!, 0) / mass
  const variance = dist.reduce((acc, a) => acc + a.p * (values.get(a.token)! - mean) ** 2, 0) / mass
  return { mean, variance, pTop: Math.max(...dist.map((a) => a.p / mass)) }
}

/**
 * Single-sample cross-seed reliability: the correlation of two independent answers to the same task,
 * Var_t(E[X|t]) / (Var_t(E[X|t]) + E_t Var(X|t)).
 */
export const reliabilityOf = (moments: ReadonlyArray<{ mean: number; variance: number }>): number => {
  const n = moments.length
  const grand = moments.reduce((a, m) => a + m.mean, 0) / n
  const between = moments.reduce((a, m) => a + (m.mean - grand) ** 2, 0) / n
  const within = moments.reduce((a, m) => a + m.variance, 0) / n
  return between + within === 0 ? 0 : between / (between + within)
}

/**
 * β such that good/bad answers, P(good) = σ(β·value), have the target reliability over tasks whose readout values
 * (signal × scale × valence of each task's question) are `values`.
 */
export const calibrateBeta = (values: ArrayLike<number>, target: number): number => {
  if (values.length === 0) throw new Error("calibrateBeta: values is empty")
  // Each answer is Bernoulli: mean p, variance p(1 − p).
  const rho = (beta: number) =>
    reliabilityOf(Array.from(values, (value) => {
      const p = 1 / (1 + Math.exp(-beta * value))
      return { mean: p, variance: p * (1 - p) }
    }))
  let lo = 0
  let hi = 1
  while (rho(hi) < target) {
    hi *= 2
    if (hi > 1e4) throw new Error(`calibrateBeta: reliability ${target} is out of reach (task valences barely vary)`)
  }
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2
    if (rho(mid) < target) lo = mid
    else hi = mid
  }
  return (lo + hi) / 2
}
