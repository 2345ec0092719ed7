import { Effect } from "effect"
import type { ChatClientError } from "../../model/ChatClient"
import { normalize, type RankingTemplate, type ScoredTemplate } from "../Template"
import { type Reading, readQualitative, readRanking, readRevealed, readStated } from "./Exact"
import { askParser, askRankingParser, type ChatModel, judgeRefusal, judgeValence } from "./Judge"
import { lexiconValence } from "./Lexicon"
import { refusalPhrase } from "./Refusal"

/** Which tier decided a row: a pattern or lexicon (exact), a refusal, a model (parser or judge), or nobody (failed). */
export type ParseTier = "exact" | "refusal" | "model" | "failed"

/** One parsed response; `value` is null for refusals and failures, and `reason` says why. */
export interface ParsedScore {
  readonly value: number | null
  readonly normalized: number | null
  readonly tier: ParseTier
  readonly reason: string | null
}

/** The models parsing may consult; without them the refusal heuristic and the lexicon stand in, and tier 3 is skipped. */
export interface ParseTools {
  /** Decides refusals and scores open-ended valence. */
  readonly judge?: ChatModel
  /** Reads the answers tier 1 could not. */
  readonly parser?: ChatModel
}

/** What a response was answering besides the template: for revealed templates, the texts shown as Task A and Task B. */
export interface ParseContext {
  readonly offered?: readonly [string, string]
}

const scored = (t: ScoredTemplate, value: number, tier: ParseTier, reason: string | null): ParsedScore => ({
  value,
  normalized: normalize(t, value),
  tier,
  reason
})
const unscored = (tier: ParseTier, reason: string): ParsedScore => ({ value: null, normalized: null, tier, reason })

/** Tier 2: the judge's verdict when there is a judge (its unusable replies fall back to the heuristic), else the heuristic. */
const refusalReason = (question: string, response: string, tools: ParseTools): Effect.Effect<string | undefined, ChatClientError> => {
  const heuristic = () => {
    const phrase = refusalPhrase(response)
    return phrase === undefined ? undefined : `refusal: ${phrase}`
  }
  if (tools.judge === undefined) return Effect.succeed(heuristic())
  return judgeRefusal(tools.judge, question, response).pipe(
    Effect.map((verdict) => (verdict === undefined ? heuristic() : verdict ? "refusal: judge" : undefined))
  )
}

const readExact = (t: Exclude<ScoredTemplate, { kind: "open_ended" }>, response: string, context: ParseContext): Reading => {
  switch (t.kind) {
    case "qualitative":
      return readQualitative(t.options, response)
    case "stated":
      return readStated(t.scale, response)
    case "revealed":
      return readRevealed(response, context.offered)
  }
}

/** Open-ended answers: refusal, then the judge's valence mapped onto the declared range, else the lexicon. */
const parseOpenEnded = (
  t: Extract<ScoredTemplate, { kind: "open_ended" }>,
  response: string,
  tools: ParseTools
): Effect.Effect<ParsedScore, ChatClientError> =>
  Effect.gen(function*() {
    const refusal = yield* refusalReason(t.text, response, tools)
    if (refusal !== undefined) return unscored("refusal", refusal)
    const onRange = (v: number) => t.range.min + ((v + 1) / 2) * (t.range.max - t.range.min)
    if (tools.judge !== undefined) {
      const valence = yield* judgeValence(tools.judge, t.text, response)
      return valence === undefined ? unscored("failed", "judge gave no valence") : scored(t, onRange(valence), "model", null)
    }
    const lexicon = lexiconValence(response)
    return lexicon === undefined
      ? unscored("failed", "no judge configured and no lexicon word in the answer")
      : scored(t, onRange(lexicon), "exact", "lexicon")
  })

/**
 * Parses one response in three tiers: (1) exact and pattern match, (2) refusal (judge or heuristic), (3) the
 * parsing model, validated against the template. Open-ended templates skip tier 1 and are scored by the judge or,
 * without one, by the sentiment lexicon (tier "exact", reason "lexicon"). Failures keep the last tier's reason.
 */
export const parseResponse = (
  template: ScoredTemplate,
  response: string,
  tools: ParseTools = {},
  context: ParseContext = {}
): Effect.Effect<ParsedScore, ChatClientError> => {
  if (template.kind === "open_ended") return parseOpenEnded(template, response, tools)
  return Effect.gen(function*() {
    const exact = readExact(template, response, context)
    if (exact._tag === "value") return scored(template, exact.value, "exact", null)
    const refusal = yield* refusalReason(template.text, response, tools)
    if (refusal !== undefined) return unscored("refusal", refusal)
    if (tools.parser === undefined) return unscored("failed", exact.reason)
    const parsed = yield* askParser(tools.parser, template, response)
    return parsed._tag === "value" ? scored(template, parsed.value, "model", null) : unscored("failed", parsed.reason)
  })
}

/** A parsed ranking: task positions (0 = Task A) best first, or null with the reason. */
export interface ParsedRanking {
  readonly order: ReadonlyArray<number> | null
  readonly tier: ParseTier
  readonly reason: string | null
}

/** Parses a ranking of `n` tasks with the same three tiers as `parseResponse`. */
export const parseRanking = (
  template: typeof RankingTemplate.Type,
  response: string,
  n: number,
  tools: ParseTools = {}
): Effect.Effect<ParsedRanking, ChatClientError> =>
  Effect.gen(function*() {
    const exact = readRanking(n, response)
    if (typeof exact !== "string") return { order: exact, tier: "exact", reason: null }
    const refusal = yield* refusalReason(template.text, response, tools)
    if (refusal !== undefined) return { order: null, tier: "refusal", reason: refusal }
    if (tools.parser === undefined) return { order: null, tier: "failed", reason: exact }
    const parsed = yield* askRankingParser(tools.parser, template.text, n, response)
    return typeof parsed === "string" ? { order: null, tier: "failed", reason: parsed } : { order: parsed, tier: "model", reason: null }
  })

/** Which task a revealed choice took: value 1 is the task shown as Task A, so with order `ba` it is `taskB`. */
export const revealedChoice = (value: number, order: "ab" | "ba"): "task" | "taskB" =>
  (value === 1) === (order === "ab") ? "task" : "taskB"

/** Per-template counts of each tier and of each failure reason. */
export interface ParseReportRow {
  readonly template_id: string
  readonly total: number
  readonly tiers: Readonly<Record<ParseTier, number>>
  readonly failures: Readonly<Record<string, number>>
}

/** Counts tiers and failure reasons per template, sorted by template id. */
export const parseReport = (
  rows: Iterable<{ readonly template_id: string; readonly tier: ParseTier; readonly reason: string | null }>
): ReadonlyArray<ParseReportRow> => {
  const byTemplate = new Map<string, { total: number; tiers: Record<ParseTier, number>; failures: Record<string, number> }>()
  for (const row of rows) {
    let entry = byTemplate.get(row.template_id)
    if (entry === undefined) {
      entry = { total: 0, tiers: { exact: 0, refusal: 0, model: 0, failed: 0 }, failures: {} }
      byTemplate.set(row.template_id, entry)
    }
    entry.total++
    entry.tiers[row.tier]++
    if (row.tier === "failed") {
      const reason = row.reason ?? "unknown"
      entry.failures[reason] = (entry.failures[reason] ?? 0) + 1
    }
  }
  return [...byTemplate.keys()].sort().map((template_id) => ({ template_id, ...byTemplate.get(template_id)! }))
}
