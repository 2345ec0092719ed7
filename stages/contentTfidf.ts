import { Effect } from "effect"
import { TfidfConfig } from "../pipeline/Config"
import * as Stage from "../pipeline/Stage"
import { hashedTfidf } from "../stats/tfidf"
import { contentOutputs } from "./contentFeatures"
import { taskRows } from "./taskRows"

/**
 * Content features from the task text alone: word and word-pair tf-idf with idf over the sampled tasks, hashed to
 * `width` columns (stats/tfidf.ts). Reads only the tasks, so no template, model or answer can rerun it.
 */
export const contentTfidf = Stage.make({
  name: "content_tfidf",
  version: 1,
  params: TfidfConfig,
  run: ({ inputs, params, progress }) =>
    Effect.gen(function* () {
      const tasks = taskRows(inputs.tasks!.table("tasks"))
      yield* progress.total(tasks.length)
      const hashed = hashedTfidf(tasks.map((t) => t.prompt), { width: params.width, maxN: params.ngrams, minDf: params.minDf })
      const { data, cols } = hashed.matrix
      const vectors = tasks.map((_, i) => Float32Array.from(data.subarray(i * cols, (i + 1) * cols)))
      yield* progress.done(tasks.length)
      return contentOutputs(tasks.map((t) => t.task_id), vectors, {
        provider: "tfidf", dim: cols, tasks: tasks.length, ngrams: params.ngrams, min_df: params.minDf,
        terms: hashed.terms, occupied_columns: hashed.occupied, collided_terms: hashed.collided, empty_tasks: hashed.empty
      })
    })
})
