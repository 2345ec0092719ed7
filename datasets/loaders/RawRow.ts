import { Effect } from "effect"
import { DatasetError } from "../DatasetError"

/** One row as a loader read it: a record with its 1-based line (or row) number, or why it could not be read. */
export type RawRow =
  | { readonly _tag: "Record"; readonly line: number; readonly value: Readonly<Record<string, unknown>> }
  | { readonly _tag: "Malformed"; readonly line: number; readonly field: string; readonly reason: string }

/** Reads a file's bytes into rows; fails only when the file as a whole is unreadable. */
export type Loader = (data: Uint8Array, file: string) => Effect.Effect<ReadonlyArray<RawRow>, DatasetError>

/** True for a JSON object (not an array, not null). */
export const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/** A short description of a JSON value's kind, for error messages. */
export const kindOf = (value: unknown): string =>
  value === null ? "null" : Array.isArray(value) ? "an array" : typeof value === "object" ? "an object" : `a ${typeof value}`

/** Decodes UTF-8 text (dropping a byte-order mark), failing with the file named when the bytes are not UTF-8. */
export const decodeUtf8 = (data: Uint8Array, file: string): Effect.Effect<string, DatasetError> =>
  Effect.try({
    try: () => new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(data),
    catch: () => new DatasetError({ file, line: 0, field: "", reason: "the file is not valid UTF-8" })
  })
