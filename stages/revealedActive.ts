import { Effect, Either, Schema } from "effect"
import { conversationFor } from "../elicitation/Conversation"
import { parseResponse } from "../elicitation/parse/Parse"
import { RevealedTemplate } from "../elicitation/Template"
import type { Prompt } from "../model/Prompt"
import * as Artifact from "../pipeline/Artifact"
import { ElicitationConfig } from "../pipeline/Config"
import * as Stage from "../pipeline/Stage"
import { activeLearningRounds } from "../stats/ranking/activeLearning"
import type { Comparison } from "../stats/ranking/pairCounts"
import { modelTransport, RuntimeParams, runtimeKey, subjectModel } from "./modelInput"
import { askRows, type FailedRow, isFailedRow, recordUse } from "./modelRows"
import { checkFailedRows, FailOnErrorParam } from "./rowFailures"
import { deriveSeed } from "./seeds"
import { toTable } from "./tables"
import { taskRows } from "./taskRows"

/** How the active-learning loop asks: pairs per round, at most how many rounds, and when consecutive fits agree. */
export const ActiveLearningParams = Schema.Struct({
  batchSize: Schema.Int.pipe(Schema.positive()),
  maxRounds: Schema.Int.pipe(Schema.positive()),
  threshold: Schema.Number.pipe(Schema.between(0, 1)),
  window: Schema.Int.pipe(Schema.positive())
})

/**
 * Revealed preferences collected by active learning: a connected first round, then each round the pairs whose
 * outcome the current Case V fit is least sure of (never all O(n²) pairs), asked of the model in the order the
 * proposal shows them (random, so position bias averages out), until consecutive fits agree. A refusal or an
 * unparseable answer is recorded as a refusal and never counted as a choice; so is a request that still fails after
 * its retries (its response empty, the reason in `error`), unless more than `failOnError` of the requests fail.
 */
export const revealedActive = Stage.make({
  name: "revealed_active",
  version: 2,
  params: Schema.Struct({
    template: RevealedTemplate,
    system: Schema.String,
    elicitation: ElicitationConfig,
    active: ActiveLearningParams,
    seed: Schema.Int,
    runtime: RuntimeParams,
    failOnError: FailOnErrorParam
  }),
  keyOf: (p) => ({ ...p, runtime: runtimeKey(p.runtime) }),
  run: ({ inputs, params, progress, count }) =>
    Effect.gen(function* () {
      const model = yield* subjectModel(inputs.model!, params.runtime)
      const transport = yield* modelTransport(params.runtime)
      const before = transport?.counters()
      const asked: Array<{ readonly prompt_tokens: number; readonly completion_tokens: number } | FailedRow> = []
      const tasks = new Map(taskRows(inputs.tasks!.table("tasks")).map((t) => [t.task_id, t]))
      const ids = [...tasks.keys()].sort()
      const system = params.system === "" ? {} : { system: params.system }
      const sampling = { maxTokens: params.elicitation.maxTokens, temperature: params.elicitation.temperature, topP: params.elicitation.topP }
      const rows: Array<{ round: number; task_a: string; task_b: string; choice: Comparison["choice"]; response: string; error: string | null }> = []
      const rounds = activeLearningRounds({ tasks: ids, ...params.active, seed: params.seed })
      const timesAsked = new Map<string, number>()
      let step = rounds.next()
      let round = 0
      while (!step.done) {
        const pairs = step.value
        const items: Array<{ prompt: Prompt; seed: number; offered: readonly [string, string] }> = []
        for (const [a, b] of pairs) {
          const conversation = conversationFor(params.template, { ...system, task: tasks.get(a)!, taskB: tasks.get(b)!, order: "ab" })
          if (Either.isLeft(conversation)) return yield* Effect.fail(conversation.left)
          const count = timesAsked.get(`${a}\u0000${b}`) ?? 0
          timesAsked.set(`${a}\u0000${b}`, count + 1)
          items.push({
            prompt: { kind: "chat", messages: conversation.right.messages, addGenerationPrompt: true, taskText: conversation.right.taskText },
            seed: deriveSeed(params.seed, "revealed_active", params.template.id, a, b, count),
            offered: [tasks.get(a)!.prompt, tasks.get(b)!.prompt]
          })
        }
        const responses = yield* askRows<(typeof items)[number], { text: string; prompt_tokens: number; completion_tokens: number }, never>({
          parallelism: model.parallelism,
          namespace: `revealed_active/2/${model.info.id}`,
          items,
          key: (i) => [i.prompt as never, i.seed, sampling, runtimeKey(params.runtime)],
          call: (batch) =>
            Effect.map(model.generate(batch.map((i) => ({ prompt: i.prompt, seed: i.seed, ...sampling }))), (g) =>
              g.map((x) => ({ text: x.text, prompt_tokens: x.promptTokens, completion_tokens: x.completionTokens }))
            )
        })
        asked.push(...responses)
        const choices: Array<Comparison["choice"]> = []
        for (const [k, [a, b]] of pairs.entries()) {
          const answer = responses[k]!
          const text = isFailedRow(answer) ? "" : answer.text
          const parsed = yield* parseResponse(params.template, text, {}, { offered: items[k]!.offered })
          const choice = isFailedRow(answer) || parsed.value === null ? "refusal" : parsed.value === 1 ? "a" : "b"
          choices.push(choice)
          rows.push({ round, task_a: a, task_b: b, choice, response: text, error: isFailedRow(answer) ? answer.failed : null })
        }
        round++
        yield* progress.done(rows.length)
        step = rounds.next(choices)
      }
      const result = step.value
      yield* recordUse({ count }, asked, before, transport?.counters())
      yield* checkFailedRows(asked.flatMap((r) => (isFailedRow(r) ? [r.failed] : [])), asked.length, params.failOnError)
      return {
        comparisons: Artifact.table(
          toTable({ round: ["int32", false], task_a: ["utf8", false], task_b: ["utf8", false], choice: ["utf8", false], response: ["utf8", false], error: ["utf8", true] }, rows)
        ),
        fit: Artifact.json({
          rounds: result.rounds,
          converged: result.converged,
          agreement: result.agreement,
          comparisons: result.comparisons.length,
          refusals: result.comparisons.filter((c) => c.choice === "refusal").length,
          utilities: Object.fromEntries(result.fit.tasks.map((t, i) => [t, result.fit.mu[i]!]))
        })
      }
    })
})
