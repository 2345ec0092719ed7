import { Effect, Either } from "effect"
import { parseJson } from "../../core/JsonText"
import { DatasetError } from "../DatasetError"
import { decodeUtf8, isRecord, kindOf, type Loader, type RawRow } from "./RawRow"

/** Parses a JSON array of objects; each element's row number is its 1-based index. */
export const parseJsonArray = (text: string, file: string): Effect.Effect<ReadonlyArray<RawRow>, DatasetError> =>
  Either.match(parseJson(text), {
    onLeft: (e): Effect.Effect<unknown, DatasetError> =>
      Effect.fail(new DatasetError({ file, line: e.line, field: "", reason: `malformed JSON at column ${e.column}: ${e.reason}` })),
    onRight: (value): Effect.Effect<unknown, DatasetError> => Effect.succeed(value)
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
