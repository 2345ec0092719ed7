import { Effect, Either, Schema } from "effect"
import { memoMap } from "../cache/Memo"
import { conversationFor } from "../elicitation/Conversation"
import { parseResponse } from "../elicitation/parse/Parse"
import { RevealedTemplate } from "../elicitation/Template"
import type { Prompt } from "../model/Prompt"
import * as Artifact from "../pipeline/Artifact"
import { ElicitationConfig } from "../pipeline/Config"
import * as Stage from "../pipeline/Stage"
import { activeLearningRounds } from "../stats/ranking/activeLearning"
import type { Comparison } from "../stats/ranking/pairCounts"
import { RuntimeParams, runtimeKey, subjectModel } from "./modelInput"
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
 * unparseable answer is recorded as a refusal and never counted as a choice.
 */
export const revealedActive = Stage.make({
  name: "revealed_active",
  version: 1,
  params: Schema.Struct({
    template: RevealedTemplate,
    system: Schema.String,
    elicitation: ElicitationConfig,
    active: ActiveLearningParams,
    seed: Schema.Int,
    runtime: RuntimeParams
  }),
  keyOf: (p) => ({ ...p, runtime: runtimeKey(p.runtime) }),
  run: ({ inputs, params, progress }) =>
    Effect.gen(function* () {
      const model = yield* subjectModel(inputs.model!, params.runtime)
      const tasks = new Map(taskRows(inputs.tasks!.table("tasks")).map((t) => [t.task_id, t]))
      const ids = [...tasks.keys()].sort()
      const system = params.system === "" ? {} : { system: params.system }
      const sampling = { maxTokens: params.elicitation.maxTokens, temperature: params.elicitation.temperature, topP: params.elicitation.topP }
      const rows: Array<{ round: number; task_a: string; task_b: string; choice: Comparison["choice"]; response: string }> = []
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
        const responses = yield* memoMap({
          namespace: `revealed_active/1/${model.info.weightsHash}`,
          items,
          key: (i) => [i.prompt as never, i.seed, sampling, runtimeKey(params.runtime)],
          batchSize: params.runtime.batchSize,
          compute: (batch) => Effect.map(model.generate(batch.map((i) => ({ prompt: i.prompt, seed: i.seed, ...sampling }))), (g) => g.map((x) => x.text))
        })
        const choices: Array<Comparison["choice"]> = []
        for (const [k, [a, b]] of pairs.entries()) {
          const parsed = yield* parseResponse(params.template, responses[k]!, {}, { offered: items[k]!.offered })
          const choice = parsed.value === null ? "refusal" : parsed.value === 1 ? "a" : "b"
          choices.push(choice)
          rows.push({ round, task_a: a, task_b: b, choice, response: responses[k]! })
        }
        round++
        yield* progress.done(rows.length)
        step = rounds.next(choices)
      }
      const result = step.value
      return {
        comparisons: Artifact.table(
          toTable({ round: ["int32", false], task_a: ["utf8", false], task_b: ["utf8", false], choice: ["utf8", false], response: ["utf8", false] }, rows)
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
