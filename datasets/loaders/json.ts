import { Effect } from "effect"
import { DatasetError } from "../DatasetError"
import { decodeUtf8, isRecord, kindOf, type Loader, type RawRow } from "./RawRow"

// V8 reports where JSON.parse stopped as "at position N"; turning that into a line lets a person find it.
const lineOfError = (text: string, message: string): number => {
  const match = /position (\d+)/.exec(message)
  return match === null ? 0 : text.slice(0, Number(match[1])).split("\n").length
}

/** Parses a JSON array of objects; each element's row number is its 1-based index. */
export const parseJsonArray = (text: string, file: string): Effect.Effect<ReadonlyArray<RawRow>, DatasetError> =>
  Effect.try({
    try: () => JSON.parse(text) as unknown,
    catch: (e) =>
      new DatasetError({
        file,
        line: lineOfError(text, (e as Error).message),
        field: "",
        reason: `malformed JSON: ${(e as Error).message}`
      })
  }).pipe(
    Effect.filterOrFail(
      (value): value is ReadonlyArray<unknown> => Array.isArray(value),
      (value) => new DatasetError({ file, line: 0, field: "", reason: `expected a JSON array of objects, got ${kindOf(value)}` })
    ),
    Effect.map((values) =>
      values.map((value, index): RawRow =>
        isRecord(value)
          ? { _tag: "Record", line: index + 1, value }
          : { _tag: "Malformed", line: index + 1, field: "", reason: `expected a JSON object, got ${kindOf(value)}` }
      )
    )
  )

/** Loads a file holding one JSON array of objects. */
export const loadJson: Loader = (data, file) => Effect.flatMap(decodeUtf8(data, file), (text) => parseJsonArray(text, file))
