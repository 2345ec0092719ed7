import * as arrow from "apache-arrow"
import { Effect, Schema } from "effect"
import { Compression, Table as WasmTable, WriterPropertiesBuilder, writeParquet } from "parquet-wasm"
import { decimalsFor, formatNumber } from "./prose"

export { formatNumber } from "./prose"

/** The column types a report table may hold. */
export type ColumnType = "utf8" | "float64" | "int32" | "bool"

/** A named, typed column. */
export interface Column {
  readonly name: string
  readonly type: ColumnType
}

/** A report table: `name` becomes the file stem (`<name>.csv`, `<name>.parquet`); null or undefined cells are missing values. */
export interface Table {
  readonly name: string
  readonly columns: ReadonlyArray<Column>
  readonly rows: ReadonlyArray<Record<string, unknown>>
  /** Per-task (or other per-row) detail: written as CSV and Parquet and linked from the README, never printed in it. */
  readonly detail?: boolean
}

/** A table whose cells do not match its declared columns, or that Parquet could not encode. */
export class TableError extends Schema.TaggedError<TableError>()("TableError", {
  table: Schema.String,
  reason: Schema.String
}) {
  get message() {
    return `table "${this.table}": ${this.reason}`
  }
}

const fitsType = (type: ColumnType, value: unknown): boolean => {
  switch (type) {
    case "utf8":
      return typeof value === "string"
    case "float64":
      return typeof value === "number"
    case "int32":
      return typeof value === "number" && Number.isInteger(value) && value >= -2147483648 && value <= 2147483647
    case "bool":
      return typeof value === "boolean"
  }
}

const isMissing = (value: unknown): value is null | undefined => value === null || value === undefined

/** Checks that column names are unique, every row key is a column, and every cell fits its column type. */
export const validateTable = (table: Table): Effect.Effect<Table, TableError> => {
  const fail = (reason: string) => Effect.fail(new TableError({ table: table.name, reason }))
  if (table.columns.length === 0) return fail("has no columns")
  const names = new Set<string>()
  for (const column of table.columns) {
    if (names.has(column.name)) return fail(`column "${column.name}" is declared twice`)
    names.add(column.name)
  }
  for (const [i, row] of table.rows.entries()) {
    for (const key of Object.keys(row)) {
      if (!names.has(key)) return fail(`row ${i} has "${key}", which is not a declared column`)
    }
    for (const column of table.columns) {
      const value = row[column.name]
      if (!isMissing(value) && !fitsType(column.type, value))
        return fail(`row ${i}, column "${column.name}": ${JSON.stringify(value)} is not ${column.type}`)
    }
  }
  return Effect.succeed(table)
}

const arrowType = (type: ColumnType): arrow.DataType => {
  switch (type) {
    case "utf8":
      return new arrow.Utf8()
    case "float64":
      return new arrow.Float64()
    case "int32":
      return new arrow.Int32()
    case "bool":
      return new arrow.Bool()
  }
}

/** Builds an Arrow table with the declared column types (nullable), after validating the cells. */
export const toArrow = (table: Table): Effect.Effect<arrow.Table, TableError> =>
  Effect.map(validateTable(table), (valid) => {
    const vectors: Record<string, arrow.Vector> = {}
    for (const column of valid.columns) {
      const values = valid.rows.map((row) => row[column.name] ?? null)
      vectors[column.name] = arrow.vectorFromArray(values, arrowType(column.type))
    }
    return new arrow.Table(vectors)
  })

/** Encodes a table as Parquet with zstd compression. */
export const toParquet = (table: Table): Effect.Effect<Uint8Array, TableError> =>
  Effect.flatMap(toArrow(table), (arrowTable) =>
    Effect.try({
      try: () => {
        const wasmTable = WasmTable.fromIPCStream(arrow.tableToIPC(arrowTable, "stream"))
        const properties = new WriterPropertiesBuilder().setCompression(Compression.ZSTD).build()
        return writeParquet(wasmTable, properties)
      },
      catch: (cause) => new TableError({ table: table.name, reason: `Parquet encoding failed: ${String(cause)}` })
    })
  )

