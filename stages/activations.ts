import { Effect, Either, Schema } from "effect"
import { memoMap } from "../cache/Memo"
import { conversationFor } from "../elicitation/Conversation"
import { Template } from "../elicitation/Template"
import type { Prompt } from "../model/Prompt"
import * as Artifact from "../pipeline/Artifact"
import { ActivationLayers } from "../pipeline/Config"
import * as Stage from "../pipeline/Stage"
import { RuntimeParams, runtimeKey, subjectModel } from "./modelInput"
import { toMatrixTable } from "./tables"
import { failedCompletions, firstCompletions, taskRows } from "./taskRows"

const toBase64 = (v: Float32Array) => Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("base64")
const fromBase64 = (s: string) => {
  const bytes = Buffer.from(s, "base64")
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength))
}

/**
 * Residual-stream activations of the subject model (or, for a model served over HTTP, of the local checkpoint of its
 * weights, through that checkpoint's chat template) on each task's elicitation prompt for one template (the question
 * included; post-task prompts hold the model's own completion), at every configured layer and position selector. A
 * task whose completion failed has no post-task prompt and no activations.
 */
export const activations = Stage.make({
  name: "activations",
  version: 2,
  params: Schema.Struct({ template: Template, system: Schema.String, activations: ActivationLayers, runtime: RuntimeParams }),
  keyOf: (p) => ({ ...p, runtime: runtimeKey(p.runtime) }),
  run: ({ inputs, params, progress }) =>
    Effect.gen(function* () {
      const model = yield* subjectModel(inputs.model!, params.runtime)
      const tasks = taskRows(inputs.tasks!.table("tasks"))
      const completions = firstCompletions(inputs.completions)
      const failed = params.template.timing === "post" ? failedCompletions(inputs.completions) : new Map<string, string>()
      const system = params.system === "" ? {} : { system: params.system }
      const items: Array<{ task_id: string; prompt: Prompt }> = []
      for (const task of tasks) {
        if (failed.has(task.task_id)) continue
        const completion = completions.get(task.task_id)
        const conversation = conversationFor(params.template, { ...system, task, ...(completion === undefined ? {} : { completion }) })
        if (Either.isLeft(conversation)) return yield* Effect.fail(conversation.left)
        items.push({
          task_id: task.task_id,
          prompt: { kind: "chat", messages: conversation.right.messages, addGenerationPrompt: true, taskText: conversation.right.taskText }
        })
      }
      const { layers, selectors } = params.activations
      yield* progress.total(items.length)
      const captured = yield* memoMap({
        namespace: `activations/1/${model.info.id}`,
        items,
        key: (i) => [i.prompt as never, [...layers], [...selectors], runtimeKey(params.runtime)],
        batchSize: params.runtime.batchSize,
        onProgress: progress.done,
        compute: (batch) =>
          Effect.map(model.activations(batch.map((i) => ({ prompt: i.prompt, layers, selectors }))), (results) =>
            results.map((r) => selectors.map((s) => layers.map((l) => toBase64(r[s]![l]!))))
          )
      })
      const keys = { task_id: [] as string[], template_id: [] as string[], sample: [] as number[], layer: [] as number[], position: [] as string[] }
      const vectors: Float32Array[] = []
      items.forEach((item, i) => {
        selectors.forEach((selector, s) =>
          layers.forEach((layer, l) => {
            keys.task_id.push(item.task_id)
            keys.template_id.push(params.template.id)
            keys.sample.push(0)
            keys.layer.push(layer)
            keys.position.push(selector)
            vectors.push(fromBase64(captured[i]![s]![l]!))
          })
        )
      })
      const arrays = selectors.length === 1 ? "layer_{layer}" : "layer_{layer}_{position}"
      return { activations: Artifact.matrix(toMatrixTable(keys, vectors, model.info.hiddenSize), { rows: ["task_id", "sample"], arrays }) }
    })
})
