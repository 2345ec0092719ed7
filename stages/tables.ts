import * as arrow from "apache-arrow"

/** A column type of the data contracts (DESIGN.md); `?` marks nullable columns. */
export type ColumnType = "utf8" | "int32" | "int64" | "float64" | "bool" | "list<float64>" | "list<utf8>"
type Column = readonly [ColumnType, boolean]

/** A table's columns by name, in order, each with its type and nullability. */
export type TableSchema = Readonly<Record<string, Column>>

const req = (t: ColumnType): Column => [t, false]
const opt = (t: ColumnType): Column => [t, true]

/** tasks: task_id, origin, prompt, meta (JSON). */
export const TasksSchema = { task_id: req("utf8"), origin: req("utf8"), prompt: req("utf8"), meta: req("utf8") } satisfies TableSchema
/**
 * completions: one row per task and sample; `n_tokens` are the completion's tokens (an API server counts the
 * end-of-sequence token too, as vLLM does; the local runtime does not), `prompt_tokens` the prompt's, `served_model`
 * the name an API server answered under; a row whose request failed has `finish` "error", empty text and the reason
 * in `error`.
 */
export const CompletionsSchema = {
  task_id: req("utf8"), sample: req("int32"), seed: req("int64"), text: req("utf8"), n_tokens: req("int32"), finish: req("utf8"),
  prompt_tokens: opt("int32"), served_model: opt("utf8"), error: opt("utf8")
} satisfies TableSchema
/**
 * elicitations: the raw answer to a template and each option's probability (null where the model could not give
 * them), with the request's token usage and served model name; a failed row has an empty response and its reason.
 */
export const ElicitationsSchema = {
  task_id: req("utf8"), template_id: req("utf8"), sample: req("int32"), seed: req("int64"), prompt_hash: req("utf8"),
  response: req("utf8"), option_probs: opt("list<float64>"), pair_task_id: opt("utf8"), order: opt("utf8"),
  prompt_tokens: opt("int32"), completion_tokens: opt("int32"), served_model: opt("utf8"), error: opt("utf8")
} satisfies TableSchema
/** scores: parsed values on the template's own scale, normalized to 0-1 by its declared range. */
export const ScoresSchema = {
  task_id: req("utf8"), template_id: req("utf8"), sample: req("int32"), value: opt("float64"), normalized: opt("float64"),
  expected: opt("float64"), tier: req("utf8"), reason: opt("utf8"), pair_task_id: opt("utf8"), order: opt("utf8")
} satisfies TableSchema

const arrowType = (t: ColumnType): arrow.DataType => {
  switch (t) {
    case "utf8":
      return new arrow.Utf8()
    case "int32":
      return new arrow.Int32()
    case "int64":
      return new arrow.Int64()
    case "float64":
      return new arrow.Float64()
    case "bool":
      return new arrow.Bool()
    case "list<float64>":
      return new arrow.List(new arrow.Field("item", new arrow.Float64(), false))
    case "list<utf8>":
      return new arrow.List(new arrow.Field("item", new arrow.Utf8(), false))
  }
}

/** Builds an Arrow table with exactly the schema's columns; a missing required value names its row and column. */
export const toTable = <S extends TableSchema>(schema: S, rows: ReadonlyArray<Record<string, unknown>>): arrow.Table => {
  const fields: arrow.Field[] = []
  const columns: Record<string, arrow.Vector> = {}
  for (const [name, [type, nullable]] of Object.entries(schema)) {
    const values = rows.map((r, i) => {
      const v = r[name]
      if ((v === undefined || v === null) && !nullable) throw new Error(`toTable: row ${i} has no value for required column "${name}"`)
      if (v === undefined || v === null) return null
      return type === "int64" ? BigInt(v as number) : v
    })
    fields.push(new arrow.Field(name, arrowType(type), nullable))
    columns[name] = arrow.vectorFromArray(values, arrowType(type))
  }
  return new arrow.Table(new arrow.Schema(fields), columns)
}

/** Reads an Arrow table back as plain rows (int64 as number, lists as arrays). */
export const fromTable = <A = Record<string, unknown>>(table: arrow.Table): A[] => {
  const names = table.schema.fields.map((f) => f.name)
  const columns = names.map((n) => table.getChild(n)!)
  const out: A[] = []
  for (let i = 0; i < table.numRows; i++) {
    const row: Record<string, unknown> = {}
    names.forEach((n, j) => {
      const v = columns[j]!.get(i) as unknown
      row[n] =
        typeof v === "bigint" ? Number(v) : v !== null && typeof v === "object" && "toArray" in (v as object) ? Array.from((v as arrow.Vector).toArray() as ArrayLike<unknown>) : v
    })
    out.push(row as A)
  }
  return out
}

/** A table of fixed-size float32 vectors with string key columns (activations), built without per-element boxing. */
export const toMatrixTable = (
  keys: Readonly<Record<string, ReadonlyArray<string | number>>>,
  vectors: ReadonlyArray<Float32Array>,
  dim: number
): arrow.Table => {
  const flat = new Float32Array(vectors.length * dim)
  vectors.forEach((v, i) => {
    if (v.length !== dim) throw new Error(`toMatrixTable: vector ${i} has length ${v.length}, expected ${dim}`)
    flat.set(v, i * dim)
  })
  const child = arrow.makeData({ type: new arrow.Float32(), length: flat.length, data: flat })
  const type = new arrow.FixedSizeList(dim, new arrow.Field("item", new arrow.Float32(), false))
  const vectorData = arrow.makeData({ type, length: vectors.length, nullCount: 0, child })
  const columns: Record<string, arrow.Vector> = {}
  for (const [name, values] of Object.entries(keys)) {
    columns[name] = typeof values[0] === "number" ? arrow.vectorFromArray(values as number[], new arrow.Int32()) : arrow.vectorFromArray(values as string[], new arrow.Utf8())
  }
  columns.vector = arrow.makeVector(vectorData)
  return new arrow.Table(columns)
}

/** The vectors of a matrix table as one row-major Float32Array view (no copy when the column is contiguous). */
export const matrixOf = (table: arrow.Table): { readonly data: Float32Array; readonly rows: number; readonly dim: number } => {
  const column = table.getChild("vector")!
  const type = column.type as arrow.FixedSizeList
  const dim = type.listSize
  const data = new Float32Array(table.numRows * dim)
  let offset = 0
  for (const chunk of column.data) {
    const values = chunk.children[0]!.values as Float32Array
    const start = chunk.offset * dim
    data.set(values.subarray(start, start + chunk.length * dim), offset)
    offset += chunk.length * dim
  }
  return { data, rows: table.numRows, dim }
}
