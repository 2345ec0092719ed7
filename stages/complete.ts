import { Effect, Schema } from "effect"
import { memoMap } from "../cache/Memo"
import type { Prompt } from "../model/Prompt"
import * as Artifact from "../pipeline/Artifact"
import { CompletionConfig } from "../pipeline/Config"
import * as Stage from "../pipeline/Stage"
import { RuntimeParams, runtimeKey, subjectModel } from "./modelInput"
import { deriveSeed } from "./seeds"
import { CompletionsSchema, toTable } from "./tables"
import { taskRows } from "./taskRows"

/** The chat prompt in which the model does a task. */
export const taskPrompt = (system: string, prompt: string): Prompt => ({
  kind: "chat",
  messages: [...(system === "" ? [] : [{ role: "system" as const, content: system }]), { role: "user" as const, content: prompt }],
  addGenerationPrompt: true,
  taskText: prompt
})

const CompleteParams = Schema.Struct({ completion: CompletionConfig, system: Schema.String, seed: Schema.Int, runtime: RuntimeParams })

/** The subject model completes every task `samples` times through its chat template, one derived seed each. */
export const complete = Stage.make({
  name: "complete",
  version: 1,
  params: CompleteParams,
  keyOf: (p) => ({ ...p, runtime: runtimeKey(p.runtime) }),
  run: ({ inputs, params, progress }) =>
    Effect.gen(function* () {
      const model = yield* subjectModel(inputs.model!, params.runtime)
      const tasks = taskRows(inputs.tasks!.table("tasks"))
      const items = tasks.flatMap((task) =>
        Array.from({ length: params.completion.samples }, (_, sample) => ({ task, sample, seed: deriveSeed(params.seed, "complete", task.task_id, sample) }))
      )
      yield* progress.total(items.length)
      const { samples: _samples, ...sampling } = params.completion
      const rows = yield* memoMap({
        namespace: `complete/1/${model.info.weightsHash}`,
        items,
        key: (i) => [i.task.prompt, params.system, i.seed, sampling, runtimeKey(params.runtime)],
        batchSize: params.runtime.batchSize,
        onProgress: progress.done,
        compute: (batch) =>
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
            (gens) => gens.map((g) => ({ text: g.text, n_tokens: g.tokenIds.length, finish: g.finish }))
          )
      })
      return {
        completions: Artifact.table(
          toTable(
            CompletionsSchema,
            items.map((i, k) => ({ task_id: i.task.task_id, sample: i.sample, seed: i.seed, ...rows[k]! }))
          )
        )
      }
    })
})
