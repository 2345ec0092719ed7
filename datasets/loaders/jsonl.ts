import { Effect, Either } from "effect"
import { parseJson } from "../../core/JsonText"
import { decodeUtf8, isRecord, kindOf, type Loader, type RawRow } from "./RawRow"

/** Parses JSON Lines text: one object per line, blank lines ignored, each bad line reported with its number. */
export const parseJsonl = (text: string): ReadonlyArray<RawRow> => {
  const rows: Array<RawRow> = []
  text.split("\n").forEach((raw, index) => {
    const line = index + 1
    const source = raw.endsWith("\r") ? raw.slice(0, -1) : raw
    if (source.trim() === "") return
    const parsed = parseJson(source)
    if (Either.isLeft(parsed)) {
      rows.push({ _tag: "Malformed", line, field: "", reason: `malformed JSON at column ${parsed.left.column}: ${parsed.left.reason}` })
      return
    }
    const value = parsed.right
    rows.push(
      isRecord(value)
        ? { _tag: "Record", line, value }
        : { _tag: "Malformed", line, field: "", reason: `expected a JSON object, got ${kindOf(value)}` }
    )
  })
  return rows
}

/** Loads a JSON Lines file. */
export const loadJsonl: Loader = (data, file) => Effect.map(decodeUtf8(data, file), parseJsonl)
