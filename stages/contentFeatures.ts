import * as Artifact from "../pipeline/Artifact"
import type { LoadedOutputs } from "../pipeline/Artifact"
import { fromTable, matrixOf, toMatrixTable } from "./tables"

/** What a content stage says about its features beside the vectors (provider, width and provider-specific counts). */
export interface ContentInfo {
  readonly provider: string
  readonly dim: number
  readonly tasks: number
  readonly [detail: string]: unknown
}

/** A content stage's outputs: `features` (task_id, vector: fixed_size_list<float32>[dim]) and `info`. */
export const contentOutputs = (taskIds: ReadonlyArray<string>, vectors: ReadonlyArray<Float32Array>, info: ContentInfo) => ({
  features: Artifact.matrix(toMatrixTable({ task_id: taskIds }, vectors, info.dim)),
  info: Artifact.json(info)
})

/** The content features of the given tasks that have them, one row each in their order, and the tasks that have none. */
export const contentMatrix = (
  loaded: LoadedOutputs, taskIds: ReadonlyArray<string>
): { readonly matrix: { readonly data: Float64Array; readonly rows: number; readonly cols: number }; readonly present: ReadonlyArray<boolean>; readonly missing: ReadonlyArray<string> } => {
  const table = loaded.table("features")
  const ids = fromTable<{ task_id: string }>(table.select(["task_id"])).map((r) => r.task_id)
  const matrix = matrixOf(table)
  const rowOf = new Map(ids.map((id, i) => [id, i]))
  const dim = matrix.dim
  const present = taskIds.map((id) => rowOf.has(id))
  const kept = taskIds.filter((_, i) => present[i])
  const data = new Float64Array(kept.length * dim)
  kept.forEach((id, i) => {
    const r = rowOf.get(id)!
    for (let j = 0; j < dim; j++) data[i * dim + j] = matrix.data[r * dim + j]!
  })
  return { matrix: { data, rows: kept.length, cols: dim }, present, missing: taskIds.filter((_, i) => !present[i]) }
}
