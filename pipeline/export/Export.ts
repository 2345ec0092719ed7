import * as arrow from "apache-arrow"
import { Effect, Either } from "effect"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { getAction, type ActionRecord, type OutputRecord } from "../../cache/Actions"
import { encodeParquet } from "../../cache/TableCodecs"
import { CacheDir } from "../../cache/CacheDir"
import { getObject } from "../../cache/Objects"
import { CorruptObject, StoreError } from "../../cache/StoreErrors"
import { matrixLayout } from "../Artifact"
import { loadOutput } from "../Build"
import { ExportError, UnknownHash } from "../Errors"
import { findHash } from "../Provenance"
import { descrOf, npyBytes, npyData, npyHeader, type NpyArray } from "./Numpy"
import { zipStored } from "./Zip"

/** What `pipeline export` writes: tables and matrices as Parquet; matrices as `.npz`; or tables as CSV and matrices as `.npy`. */
export type ExportFormat = "parquet" | "npz" | "csv"

/** One array inside an exported `.npy` or `.npz` file. */
export interface ExportedArray {
  readonly name: string
  readonly dtype: string
  readonly shape: ReadonlyArray<number>
}

/** One written file, as `manifest.json` lists it: where it came from (stage, key, output, content hash) and what it holds. */
export interface ExportedFile {
  readonly path: string
  readonly node: string
  readonly stage: string
  readonly key: string
  readonly output: string
  readonly kind: OutputRecord["kind"]
  /** The content hash of the output in the cache (for a folder output, of the file). */
  readonly hash: string
  readonly sha256: string
  readonly bytes: number
  readonly rows?: number
  readonly arrays?: ReadonlyArray<ExportedArray>
}

/** `manifest.json`: what was exported, from which build or stage, in which format. */
export interface ExportManifest {
  readonly source: { readonly build: string; readonly target: string } | { readonly stage: string; readonly node: string }
  readonly format: ExportFormat
  readonly files: ReadonlyArray<ExportedFile>
}

/** Called once per written file, with how many of the outputs are done (progress). */
export type OnExported = (file: ExportedFile, outputsDone: number, outputs: number) => Effect.Effect<void>

const SAFE = /[^A-Za-z0-9._@=+-]/g

