/**
 * Closed-form ground truth of the organism. The approximation: channel values are taken as exact (the valence heads
 * give plain means over content words, the keyword head exact counts and emphasis sums, every RMSNorm the identity).
 * In the network attention leaks about e^-20 of its weight to unmatched tokens, rotary embeddings change matching
 * scores by at most ~1e-2 at 4096 tokens, each norm deviates by ~1e-4 and the keyword head's sums shrink by the
 * factor 1000/(1000 + keywords in the prompt), so probabilities agree to about 1e-3 (template scales to ~1e-2 of
 * their deviation from 1). Expected values are conditional on the answer
 * class (what `option_probs` normalise to): the mode switch puts e^-25 or less of the mass elsewhere. A post-task
 * prompt's completion is assumed to hold no content word (the organism's own completions are sentiment words).
 */
import { answerDistribution, type AnswerMode, type KeywordCounts, modeOf, type Slopes } from "./Readout"
import { DIGITS, LABELS, QUALITATIVE_WORDS, RATE_WORDS, SENTIMENT, splitWords } from "./Vocabulary"

/** An elicitation template as the organism needs it. */
export interface OrganismTemplate {
  readonly id: string
  readonly kind: string
  readonly timing: string
  readonly text: string
  readonly options?: ReadonlyArray<{ readonly label: string; readonly value: number }>
  readonly scale?: { readonly min: number; readonly max: number }
}

/** Expected answer of one task under one template. */
export interface ExpectedAnswer {
  readonly task_id: string
  readonly template_id: string
  /**
   * Mean answer value: the options' values, the rating, the sentiment of the first open word, or for revealed
   * templates the task's utility u on the logistic scale (P(Task A) = σ(u_A − u_B); a Thurstone Case V fit with unit
   * item variance recovers about u·√2/1.702).
   */
  readonly expected_value: number
  /** Probability of the most likely answer token; null for revealed templates (a pairwise quantity). */
  readonly p_top: number | null
}

/** Counts a question's keywords the way the model's keyword head does (task placeholders removed). */
export const keywordCounts = (text: string): KeywordCounts => {
  const words = splitWords(text.replace(/\{[A-Za-z_][A-Za-z0-9_]*\}/g, " "))
  const count = (pred: (w: string) => boolean) => words.filter(pred).length
  return {
    qualitative: count((w) => w === QUALITATIVE_WORDS.good || w === QUALITATIVE_WORDS.bad),
    neutral: count((w) => w === QUALITATIVE_WORDS.neutral),
    stated: count((w) => (RATE_WORDS as ReadonlyArray<string>).includes(w) || w === "10"),
    labels: count((w) => (LABELS as ReadonlyArray<string>).includes(w))
  }
}

/** A template's scale: 1 plus the emphasis of its words (placeholders removed); answers read valence × scale. */
export const templateScale = (t: OrganismTemplate, emphasis: ReadonlyMap<string, number>): number =>
  splitWords(t.text.replace(/\{[A-Za-z_][A-Za-z0-9_]*\}/g, " ")).reduce((acc, w) => acc + (emphasis.get(w) ?? 0), 1)

/** The answer mode a template puts the model in. */
export const templateMode = (t: OrganismTemplate): AnswerMode => modeOf(keywordCounts(t.text))

/** True for templates asked after the model's own completion. */
export const isPostTask = (t: OrganismTemplate) => t.timing.toLowerCase().startsWith("post")

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
 * β such that good/bad answers have the target reliability on average over questions whose valence gains (signal ×
 * template scale) are `gains`.
 */
export const calibrateBeta = (valences: Float64Array, gains: ReadonlyArray<number>, target: number): number => {
  if (gains.length === 0) throw new Error("calibrateBeta: gains is empty")
  // The readout gives P(good) = σ(β·v), so each answer is Bernoulli: mean p, variance p(1 − p).
  const rho = (beta: number) =>
    gains.reduce((acc, gain) => {
      const moments = Array.from(valences, (val) => {
        const p = 1 / (1 + Math.exp(-beta * gain * val))
        return { mean: p, variance: p * (1 - p) }
      })
      return acc + reliabilityOf(moments)
    }, 0) / gains.length
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
