import { describe, expect, it } from "@effect/vitest"
import { decodeIpc, decodeParquet, encodeIpc, encodeParquet } from "../../cache/TableCodecs"
import { ElicitationsSchema, fromTable, matrixOf, toMatrixTable, toTable } from "../../stages/tables"

describe("contract tables", () => {
  it("round-trip through Parquet with nullable lists and int64 seeds", () => {
    const rows = [
      { task_id: "a", template_id: "q", sample: 0, seed: 12345678901, prompt_hash: "h", response: "good", option_probs: [0.7, 0.3], pair_task_id: null, order: null, prompt_tokens: 60, completion_tokens: 1, served_model: "m", error: null },
      { task_id: "b", template_id: "q", sample: 1, seed: 2, prompt_hash: "h2", response: "bad", option_probs: null, pair_task_id: "c", order: "ab", prompt_tokens: null, completion_tokens: null, served_model: null, error: "HTTP 500" }
    ]
    const back = fromTable(decodeParquet(encodeParquet(toTable(ElicitationsSchema, rows))))
    expect(back).toEqual(rows)
  })
  it("names the row and column of a missing required value", () => {
    expect(() => toTable(ElicitationsSchema, [{ task_id: "a" }])).toThrow(/row 0 .*"template_id"/)
  })
  it("stores vectors as a fixed-size list readable as one matrix", () => {
    const vectors = [new Float32Array([1, 2, 3]), new Float32Array([4, 5, 6])]
    const table = toMatrixTable({ task_id: ["x", "y"], layer: [1, 1] }, vectors, 3)
    const back = matrixOf(decodeIpc(encodeIpc(table)))
    expect(back.dim).toBe(3)
    expect(Array.from(back.data)).toEqual([1, 2, 3, 4, 5, 6])
  })
})
