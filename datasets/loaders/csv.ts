import { Effect } from "effect"
import { DatasetError } from "../DatasetError"
import { decodeUtf8, type Loader, type RawRow } from "./RawRow"

/** One CSV record: its fields, the line it starts on, and the first defect found in it, if any. */
export interface CsvRecord {
  readonly line: number
  readonly fields: ReadonlyArray<string>
  readonly defect?: { readonly column: number; readonly reason: string }
}

/**
 * Splits RFC 4180 text into records: comma-separated fields, quoted fields may hold commas, newlines and
 * doubled quotes; records end at LF or CRLF. Lines that are wholly empty are ignored. A defective record is
 * still delimited (so the records after it keep their place) and carries the defect.
 */
export const parseCsv = (text: string): ReadonlyArray<CsvRecord> => {
  const records: Array<CsvRecord> = []
  const n = text.length
  let i = 0
  let line = 1
  const atRecordEnd = () => i >= n || text[i] === "\n" || (text[i] === "\r" && text[i + 1] === "\n")
  while (i < n) {
    const start = line
    const fields: Array<string> = []
    let defect: CsvRecord["defect"]
    let quoted = false
    const flag = (reason: string) => {
      defect ??= { column: fields.length, reason }
    }
    for (;;) {
      let value = ""
      if (text[i] === '"') {
        quoted = true
        const opened = line
        i++
        let closed = false
        while (i < n) {
          const c = text[i]!
          if (c === '"') {
            if (text[i + 1] === '"') {
              value += '"'
              i += 2
              continue
            }
            i++
            closed = true
            break
          }
          if (c === "\n") line++
          value += c
          i++
        }
        if (!closed) flag(`unterminated quoted field (opened at line ${opened})`)
        else if (!atRecordEnd() && text[i] !== ",") flag("unexpected character after a closing quote")
      }
      while (!atRecordEnd() && text[i] !== ",") {
        if (text[i] === '"') flag("quote inside an unquoted field")
        value += text[i]
        i++
      }
      fields.push(value)
      if (text[i] === ",") {
        i++
        continue
      }
      break
    }
    if (text[i] === "\r") i++
    if (text[i] === "\n") {
      i++
      line++
    }
    const blank = fields.length === 1 && fields[0] === "" && !quoted
    if (!blank) records.push(defect === undefined ? { line: start, fields } : { line: start, fields, defect })
  }
  return records
}

/** Turns CSV text with a header row into records keyed by column name; every value is a string. */
export const parseCsvTable = (text: string, file: string): Effect.Effect<ReadonlyArray<RawRow>, DatasetError> =>
  Effect.gen(function* () {
    const [header, ...body] = parseCsv(text)
    const fail = (line: number, field: string, reason: string) => new DatasetError({ file, line, field, reason })
    if (header === undefined) return yield* fail(0, "", "the file is empty; a CSV dataset needs a header row")
    if (header.defect !== undefined) return yield* fail(header.line, "", `header row: ${header.defect.reason}`)
    const names = header.fields
    const emptyAt = names.findIndex((name) => name.trim() === "")
    if (emptyAt >= 0) return yield* fail(header.line, "", `header row: column ${emptyAt + 1} has no name`)
    const repeated = names.find((name, k) => names.indexOf(name) !== k)
    if (repeated !== undefined) return yield* fail(header.line, repeated, "header row: the column name appears twice")
    return body.map((record): RawRow => {
      if (record.defect !== undefined) {
        const field = names[record.defect.column] ?? `column ${record.defect.column + 1}`
        return { _tag: "Malformed", line: record.line, field, reason: `malformed CSV: ${record.defect.reason}` }
      }
      if (record.fields.length !== names.length) {
        const reason = `malformed CSV: the row has ${record.fields.length} fields but the header has ${names.length}`
        return { _tag: "Malformed", line: record.line, field: "", reason }
      }
      return { _tag: "Record", line: record.line, value: Object.fromEntries(names.map((name, k) => [name, record.fields[k]])) }
    })
  })

/** Loads an RFC 4180 CSV file with a header row; the line of each row is the line it starts on. */
export const loadCsv: Loader = (data, file) => Effect.flatMap(decodeUtf8(data, file), (text) => parseCsvTable(text, file))
