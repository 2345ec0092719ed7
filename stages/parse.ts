import { Effect, Schema } from "effect"
import { type ParsedScore, parseResponse, revealedChoice } from "../elicitation/parse/Parse"
import { normalize, Template, type ScoredTemplate } from "../elicitation/Template"
import { ChatClientConfig } from "../model/ChatClient"
import * as Artifact from "../pipeline/Artifact"
import * as Stage from "../pipeline/Stage"
import { withParseTools } from "./judge"
import { optionLabels } from "./elicit"
import { checkFailedRows, FailOnErrorParam } from "./rowFailures"
import { fromTable, ScoresSchema, toTable } from "./tables"
import { stageDiagnostics } from "./stageDiagnostics"
import { taskRows } from "./taskRows"

interface ElicitationRow {
  readonly task_id: string
  readonly template_id: string
  readonly sample: number
  readonly response: string
  readonly option_probs: number[] | null
  readonly pair_task_id: string | null
  readonly order: "ab" | "ba" | null
  /** Why the subject model gave no answer (a request that failed after its retries). */
  readonly error: string | null
}

/** The declared value of each option label, in `optionLabels` order. */
const optionValues = (template: ScoredTemplate): ReadonlyArray<number> =>
  template.kind === "qualitative" ? template.options.map((o) => o.value) : optionLabels(template).map(Number)

/** Expected normalized score from option probabilities: Σ p·normalize(value); null without probabilities. */
export const expectedScore = (template: ScoredTemplate, probs: ReadonlyArray<number> | null): number | null => {
  if (probs === null || probs.length === 0) return null
  const values = optionValues(template)
  const total = probs.reduce((a, b) => a + b, 0)
  return total > 0 ? probs.reduce((a, p, i) => a + (p / total) * normalize(template, values[i]!), 0) : null
}

/** A row the parser never saw: its question failed upstream, or the judge's request did (`subject: HTTP 500`, `judge: timeout`). */
const requestFailure = (source: "subject" | "judge", failure: string): ParsedScore => ({ value: null, normalized: null, tier: "failed", reason: `${source}: ${failure}` })

/**
 * Parses every answer to one template in three tiers (pattern, refusal, parsing model), keeping which tier decided
 * and why a row failed. Revealed answers become 1 when the row's task was chosen and 0 when its partner was. A judge
 * request that still fails after its retries fails its row (reason `judge: <why>`), not the stage, unless more than
 * `failOnError` of the rows fail so; rows whose question failed upstream stay failed (`subject: <why>`).
 */
export const parse = Stage.make({
  name: "parse",
  version: 3,
  params: Schema.Struct({ template: Template, judge: Schema.optional(ChatClientConfig), failOnError: FailOnErrorParam }),
  keyOf: (p) => ({ template: p.template, judge: p.judge === undefined ? null : { model: p.judge.model }, failOnError: p.failOnError }),
  run: ({ inputs, params, progress }) =>
    Effect.gen(function* () {
      const template = params.template
      if (template.kind === "ranking") return yield* Effect.fail(new Error(`template ${template.id}: ranking answers are parsed by the rankings stage`))
      const rows = fromTable<ElicitationRow>(inputs.elicitations!.table("elicitations"))
      const prompts = new Map(taskRows(inputs.tasks!.table("tasks")).map((t) => [t.task_id, t.prompt]))
      yield* progress.total(rows.length)
      let done = 0
      const parsed = yield* withParseTools(params.judge, (tools) =>
        Effect.forEach(
          rows,
          (row) =>
            Effect.gen(function* () {
              if (row.error !== null) return requestFailure("subject", row.error)
              const offered =
                row.pair_task_id === null || row.order === null
                  ? undefined
                  : ((row.order === "ab"
                      ? [prompts.get(row.task_id), prompts.get(row.pair_task_id)]
                      : [prompts.get(row.pair_task_id), prompts.get(row.task_id)]) as [string, string])
              const score = yield* parseResponse(template, row.response, tools, offered === undefined ? {} : { offered }).pipe(
                Effect.catchTag("ChatClientError", (e) => Effect.succeed(requestFailure("judge", e.failure)))
              )
              if (++done % 200 === 0) yield* progress.done(done)
              if (template.kind !== "revealed" || score.value === null || row.order === null) return score
              const chosen = revealedChoice(score.value, row.order) === "task" ? 1 : 0
              return { ...score, value: chosen, normalized: chosen }
            }),
          { concurrency: params.judge?.maxConcurrency ?? 1 }
        )
      )
      yield* progress.done(rows.length)
      yield* checkFailedRows(parsed.flatMap((p) => (p.reason?.startsWith("judge: ") ? [p.reason] : [])), rows.length, params.failOnError)
      return {
        scores: Artifact.table(
          toTable(
            ScoresSchema,
            rows.map((row, i) => ({
              task_id: row.task_id,
              template_id: row.template_id,
              sample: row.sample,
              value: parsed[i]!.value,
              normalized: parsed[i]!.normalized,
              expected: template.kind === "revealed" ? null : expectedScore(template, row.option_probs),
              tier: parsed[i]!.tier,
              reason: parsed[i]!.reason,
              pair_task_id: row.pair_task_id,
              order: row.order
            }))
          )
        ),
        diagnostics: Artifact.json(stageDiagnostics(inputs))
      }
    })
})
