import { tableFromIPC } from "apache-arrow"
import { Effect } from "effect"
import { DatasetError } from "../DatasetError"
import { isRecord, type Loader, type RawRow } from "./RawRow"

/**
 * Turns an Arrow cell into plain JSON data: 64-bit integers become numbers (or decimal strings when they do
 * not fit exactly), lists and structs become arrays and objects, so task meta can be stored as JSON.
 */
export const plainValue = (value: unknown): unknown => {
  if (value === null || value === undefined) return null
  if (typeof value === "bigint") return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString()
  if (typeof value !== "object") return value
  if (ArrayBuffer.isView(value)) return Array.from(value as unknown as ArrayLike<number | bigint>, plainValue)
  if (Array.isArray(value)) return value.map(plainValue)
  if (value instanceof Date) return value.toISOString()
  const toJSON = (value as { toJSON?: unknown }).toJSON
  if (typeof toJSON === "function") return plainValue(toJSON.call(value))
  return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, plainValue(inner)]))
}

/** Loads a Parquet file (via parquet-wasm, loaded with the first Parquet dataset, and Arrow IPC); each row's number is its 1-based position. */
export const loadParquet: Loader = (data, file) =>
  Effect.promise(() => import("parquet-wasm")).pipe(
    Effect.flatMap(({ readParquet }) =>
      Effect.try({
        try: () => tableFromIPC(readParquet(data).intoIPCStream()),
        catch: (e) => new DatasetError({ file, line: 0, field: "", reason: `cannot read Parquet: ${String(e instanceof Error ? e.message : e)}` })
      })
    ),
    Effect.map((table) =>
      table.toArray().map((row, index): RawRow => {
        const value = plainValue(row)
        return isRecord(value)
          ? { _tag: "Record", line: index + 1, value }
          : { _tag: "Malformed", line: index + 1, field: "", reason: "the Parquet row is not a record" }
      })
    )
  )