/** A node id as folders: `activations[qualitative_post_v1]` → `activations/qualitative_post_v1`. */
const nodeFolder = (node: string): string => {
  const match = /^([^[]+)\[(.*)\]$/.exec(node)
  return match === null ? node.replace(SAFE, "_") : `${match[1]!.replace(SAFE, "_")}/${match[2]!.replace(SAFE, "_")}`
}

/** Where an output goes, without extension: an output named like its stage is the node's folder itself. */
const outputStem = (record: ActionRecord, output: string): string =>
  output === record.components.stage ? nodeFolder(record.node) : `${nodeFolder(record.node)}/${output.replace(SAFE, "_")}`

/** The stages to export: every stage of a build, or the one stage a key names. */
const sourceOf = (hash: string) =>
  Effect.gen(function* () {
    const found = yield* findHash(hash)
    if ("action" in found) {
      return { source: { stage: found.action.key, node: found.action.node }, actions: [found.action] } as const
    }
    const actions: ActionRecord[] = []
    for (const s of found.build.stages) {
      const action = yield* getAction(s.key)
      if (action === undefined) {
        return yield* new UnknownHash({ hash, reason: `stage ${s.node} of this build is no longer in the cache (rebuild it, then export)` })
      }
      actions.push(action)
    }
    return { source: { build: found.build.build, target: found.build.target }, actions } as const
  })

const csvField = (value: string): string => (/[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value)

const csvCell = (value: unknown): string => {
  if (value === null || value === undefined) return ""
  if (typeof value === "number") return Number.isNaN(value) ? "NaN" : String(value)
  if (typeof value === "bigint" || typeof value === "boolean" || typeof value === "string") return String(value)
  if (value instanceof arrow.Vector) return JSON.stringify(Array.from(value.toArray() as ArrayLike<unknown>, (v) => (typeof v === "bigint" ? Number(v) : v)))
  return JSON.stringify(value)
}

/** A table as RFC 4180 CSV: header row, CRLF line ends, full-precision numbers, empty cells for nulls, lists as JSON. */
export const tableToCsv = (table: arrow.Table): string => {
  const names = table.schema.fields.map((f) => f.name)
  const columns = names.map((n) => table.getChild(n)!)
  const lines = [names.map(csvField).join(",")]
  for (let i = 0; i < table.numRows; i++) lines.push(columns.map((c) => csvField(csvCell(c.get(i)))).join(","))
  return lines.join("\r\n") + "\r\n"
}

/** A named array of an exported matrix. */
export type NamedArray = NpyArray & { readonly name: string }

/**
 * The arrays a matrix table reads as: one per row-key column (`task_ids`, `samples`) and one 2-D float32 array per
 * group of rows its layout names (`layer_1`); a table without a layout is one array with every key column per row.
 * Left: why the table cannot be read so.
 */
export const matrixArrays = (
  table: arrow.Table
): Either.Either<{ readonly rowKeys: ReadonlyArray<NamedArray>; readonly groups: ReadonlyArray<NamedArray> }, string> => {
  const vectorField = table.schema.fields.find((f) => arrow.DataType.isFixedSizeList(f.type) && arrow.DataType.isFloat((f.type as arrow.FixedSizeList).children[0]!.type))
  if (vectorField === undefined) return Either.left("a matrix without a fixed-size float32 vector column")
  const dim = (vectorField.type as arrow.FixedSizeList).listSize
  const keys = table.schema.fields.filter((f) => f !== vectorField).map((f) => f.name)
  const layout = matrixLayout(table) ?? { rows: keys, arrays: vectorField.name }
  const placeholders = [...layout.arrays.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!)
  const unknown = [...layout.rows, ...placeholders].find((c) => !keys.includes(c))
  if (unknown !== undefined) return Either.left(`its layout names a column "${unknown}" it does not have (columns: ${keys.join(", ")})`)
  const column = (name: string) => table.getChild(name)!
  const nameOf = (i: number) => layout.arrays.replace(/\{([^}]+)\}/g, (_, c: string) => String(column(c).get(i))).replace(SAFE, "_")
  const groups = new Map<string, number[]>()
  for (let i = 0; i < table.numRows; i++) {
    const name = nameOf(i)
    const rows = groups.get(name) ?? []
    rows.push(i)
    groups.set(name, rows)
  }
  const first = [...groups.values()][0] ?? []
  const rowKey = (i: number) => JSON.stringify(layout.rows.map((c) => String(column(c).get(i))))
  const expected = first.map(rowKey)
  if (new Set(expected).size < expected.length) {
    return Either.left(`rows repeat their ${layout.rows.join(", ")} within array "${[...groups.keys()][0]}"; the layout's array names must tell them apart`)
  }
  for (const [name, rows] of groups) {
    if (rows.length !== first.length || rows.some((r, j) => rowKey(r) !== expected[j])) {
      return Either.left(`array "${name}" does not have the same rows (${layout.rows.join(", ")}) in the same order as the first`)
    }
  }
  const rowKeys: NamedArray[] = []
  for (const c of layout.rows) {
    const type = column(c).type
    const values = first.map((i) => column(c).get(i) as unknown)
    if (arrow.DataType.isUtf8(type)) rowKeys.push({ name: `${c}s`, dtype: "<U", shape: [first.length], data: values as string[] })
    else if (arrow.DataType.isInt(type) && (type as arrow.Int).bitWidth <= 32)
      rowKeys.push({ name: `${c}s`, dtype: "<i4", shape: [first.length], data: Int32Array.from(values as number[]) })
    else return Either.left(`row column "${c}" is ${String(type)}; only strings and 32-bit integers export as arrays`)
  }
  const clash = rowKeys.find((k) => groups.has(k.name))
  if (clash !== undefined) return Either.left(`an array and a row column are both named ${clash.name}`)
  const flat = new Float32Array(table.numRows * dim)
  let at = 0
  for (const chunk of column(vectorField.name).data) {
    const values = chunk.children[0]!.values as Float32Array
    flat.set(values.subarray(chunk.offset * dim, (chunk.offset + chunk.length) * dim), at)
    at += chunk.length * dim
  }
  const arrays = [...groups].map(([name, rows]): NamedArray => {
    const data = new Float32Array(rows.length * dim)
    rows.forEach((r, j) => data.set(flat.subarray(r * dim, (r + 1) * dim), j * dim))
    return { name, dtype: "<f4", shape: [rows.length, dim], data }
  })
  return Either.right({ rowKeys, groups: arrays })
}

/** A file to write: its relative path, its bytes in pieces, and what the manifest says of it. */
interface Pending {
  readonly path: string
  readonly parts: ReadonlyArray<Uint8Array>
  readonly describe: Omit<ExportedFile, "path" | "sha256" | "bytes">
}

const describeArray = (a: NamedArray): ExportedArray => ({ name: a.name, dtype: descrOf(a), shape: a.shape })

/** The files of one stored output in a format. */
const filesOf = (record: ActionRecord, output: string, stored: OutputRecord, format: ExportFormat, to: string) =>
  Effect.gen(function* () {
    const stem = outputStem(record, output)
    const base = { node: record.node, stage: record.components.stage, key: record.key, output, kind: stored.kind, hash: stored.hash }
    const withRows = stored.rows === null ? base : { ...base, rows: stored.rows }
    const fail = (reason: string) => new ExportError({ to, file: stem, reason })
    switch (stored.kind) {
      case "Files": {
        const out: Pending[] = []
        for (const [name, file] of Object.entries(stored.files ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
          out.push({ path: `${stem}/${name}`, parts: [yield* getObject(file.hash)], describe: { ...base, hash: file.hash } })
        }
        return out
      }
      case "Json":
        return [{ path: `${stem}.json`, parts: [yield* getObject(stored.hash)], describe: base }]
      case "Table": {
        if (format !== "csv") return [{ path: `${stem}.parquet`, parts: [yield* getObject(stored.hash)], describe: withRows }]
        const loaded = yield* loadOutput(stored)
        const table = (loaded as { table: arrow.Table }).table
        return [{ path: `${stem}.csv`, parts: [new TextEncoder().encode(tableToCsv(table))], describe: withRows }]
      }
      case "Matrix": {
        const table = ((yield* loadOutput(stored)) as { table: arrow.Table }).table
        if (format === "parquet") {
          // float vectors barely compress (zstd saves about 6%) and compressing them takes four times as long
          return [{ path: `${stem}.parquet`, parts: [encodeParquet(table, "uncompressed")], describe: withRows }]
        }
        const { rowKeys, groups } = yield* Either.mapLeft(matrixArrays(table), fail)
        if (format === "npz") {
          const entries = [...rowKeys, ...groups].map((a) => ({ name: `${a.name}.npy`, parts: [npyHeader(a), npyData(a)] }))
          return [{ path: `${stem}.npz`, parts: zipStored(entries), describe: { ...withRows, arrays: [...rowKeys, ...groups].map(describeArray) } }]
        }
        const out: Pending[] = rowKeys.map((k) =>
          k.dtype === "<U"
            ? { path: `${stem}/${k.name}.txt`, parts: [new TextEncoder().encode((k.data as ReadonlyArray<string>).map((v) => `${v}\n`).join(""))], describe: withRows }
            : { path: `${stem}/${k.name}.npy`, parts: [npyBytes(k)], describe: { ...withRows, arrays: [describeArray(k)] } }
        )
        const multiline = rowKeys.find((k) => k.dtype === "<U" && (k.data as ReadonlyArray<string>).some((v) => /[\r\n]/.test(v)))
        if (multiline !== undefined) return yield* fail(`a value of ${multiline.name} holds a line break; export with --format npz`)
        for (const g of groups) out.push({ path: `${stem}/${g.name}.npy`, parts: [npyHeader(g), npyData(g)], describe: { ...withRows, arrays: [describeArray(g)] } })
        return out
      }
    }
  })

const writeParts = (file: string, parts: ReadonlyArray<Uint8Array>) => {
  fs.mkdirSync(path.dirname(file), { recursive: true })
  const fd = fs.openSync(file, "w")
  try {
    for (const part of parts) {
      let written = 0
      while (written < part.length) written += fs.writeSync(fd, part, written, Math.min(part.length - written, 1 << 30))
    }
  } finally {
    fs.closeSync(fd)
  }
}

const sizeOf = (parts: ReadonlyArray<Uint8Array>): number => parts.reduce((n, p) => n + p.byteLength, 0)

const digest = (parts: ReadonlyArray<Uint8Array>): string => {
  const hash = createHash("sha256")
  for (const p of parts) hash.update(p)
  return hash.digest("hex")
}

/**
 * Writes a build's or a stage's outputs under readable names into `to`, with `manifest.json`. Files go to a fresh
 * folder beside `to` that replaces it only when complete; a `to` that holds anything but an earlier export is refused.
 */
export const exportOutputs = (options: { readonly hash: string; readonly to: string; readonly format: ExportFormat; readonly onFile?: OnExported }) =>
  Effect.gen(function* () {
    const to = path.resolve(options.to)
    const { source, actions } = yield* sourceOf(options.hash)
    if (fs.existsSync(to) && (!fs.statSync(to).isDirectory() || (fs.readdirSync(to).length > 0 && !fs.existsSync(path.join(to, "manifest.json"))))) {
      return yield* new ExportError({ to, file: "", reason: "exists and is not an earlier export (no manifest.json); choose an empty or new folder" })
    }
    const outputs = actions.flatMap((a) => Object.entries(a.outputs).map(([name, o]) => [a, name, o] as const))
    const staging = `${to}.partial-${process.pid}`
    const fsError = (file: string) => (e: unknown) => new ExportError({ to, file, reason: e instanceof Error ? e.message : String(e) })
    yield* Effect.try({ try: () => fs.rmSync(staging, { recursive: true, force: true }), catch: fsError(staging) })
    const written: ExportedFile[] = []
    const paths = new Set<string>()
    const run = Effect.gen(function* () {
      for (const [index, [record, name, stored]] of outputs.entries()) {
        for (const pending of yield* filesOf(record, name, stored, options.format, to)) {
          if (paths.has(pending.path) || pending.path === "manifest.json") {
            return yield* new ExportError({ to, file: pending.path, reason: `two outputs map to this file (the second from ${record.node})` })
          }
          paths.add(pending.path)
          yield* Effect.try({ try: () => writeParts(path.join(staging, pending.path), pending.parts), catch: fsError(pending.path) })
          const file: ExportedFile = { path: pending.path, ...pending.describe, sha256: digest(pending.parts), bytes: sizeOf(pending.parts) }
          written.push(file)
          if (options.onFile !== undefined) yield* options.onFile(file, index + 1, outputs.length)
        }
      }
      const manifest: ExportManifest = {
        source,
        format: options.format,
        files: [...written].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
      }
      yield* Effect.try({ try: () => writeParts(path.join(staging, "manifest.json"), [new TextEncoder().encode(JSON.stringify(manifest, null, 2) + "\n")]), catch: fsError("manifest.json") })
      const old = `${to}.old-${process.pid}`
      yield* Effect.try({
        try: () => {
          if (fs.existsSync(to)) fs.renameSync(to, old)
          fs.renameSync(staging, to)
          fs.rmSync(old, { recursive: true, force: true })
        },
        catch: fsError(to)
      })
      return manifest
    })
    // a failed or interrupted export leaves no partial folder behind
    return yield* run.pipe(Effect.onError(() => Effect.sync(() => fs.rmSync(staging, { recursive: true, force: true }))))
  }) satisfies Effect.Effect<ExportManifest, ExportError | UnknownHash | StoreError | CorruptObject, CacheDir>