const csvField = (value: string): string => (/[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value)

const rawCell = (value: unknown): string => {
  if (isMissing(value)) return ""
  if (typeof value === "number") return Number.isNaN(value) ? "NaN" : String(value)
  return String(value)
}

/** Writes a table as RFC 4180 CSV: header row, CRLF line ends, full-precision numbers, empty cells for missing values. */
export const toCsv = (table: Table): string => {
  const lines = [table.columns.map((c) => csvField(c.name))]
  for (const row of table.rows) lines.push(table.columns.map((c) => csvField(rawCell(row[c.name]))))
  return lines.map((cells) => cells.join(",")).join("\r\n") + "\r\n"
}

/** A table's cells as display strings; a float column `x` with float columns `x_lo` and `x_hi` becomes one `x [lo, hi]` column. */
export interface FormattedTable {
  readonly header: ReadonlyArray<string>
  readonly numeric: ReadonlyArray<boolean>
  readonly rows: ReadonlyArray<ReadonlyArray<string>>
}

/** Formats a table for reading: numbers rounded, interval columns folded into their value column, missing cells as "—". */
export const formatTable = (table: Table): FormattedTable => {
  const byName = new Map(table.columns.map((c) => [c.name, c]))
  const isFloat = (name: string) => byName.get(name)?.type === "float64"
  const intervalOf = (name: string) => isFloat(name) && isFloat(`${name}_lo`) && isFloat(`${name}_hi`)
  const folded = new Set(table.columns.filter((c) => intervalOf(c.name)).flatMap((c) => [`${c.name}_lo`, `${c.name}_hi`]))
  const shown = table.columns.filter((c) => !folded.has(c.name))
  const cell = (column: Column, row: Record<string, unknown>): string => {
    const value = row[column.name]
    if (isMissing(value)) return "—"
    if (typeof value !== "number") return String(value)
    if (column.type === "int32") return String(value)
    const decimals = Number.isFinite(value) ? decimalsFor(value) : undefined
    const text = formatNumber(value, decimals)
    if (!intervalOf(column.name)) return text
    const lo = row[`${column.name}_lo`]
    const hi = row[`${column.name}_hi`]
    if (typeof lo !== "number" || typeof hi !== "number") return text
    return `${text} [${formatNumber(lo, decimals)}, ${formatNumber(hi, decimals)}]`
  }
  return {
    header: shown.map((c) => (intervalOf(c.name) ? `${c.name} [95% CI]` : c.name)),
    numeric: shown.map((c) => c.type === "float64" || c.type === "int32"),
    rows: table.rows.map((row) => shown.map((c) => cell(c, row)))
  }
}

const markdownCell = (text: string) => text.replaceAll("\\", "\\\\").replaceAll("|", "\\|").replace(/\r?\n/g, " ")

/** Renders a table as a GitHub-flavoured Markdown table, numbers right-aligned. */
export const toMarkdown = (table: Table): string => {
  const formatted = formatTable(table)
  const line = (cells: ReadonlyArray<string>) => `| ${cells.map(markdownCell).join(" | ")} |`
  return [
    line(formatted.header),
    `|${formatted.numeric.map((n) => (n ? "---:" : ":---")).join("|")}|`,
    ...formatted.rows.map(line)
  ].join("\n")
}

/** Escapes text for HTML element content and attribute values. */
export const escapeHtml = (text: string): string =>
  text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll('"', "&quot;").replaceAll("'", "&#39;")

/** Renders a table as an HTML `<table>`, numbers right-aligned. */
export const toHtmlTable = (table: Table): string => {
  const formatted = formatTable(table)
  const cls = (i: number) => (formatted.numeric[i] ? ' class="num"' : "")
  const head = formatted.header.map((h, i) => `<th${cls(i)}>${escapeHtml(h)}</th>`).join("")
  const body = formatted.rows
    .map((row) => `<tr>${row.map((c, i) => `<td${cls(i)}>${escapeHtml(c)}</td>`).join("")}</tr>`)
    .join("\n")
  return `<table>\n<thead><tr>${head}</tr></thead>\n<tbody>\n${body}\n</tbody>\n</table>`
}
