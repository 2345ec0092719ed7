import { Effect, Either, Schema } from "effect"
import { conversationFor } from "../elicitation/Conversation"
import { Template } from "../elicitation/Template"
import type { Task } from "../datasets/Task"
import type { Prompt } from "../model/Prompt"
import * as Artifact from "../pipeline/Artifact"
import { ElicitationConfig } from "../pipeline/Config"
import { hashValue } from "../core/Key"
import * as Stage from "../pipeline/Stage"
import { modelTransport, RuntimeParams, runtimeKey, subjectModel } from "./modelInput"
import { askRows, type FailedRow, isFailedRow, recordUse } from "./modelRows"
import { checkFailedRows, countReasons, FailOnErrorParam } from "./rowFailures"
import { deriveSeed } from "./seeds"
import { type StageDiagnostic, stageDiagnostics } from "./stageDiagnostics"
import { ElicitationsSchema, toTable } from "./tables"
import { failedCompletions, firstCompletions, taskRows } from "./taskRows"

/** One question to put to the model: a task (and its partner for revealed templates), a sample and its seed. */
interface Item {
  readonly task: Task
  readonly partner?: Task
  readonly order?: "ab" | "ba"
  readonly sample: number
  readonly seed: number
  readonly prompt: Prompt
  /** Set when the question cannot be asked: the task's completion failed upstream (the reason). */
  readonly blocked?: string
}

/** One answer as the row memo keeps it. */
interface Answer {
  readonly response: string
  readonly option_probs: ReadonlyArray<number> | null
  /** Why `option_probs` is null although the template has options. */
  readonly option_note: string | null
  readonly prompt_tokens: number
  readonly completion_tokens: number
  readonly served_model: string | null
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
  runtime: RuntimeParams,
  failOnError: FailOnErrorParam
})

/** The answer columns of an elicitation row; a failed row has an empty response and its reason. */
const answerColumns = (a: Answer | FailedRow) =>
  isFailedRow(a)
    ? { response: "", option_probs: null, prompt_tokens: null, completion_tokens: null, served_model: null, error: a.failed }
    : {
        response: a.response,
        option_probs: a.option_probs === null ? null : Array.from(a.option_probs),
        prompt_tokens: a.prompt_tokens,
        completion_tokens: a.completion_tokens,
        served_model: a.served_model,
        error: null
      }

/** How many of an API model's answers have no option probabilities, and why, naming the model and its servers. */
const optionDiagnostics = (node: string, runtime: typeof RuntimeParams.Type, answers: ReadonlyArray<Answer | FailedRow>, labels: ReadonlyArray<string>): StageDiagnostic[] => {
  if (labels.length === 0 || runtime.api === undefined) return []
  const answered = answers.filter((a): a is Answer => !isFailedRow(a))
  const missing = answered.flatMap((a) => (a.option_probs === null ? [a.option_note ?? "no option probabilities"] : []))
  if (missing.length === 0) return []
  return [{
    level: "warning",
    code: "option-probs-missing",
    message:
      `${node}: ${missing.length} of ${answered.length} answers have no option probabilities from ${runtime.api.model} at ` +
      `${runtime.api.endpoints.map((e) => e.baseUrl).join(", ")}: ${countReasons(missing).map(([r, n]) => `${r} (${n})`).join("; ")}. ` +
      "Their expected scores are missing; their sampled answers are parsed as usual"
  }]
}

/**
 * Puts one template's question to the model for every task (post-task: after its own completion; revealed: both
 * orders of each pair), `samples` times with derived seeds, storing the raw answer and, where the template has
 * options or a scale, each option's probability (an API model gives them from logprobs where the options are single
 * tokens). A request still failing after its retries is a failed row, and so is a post-task question whose
 * completion failed; the stage fails only when more than `failOnError` of its own requests do.
 */
export const elicit = Stage.make({
  name: "elicit",
  version: 2,
  params: ElicitParams,
  keyOf: (p) => ({ ...p, runtime: runtimeKey(p.runtime) }),
  run: ({ node, inputs, params, progress, count }) =>
    Effect.gen(function* () {
      const { template, elicitation } = params
      const model = yield* subjectModel(inputs.model!, params.runtime)
      const transport = yield* modelTransport(params.runtime)
      const before = transport?.counters()
      const tasks = taskRows(inputs.tasks!.table("tasks"))
      const completions = firstCompletions(inputs.completions)
      const failed = failedCompletions(inputs.completions)
      const system = params.system === "" ? {} : { system: params.system }
      const units: Array<Omit<Item, "sample" | "seed" | "prompt"> & { input: Parameters<typeof conversationFor>[1] }> =
        template.kind === "revealed"
          ? revealedPairs(tasks, elicitation.pairsPerTask, params.seed).flatMap(([a, b]) =>
              (["ab", "ba"] as const).map((order) => ({ task: a, partner: b, order, input: { ...system, task: a, taskB: b, order } }))
            )
          : tasks.map((task) => {
              const completion = completions.get(task.task_id)
              const blocked = template.timing === "post" ? failed.get(task.task_id) : undefined
              if (blocked !== undefined) return { task, blocked, input: { ...system, task, completion: "" } }
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
        const { input: _input, ...rest } = unit
        for (let sample = 0; sample < elicitation.samples; sample++) {
          const identity = [template.id, unit.task.task_id, unit.partner?.task_id ?? "", unit.order ?? "", sample]
          items.push({ ...rest, sample, seed: deriveSeed(params.seed, "elicit", ...identity), prompt })
        }
      }
      const asked = items.filter((i) => i.blocked === undefined)
      yield* progress.total(asked.length)
      const labels = elicitation.optionProbs ? optionLabels(template) : []
      const sampling = { maxTokens: elicitation.maxTokens, temperature: elicitation.temperature, topP: elicitation.topP }
      const answered = yield* askRows<Item, Answer, never>({
        parallelism: model.parallelism,
        namespace: `elicit/2/${model.info.id}`,
        items: asked,
        key: (i) => [i.prompt as never, i.seed, sampling, labels, runtimeKey(params.runtime)],
        onProgress: progress.done,
        call: (batch) =>
          Effect.map(model.generate(batch.map((i) => ({ prompt: i.prompt, seed: i.seed, ...sampling, ...(labels.length === 0 ? {} : { options: labels }) }))), (generations) =>
            generations.map((g): Answer => ({
              response: g.text,
              option_probs: labels.length === 0 ? null : g.optionProbs ?? null,
              option_note: g.optionNote ?? null,
              prompt_tokens: g.promptTokens,
              completion_tokens: g.completionTokens,
              served_model: g.servedModel ?? null
            }))
          )
      })
      const byItem = new Map(asked.map((item, k) => [item, answered[k]!]))
      const answers = items.map((item): Answer | FailedRow => byItem.get(item) ?? { failed: `completion failed: ${item.blocked}` })
      yield* recordUse({ count }, answers, before, transport?.counters())
      yield* checkFailedRows(answered.flatMap((r) => (isFailedRow(r) ? [r.failed] : [])), asked.length, params.failOnError)
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
              pair_task_id: item.partner?.task_id ?? null,
              order: item.order ?? null,
              ...answerColumns(answers[k]!)
            }))
          )
        ),
        diagnostics: Artifact.json(stageDiagnostics(inputs, optionDiagnostics(node, params.runtime, answers, labels)))
      }
    })
})
