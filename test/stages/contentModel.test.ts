import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { loadedOutputs } from "../../pipeline/Artifact"
import { contentMatrix } from "../../stages/contentFeatures"
import { contentModel } from "../../stages/contentModel"
import { TasksSchema, toTable } from "../../stages/tables"
import { tinyConfig, tinyWeights, tinyWords, writeTinyCheckpoint } from "../model/tinyCheckpoint"

const tasks = [
  { task_id: "t1", origin: "a", prompt: "the cat sat", meta: "{}" },
  { task_id: "t2", origin: "b", prompt: "a red dog ran on the mat", meta: "{}" }
]

const run = (checkpoint: string) =>
  contentModel.run({
    node: "content_model",
    key: "k",
    params: { checkpoint },
    inputs: { tasks: loadedOutputs("sample", { tasks: { _tag: "Table", table: toTable(TasksSchema, tasks) } }) },
    progress: { total: () => Effect.void, done: () => Effect.void }
  })

describe("content_model", () => {
  it.effect("each task's vector is the mean input embedding of its words, tokenized alone (no BOS)", () =>
    Effect.gen(function* () {
      const out = yield* run(writeTinyCheckpoint())
      const features = loadedOutputs("content_model", { features: out.features as never, info: out.info as never })
      const { matrix, missing } = contentMatrix(features, ["t1", "t2"])
      expect(missing).toEqual([])
      const embedding = tinyWeights(tinyConfig(), false).find((t) => t.name === "model.embed_tokens.weight")!.data
      const dim = 16
      tasks.forEach((task, i) => {
        const ids = task.prompt.split(" ").map((w) => tinyWords.indexOf(w))
        for (let j = 0; j < dim; j++) {
          const expected = ids.reduce((s, id) => s + embedding[id * dim + j]!, 0) / ids.length
          expect(Math.abs(matrix.data[i * dim + j]! - expected)).toBeLessThan(1e-6)
        }
      })
      expect(features.json("info")).toEqual({ provider: "model", dim, tasks: 2, tokens: 10, distinct_tokens: 9 })
    }))

  it("keys by the model input only: the checkpoint's folder never enters the key", () => {
    expect(contentModel.keyOf!({ checkpoint: "/models/a" })).toEqual(contentModel.keyOf!({ checkpoint: "/elsewhere/b" }))
  })

  it.effect("names the folder and file when the checkpoint cannot be read", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(run("/nonexistent/checkpoint"))
      expect(String(error)).toContain("/nonexistent/checkpoint: tokenizer.json")
    }))
})
