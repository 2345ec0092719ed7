import { Effect, Schema } from "effect"
import type { Prompt } from "../model/Prompt"
import * as Artifact from "../pipeline/Artifact"
import { CompletionConfig } from "../pipeline/Config"
import * as Stage from "../pipeline/Stage"
import { modelTransport, RuntimeParams, runtimeKey, subjectModel } from "./modelInput"
import { askRows, isFailedRow, recordUse } from "./modelRows"
import { checkFailedRows, FailOnErrorParam } from "./rowFailures"
import { deriveSeed } from "./seeds"
import { stageDiagnostics } from "./stageDiagnostics"
import { CompletionsSchema, toTable } from "./tables"
import { taskRows } from "./taskRows"

/** The chat prompt in which the model does a task. */
export const taskPrompt = (system: string, prompt: string): Prompt => ({
  kind: "chat",
  messages: [...(system === "" ? [] : [{ role: "system" as const, content: system }]), { role: "user" as const, content: prompt }],
  addGenerationPrompt: true,
  taskText: prompt
})

const CompleteParams = Schema.Struct({ completion: CompletionConfig, system: Schema.String, seed: Schema.Int, runtime: RuntimeParams, failOnError: FailOnErrorParam })

/** One answered completion as the row memo keeps it. */
interface CompletionRow {
  readonly text: string
  readonly n_tokens: number
  readonly finish: string
  readonly prompt_tokens: number
  readonly served_model: string | null
}

/**
 * The subject model completes every task `samples` times through its chat template, one derived seed each. A request
 * that still fails after its retries is a failed row (finish "error", the reason in `error`); the stage fails only
 * when more than `failOnError` of its rows do.
 */
export const complete = Stage.make({
  name: "complete",
  version: 2,
  params: CompleteParams,
  keyOf: (p) => ({ ...p, runtime: runtimeKey(p.runtime) }),
  run: ({ inputs, params, progress, count }) =>
    Effect.gen(function* () {
      const model = yield* subjectModel(inputs.model!, params.runtime)
      const transport = yield* modelTransport(params.runtime)
      const before = transport?.counters()
      const tasks = taskRows(inputs.tasks!.table("tasks"))
      const items = tasks.flatMap((task) =>
        Array.from({ length: params.completion.samples }, (_, sample) => ({ task, sample, seed: deriveSeed(params.seed, "complete", task.task_id, sample) }))
      )
      yield* progress.total(items.length)
      const { samples: _samples, ...sampling } = params.completion
      const rows = yield* askRows<(typeof items)[number], CompletionRow, never>({
        parallelism: model.parallelism,
        namespace: `complete/2/${model.info.id}`,
        items,
        key: (i) => [i.task.prompt, params.system, i.seed, sampling, runtimeKey(params.runtime)],
        onProgress: progress.done,
        call: (batch) =>
          Effect.map(
            model.generate(
              batch.map((i) => ({
                prompt: taskPrompt(params.system, i.task.prompt),
                maxTokens: params.completion.maxTokens,
                temperature: params.completion.temperature,
                topP: params.completion.topP,
                seed: i.seed
              }))
            ),
            (gens) =>
              gens.map((g): CompletionRow => ({ text: g.text, n_tokens: g.completionTokens, finish: g.finish, prompt_tokens: g.promptTokens, served_model: g.servedModel ?? null }))
          )
      })
      yield* recordUse({ count }, rows.map((r) => (isFailedRow(r) ? r : { prompt_tokens: r.prompt_tokens, completion_tokens: r.n_tokens })), before, transport?.counters())
      yield* checkFailedRows(rows.flatMap((r) => (isFailedRow(r) ? [r.failed] : [])), rows.length, params.failOnError)
      return {
        completions: Artifact.table(
          toTable(
            CompletionsSchema,
            items.map((i, k) => {
              const row = rows[k]!
              const base = { task_id: i.task.task_id, sample: i.sample, seed: i.seed }
              return isFailedRow(row)
                ? { ...base, text: "", n_tokens: 0, finish: "error", prompt_tokens: null, served_model: null, error: row.failed }
                : { ...base, ...row, error: null }
            })
          )
        ),
        diagnostics: Artifact.json(stageDiagnostics(inputs))
      }
    })
})
