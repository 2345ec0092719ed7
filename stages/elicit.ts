import { Effect, Either, Schema } from "effect"
import { memoMap } from "../cache/Memo"
import { conversationFor } from "../elicitation/Conversation"
import { Template } from "../elicitation/Template"
import type { Task } from "../datasets/Task"
import type { Prompt } from "../model/Prompt"
import * as Artifact from "../pipeline/Artifact"
import { ElicitationConfig } from "../pipeline/Config"
import { hashValue } from "../core/Key"
import * as Stage from "../pipeline/Stage"
import { RuntimeParams, runtimeKey, subjectModel } from "./modelInput"
import { deriveSeed } from "./seeds"
import { ElicitationsSchema, toTable } from "./tables"
import { firstCompletions, taskRows } from "./taskRows"

/** One question to put to the model: a task (and its partner for revealed templates), a sample and its seed. */
interface Item {
  readonly task: Task
  readonly partner?: Task
  readonly order?: "ab" | "ba"
  readonly sample: number
  readonly seed: number
  readonly prompt: Prompt
}

/** The answer labels whose probabilities a template's expected score is computed from, in the template's order. */
export const optionLabels = (template: Template): ReadonlyArray<string> => {
  switch (template.kind) {
    case "qualitative":
      return template.options.map((o) => o.label)
    case "stated":
      return Array.from({ length: template.scale.max - template.scale.min + 1 }, (_, i) => String(template.scale.min + i))
    default:
      return []
  }
}

/** Revealed pairs: each task with `perTask` partners ranked by a seeded hash (no O(n²) list), each unordered pair once. */
export const revealedPairs = (tasks: ReadonlyArray<Task>, perTask: number, seed: number): Array<readonly [Task, Task]> => {
  const sorted = [...tasks].sort((a, b) => (a.task_id < b.task_id ? -1 : 1))
  const n = sorted.length
  const seen = new Set<string>()
  const pairs: Array<readonly [Task, Task]> = []
  sorted.forEach((task, i) => {
    for (let k = 0; k < Math.min(perTask, n - 1); k++) {
      const j = (i + 1 + (deriveSeed(seed, "pair", task.task_id, k) % (n - 1))) % n
      const [a, b] = i < j ? [task, sorted[j]!] : [sorted[j]!, task]
      const id = `${a.task_id}\u0000${b.task_id}`
      if (seen.has(id)) continue
      seen.add(id)
      pairs.push([a, b])
    }
  })
  return pairs
}

const ElicitParams = Schema.Struct({
  template: Template,
  system: Schema.String,
  elicitation: ElicitationConfig,
  seed: Schema.Int,
  runtime: RuntimeParams
})

/**
 * Puts one template's question to the model for every task (post-task: after its own completion; revealed: both
 * orders of each pair), `samples` times with derived seeds, storing the raw answer and, where the template has
 * options or a scale, each option's probability.
 */
export const elicit = Stage.make({
  name: "elicit",
  version: 1,
  params: ElicitParams,
  keyOf: (p) => ({ ...p, runtime: runtimeKey(p.runtime) }),
  run: ({ inputs, params, progress }) =>
    Effect.gen(function* () {
      const { template, elicitation } = params
      const model = yield* subjectModel(inputs.model!, params.runtime)
      const tasks = taskRows(inputs.tasks!.table("tasks"))
      const completions = firstCompletions(inputs.completions)
      const system = params.system === "" ? {} : { system: params.system }
      const units: Array<Omit<Item, "sample" | "seed" | "prompt"> & { input: Parameters<typeof conversationFor>[1] }> =
        template.kind === "revealed"
          ? revealedPairs(tasks, elicitation.pairsPerTask, params.seed).flatMap(([a, b]) =>
              (["ab", "ba"] as const).map((order) => ({ task: a, partner: b, order, input: { ...system, task: a, taskB: b, order } }))
            )
          : tasks.map((task) => {
              const completion = completions.get(task.task_id)
              return { task, input: { ...system, task, ...(completion === undefined ? {} : { completion }) } }
            })
      const items: Item[] = []
      for (const unit of units) {
        const conversation = conversationFor(template, unit.input)
        if (Either.isLeft(conversation)) return yield* Effect.fail(conversation.left)
        const prompt: Prompt = {
          kind: "chat",
          messages: conversation.right.messages,
          addGenerationPrompt: true,
          taskText: conversation.right.taskText
        }
        for (let sample = 0; sample < elicitation.samples; sample++) {
          const identity = [template.id, unit.task.task_id, unit.partner?.task_id ?? "", unit.order ?? "", sample]
          items.push({ ...unit, sample, seed: deriveSeed(params.seed, "elicit", ...identity), prompt })
        }
      }
      yield* progress.total(items.length)
      const labels = elicitation.optionProbs ? optionLabels(template) : []
      const sampling = { maxTokens: elicitation.maxTokens, temperature: elicitation.temperature, topP: elicitation.topP }
      const answers = yield* memoMap({
        namespace: `elicit/1/${model.info.weightsHash}`,
        items,
        key: (i) => [i.prompt as never, i.seed, sampling, labels, runtimeKey(params.runtime)],
        batchSize: params.runtime.batchSize,
        onProgress: progress.done,
        compute: (batch) =>
          Effect.gen(function* () {
            const generations = yield* model.generate(batch.map((i) => ({ prompt: i.prompt, seed: i.seed, ...sampling })))
            const scores = labels.length === 0 ? [] : yield* model.scoreOptions(batch.map((i) => ({ prompt: i.prompt, options: labels })))
            return generations.map((g, k) => ({ response: g.text, option_probs: scores[k]?.normalized ?? null }))
          })
      })
      return {
        elicitations: Artifact.table(
          toTable(
            ElicitationsSchema,
            items.map((item, k) => ({
              task_id: item.task.task_id,
              template_id: template.id,
              sample: item.sample,
              seed: item.seed,
              prompt_hash: hashValue(item.prompt as never),
              response: answers[k]!.response,
              option_probs: answers[k]!.option_probs === null ? null : Array.from(answers[k]!.option_probs!),
              pair_task_id: item.partner?.task_id ?? null,
              order: item.order ?? null
            }))
          )
        )
      }
    })
})
