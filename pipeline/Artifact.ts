import * as arrow from "apache-arrow"

/** A stage output: a table (stored as Parquet), a matrix table (Arrow IPC, read without row parsing), JSON, or a folder of files. */
export type Artifact =
  | { readonly _tag: "Table"; readonly table: arrow.Table }
  | { readonly _tag: "Matrix"; readonly table: arrow.Table }
  | { readonly _tag: "Json"; readonly value: unknown }
  | { readonly _tag: "Files"; readonly files: Readonly<Record<string, Uint8Array>> }

/** A table artifact, stored as Parquet with zstd. */
export const table = (t: arrow.Table): Artifact => ({ _tag: "Table", table: t })
/**
 * How a matrix table reads as arrays (for `pipeline export`): the columns that identify a row, and the name of each
 * array as a template over the other key columns (`layer_{layer}`); rows sharing a name form one array.
 */
export interface MatrixLayout {
  readonly rows: ReadonlyArray<string>
  readonly arrays: string
}

const LAYOUT_KEY = "prefpipe.layout"

/** A table of large float vectors, stored as an Arrow IPC file; its layout, if given, travels in the schema's metadata. */
export const matrix = (t: arrow.Table, layout?: MatrixLayout): Artifact => {
  if (layout === undefined) return { _tag: "Matrix", table: t }
  const schema = new arrow.Schema(t.schema.fields, new Map([...t.schema.metadata, [LAYOUT_KEY, JSON.stringify(layout)]]))
  return { _tag: "Matrix", table: new arrow.Table(schema, t.batches.map((b) => new arrow.RecordBatch(schema, b.data))) }
}

/** The layout a matrix table declares, if any. */
export const matrixLayout = (t: arrow.Table): MatrixLayout | undefined => {
  const text = t.schema.metadata.get(LAYOUT_KEY)
  return text === undefined ? undefined : (JSON.parse(text) as MatrixLayout)
}
/** A JSON artifact, stored as canonical JSON. */
export const json = (value: unknown): Artifact => ({ _tag: "Json", value })
/** A folder of named files (a checkpoint, a rendered report). */
export const files = (f: Readonly<Record<string, Uint8Array>>): Artifact => ({ _tag: "Files", files: f })

/** What a downstream stage receives for one output of an input stage. */
export type Loaded =
  | { readonly _tag: "Table"; readonly table: arrow.Table }
  | { readonly _tag: "Matrix"; readonly table: arrow.Table }
  | { readonly _tag: "Json"; readonly value: unknown }
  | { readonly _tag: "Files"; readonly dir: string; readonly names: ReadonlyArray<string> }

/** The outputs of one input stage, by output name, with typed accessors that name what is missing. */
export interface LoadedOutputs {
  readonly stage: string
  readonly outputs: Readonly<Record<string, Loaded>>
  readonly table: (name: string) => arrow.Table
  readonly json: <A = unknown>(name: string) => A
  readonly dir: (name: string) => string
}

/** Wraps loaded outputs with accessors; a wrong name or kind is a defect in the stage that asked. */
export const loadedOutputs = (stage: string, outputs: Readonly<Record<string, Loaded>>): LoadedOutputs => {
  const get = (name: string, tags: ReadonlyArray<Loaded["_tag"]>): Loaded => {
    const o = outputs[name]
    if (o === undefined) throw new Error(`${stage} has no output "${name}" (it has ${Object.keys(outputs).join(", ")})`)
    if (!tags.includes(o._tag)) throw new Error(`${stage}.${name} is ${o._tag}, not ${tags.join(" or ")}`)
    return o
  }
  return {
    stage,
    outputs,
    table: (name) => (get(name, ["Table", "Matrix"]) as { table: arrow.Table }).table,
    json: <A>(name: string) => (get(name, ["Json"]) as { value: unknown }).value as A,
    dir: (name) => (get(name, ["Files"]) as { dir: string }).dir
  }
}
