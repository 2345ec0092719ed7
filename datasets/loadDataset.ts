import * as fs from "node:fs/promises"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Effect, Either } from "effect"
import { type AdapterName, adapters, detectAdapter } from "./adapters"
import { type BadRow, DatasetError } from "./DatasetError"
import type { BuiltinName, DatasetFormat, DatasetSpec } from "./DatasetSpec"
import { loadCsv } from "./loaders/csv"
import { loadJson } from "./loaders/json"
import { loadJsonl } from "./loaders/jsonl"
import { loadParquet } from "./loaders/parquet"
import type { Loader, RawRow } from "./loaders/RawRow"
import type { Task } from "./Task"

/** The tasks of a dataset, in file order, and the rows skipped on the way (empty unless `onBadRow` is "skip"). */
export interface LoadedDataset {
  readonly tasks: ReadonlyArray<Task>
  readonly skipped: ReadonlyArray<BadRow>
}

/** How raw rows become tasks. */
export interface DecodeOptions {
  readonly file: string
  readonly adapter?: AdapterName | undefined
  readonly origin?: string | undefined
  readonly onBadRow?: "error" | "skip" | undefined
}

const loaders: Readonly<Record<DatasetFormat, Loader>> = { jsonl: loadJsonl, json: loadJson, csv: loadCsv, parquet: loadParquet }

const extensions: ReadonlyArray<readonly [string, DatasetFormat]> = [
  [".jsonl", "jsonl"], [".ndjson", "jsonl"], [".json", "json"], [".csv", "csv"], [".parquet", "parquet"]
]

// Static URLs (one per file) so that bundlers and packagers see every built-in file.
const builtinFiles: Readonly<Record<BuiltinName, URL>> = {
  alpaca: new URL("./builtin/alpaca.jsonl", import.meta.url),
  bailbench: new URL("./builtin/bailbench.jsonl", import.meta.url),
  math: new URL("./builtin/math.jsonl", import.meta.url),
  wildchat: new URL("./builtin/wildchat.jsonl", import.meta.url)
}

/**
 * Turns raw rows into tasks, in line order, with the named adapter or the one each record's fields call
 * for; a repeated task id is a bad row. Bad rows fail with a DatasetError, or under "skip" are left out
 * and listed.
 */
export const decodeRows = (
  rows: ReadonlyArray<RawRow>,
  options: DecodeOptions
): Effect.Effect<LoadedDataset, DatasetError> =>
  Effect.gen(function* () {
    const { file } = options
    const tasks: Array<Task> = []
    const skipped: Array<BadRow> = []
    const seen = new Map<string, number>()
    for (const row of rows) {
      let bad: BadRow | undefined
      if (row._tag === "Malformed") {
        bad = { file, line: row.line, field: row.field, reason: row.reason }
      } else {
        const decoded = adapters[options.adapter ?? detectAdapter(row.value)](row.value, options.origin)
        if (Either.isLeft(decoded)) {
          bad = { file, line: row.line, field: decoded.left.field, reason: decoded.left.reason }
        } else {
          const first = seen.get(decoded.right.task_id)
          if (first === undefined) {
            seen.set(decoded.right.task_id, row.line)
            tasks.push(decoded.right)
          } else {
            const field = row.value.id !== undefined && row.value.id !== null ? "id" : "task_id"
            bad = { file, line: row.line, field, reason: `duplicate task id (first at line ${first})` }
          }
        }
      }
      if (bad === undefined) continue
      if (options.onBadRow !== "skip") return yield* new DatasetError(bad)
      skipped.push(bad)
    }
    return { tasks, skipped }
  })

/** The format a file's extension implies. */
export const formatOf = (file: string): Either.Either<DatasetFormat, DatasetError> => {
  const found = extensions.find(([extension]) => file.toLowerCase().endsWith(extension))
  return found === undefined
    ? Either.left(new DatasetError({ file, line: 0, field: "format", reason: "cannot tell the format from the extension; set \"format\" (jsonl, json, csv or parquet)" }))
    : Either.right(found[1])
}

/** Reads and decodes one dataset file; `file` is the name errors and skipped rows carry. */
export const loadFile = (
  fullPath: string,
  options: DecodeOptions & { readonly format?: DatasetFormat | undefined }
): Effect.Effect<LoadedDataset, DatasetError> =>
  Effect.gen(function* () {
    const format = options.format ?? (yield* formatOf(options.file))
    const data = yield* Effect.tryPromise({
      try: () => fs.readFile(fullPath),
      catch: (e) => new DatasetError({ file: options.file, line: 0, field: "", reason: `cannot read ${fullPath}: ${(e as Error).message}` })
    })
    const rows = yield* loaders[format](data, options.file)
    return yield* decodeRows(rows, options)
  })

/** Loads a dataset from its spec; a `path` is resolved against `baseDir` (the config's folder). */
export const loadDataset = (spec: DatasetSpec, baseDir: string): Effect.Effect<LoadedDataset, DatasetError> => {
  const options = { adapter: spec.adapter, origin: spec.origin, onBadRow: spec.onBadRow, format: spec.format }
  if (spec.builtin !== undefined) {
    return loadFile(fileURLToPath(builtinFiles[spec.builtin]), { ...options, file: `datasets/builtin/${spec.builtin}.jsonl` })
  }
  if (spec.path !== undefined) return loadFile(path.resolve(baseDir, spec.path), { ...options, file: spec.path })
  return Effect.fail(new DatasetError({ file: spec.name, line: 0, field: "path", reason: "the dataset spec names neither a path nor a built-in set" }))
}

/** Loads one of the task sets that ship with the project. */
export const builtinDataset = (name: BuiltinName): Effect.Effect<LoadedDataset, DatasetError> =>
  loadDataset({ name, builtin: name }, ".")
