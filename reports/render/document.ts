import { FileSystem } from "@effect/platform"
import { Effect, Schema } from "effect"
import { createHash } from "node:crypto"
import * as path from "node:path"
import { rasterize, type RenderError } from "./rasterize"
import { allSections, type ReportDocument } from "./sections"
import { escapeHtml, type Table, type TableError, toCsv, toHtmlTable, toMarkdown, toParquet } from "./tables"

export { allSections, FINDINGS, type Findings, type ReportDocument, type Section } from "./sections"

/** Tables longer than this are written as files and linked instead of printed in the README and HTML page. */
export const MAX_INLINE_ROWS = 100

/** Whether a table is linked (per-task tables, and any over `MAX_INLINE_ROWS` rows) rather than printed. */
export const linkedTable = (table: Table): boolean => table.detail === true || table.rows.length > MAX_INLINE_ROWS

/** A file written by `writeReport`, relative to the report folder. */
export interface WrittenFile {
  readonly path: string
  readonly bytes: number
  readonly sha256: string
}

/** A report that could not be assembled or written. */
export class ReportWriteError extends Schema.TaggedError<ReportWriteError>()("ReportWriteError", {
  dir: Schema.String,
  file: Schema.String,
  reason: Schema.String
}) {
  get message() {
    return `report in ${this.dir}: ${this.file}: ${this.reason}`
  }
}

const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/

const figuresOf = (doc: ReportDocument) => allSections(doc).flatMap((s) => s.figures ?? [])
const tablesOf = (doc: ReportDocument) => allSections(doc).flatMap((s) => s.tables ?? [])

const checkNames = (dir: string, kind: string, names: ReadonlyArray<string>): Effect.Effect<void, ReportWriteError> => {
  const seen = new Set<string>()
  for (const name of names) {
    if (!SAFE_NAME.test(name))
      return Effect.fail(new ReportWriteError({ dir, file: name, reason: `${kind} name must match ${SAFE_NAME} to be a file name` }))
    if (seen.has(name)) return Effect.fail(new ReportWriteError({ dir, file: name, reason: `two ${kind}s are named "${name}"` }))
    seen.add(name)
  }
  return Effect.void
}

/** Flattens nested config objects to dotted keys with JSON-encoded leaves, in sorted key order. */
export const flattenConfig = (config: Record<string, unknown>): ReadonlyArray<readonly [string, string]> => {
  const out: Array<readonly [string, string]> = []
  const walk = (prefix: string, value: unknown) => {
    if (value !== null && typeof value === "object" && !Array.isArray(value) && Object.keys(value).length > 0) {
      for (const key of Object.keys(value).sort()) walk(prefix === "" ? key : `${prefix}.${key}`, (value as Record<string, unknown>)[key])
    } else {
      out.push([prefix, typeof value === "string" ? value : JSON.stringify(value) ?? String(value)])
    }
  }
  walk("", config)
  return out
}

const configTable = (doc: ReportDocument): Table => ({
  name: "config",
  columns: [
    { name: "setting", type: "utf8" },
    { name: "value", type: "utf8" }
  ],
  rows: flattenConfig(doc.configSummary).map(([setting, value]) => ({ setting, value }))
})

const orderedDiagnostics = (doc: ReportDocument) =>
  [...doc.diagnostics].sort((a, b) => (a.level === b.level ? 0 : a.level === "error" ? -1 : 1))

const paragraphs = (text: string | undefined): ReadonlyArray<string> =>
  (text ?? "").split(/\n\s*\n/).map((p) => p.trim()).filter((p) => p !== "")

const singleLine = (text: string) => text.replace(/\s*\n\s*/g, " ")

const linkedLine = (table: Table) => `${table.rows.length} rows (${table.columns.map((c) => c.name).join(", ")})`

/**
 * Renders the report as Markdown: findings first, tables (long or per-task ones as links to their CSV and Parquet
 * files), figures as `![title](name.png)`, then diagnostics, build and config.
 */
export const renderMarkdown = (doc: ReportDocument): string => {
  const lines: Array<string> = [`# ${singleLine(doc.title)}`, "", `Build \`${doc.buildHash}\``, ""]
  for (const section of allSections(doc)) {
    lines.push(`## ${singleLine(section.heading)}`, "")
    if (section.notice !== undefined) lines.push(`> **Note:** ${singleLine(section.notice)}`, "")
    for (const p of paragraphs(section.text)) lines.push(p, "")
    for (const table of section.tables ?? []) {
      if (linkedTable(table)) lines.push(`**${table.name}**: ${linkedLine(table)} in [${table.name}.csv](${table.name}.csv) and [${table.name}.parquet](${table.name}.parquet)`, "")
      else lines.push(`**${table.name}**`, "", toMarkdown(table), "")
    }
    for (const figure of section.figures ?? [])
      lines.push(`![${singleLine(figure.title).replace(/[[\]]/g, "")}](${figure.name}.png)`, "")
  }
  lines.push("## Diagnostics", "")
  const diagnostics = orderedDiagnostics(doc)
  if (diagnostics.length === 0) lines.push("No diagnostics raised.", "")
  else {
    for (const d of diagnostics) lines.push(`- **${d.level}** \`${d.code}\`: ${singleLine(d.message)}`)
    lines.push("")
  }
  lines.push("## Build", "", `Build hash: \`${doc.buildHash}\``, "", toMarkdown(configTable(doc)), "")
  return lines.join("\n")
}

const STYLE = `
body { font-family: "DejaVu Sans", Helvetica, Arial, sans-serif; font-size: 15px; line-height: 1.5; color: #222; max-width: 980px; margin: 2em auto; padding: 0 1em; }
h1 { font-size: 1.7em; margin-bottom: 0.2em; }
h2 { font-size: 1.3em; margin-top: 1.6em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
code { font-family: "DejaVu Sans Mono", Menlo, monospace; font-size: 0.9em; background: #f4f4f4; padding: 0 0.2em; }
table { border-collapse: collapse; margin: 0.8em 0 1.2em; font-size: 0.93em; }
th, td { border: 1px solid #d0d0d0; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1em 0 1.6em; }
figure svg { max-width: 100%; height: auto; }
figcaption { font-size: 0.9em; color: #555; }
.caption { font-weight: bold; margin-bottom: 0.2em; }
.diagnostic { margin: 0.3em 0; }
.error { color: #a40000; font-weight: bold; }
.warning { color: #8a5a00; font-weight: bold; }
.notice { border-left: 4px solid #c77c00; background: #fff6e5; padding: 0.4em 0.8em; }
.settings td:last-child { overflow-wrap: anywhere; }
`

// Inline SVG in HTML needs no namespace declarations; dropping them leaves no URL anywhere in the page.
const inlineSvg = (svg: string) => svg.replace(/\s+xmlns(:xlink)?="[^"]*"/g, "")

/** Renders the report as one self-contained HTML page: inline CSS and SVG, no external references. */
export const renderHtml = (doc: ReportDocument, svgs: ReadonlyMap<string, string>): string => {
  const body: Array<string> = [`<h1>${escapeHtml(doc.title)}</h1>`, `<p>Build <code>${escapeHtml(doc.buildHash)}</code></p>`]
  for (const section of allSections(doc)) {
    body.push(`<h2>${escapeHtml(section.heading)}</h2>`)
    if (section.notice !== undefined) body.push(`<p class="notice"><strong>Note:</strong> ${escapeHtml(section.notice)}</p>`)
    for (const p of paragraphs(section.text)) body.push(`<p>${escapeHtml(p)}</p>`)
    for (const table of section.tables ?? []) {
      if (linkedTable(table)) body.push(`<p class="caption">${escapeHtml(table.name)}: ${escapeHtml(linkedLine(table))} in ${escapeHtml(table.name)}.csv and ${escapeHtml(table.name)}.parquet beside this page</p>`)
      else body.push(`<div class="caption">${escapeHtml(table.name)}</div>`, toHtmlTable(table))
    }
    for (const figure of section.figures ?? [])
      body.push(`<figure>${inlineSvg(svgs.get(figure.name) ?? "")}<figcaption>${escapeHtml(figure.title)}</figcaption></figure>`)
  }
  body.push("<h2>Diagnostics</h2>")
  const diagnostics = orderedDiagnostics(doc)
  if (diagnostics.length === 0) body.push("<p>No diagnostics raised.</p>")
  for (const d of diagnostics)
    body.push(
      `<p class="diagnostic"><span class="${d.level}">${d.level}</span> <code>${escapeHtml(d.code)}</code>: ${escapeHtml(d.message)}</p>`
    )
  body.push("<h2>Build</h2>", `<p>Build hash: <code>${escapeHtml(doc.buildHash)}</code></p>`, `<div class="settings">${toHtmlTable(configTable(doc))}</div>`)
  return [
    "<!DOCTYPE html>",
    '<html lang="en">',
    "<head>",
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(doc.title)}</title>`,
    `<style>${STYLE}</style>`,
    "</head>",
    "<body>",
    ...body,
    "</body>",
    "</html>",
    ""
  ].join("\n")
}

/** The JSON written as `summary.json`: the document's summary with the build hash and config beside it. */
export const summaryJson = (doc: ReportDocument): string =>
  JSON.stringify({ title: doc.title, build: { hash: doc.buildHash, config: doc.configSummary }, summary: doc.summary }, null, 2) + "\n"

const encoder = new TextEncoder()

/**
 * Writes a report folder: README.md, index.html, summary.json, `<figure>.svg`/`.png` and
 * `<table>.parquet`/`.csv`; each file goes to a temporary name first and is renamed into place.
 * Returns the written files, sorted by path, with their sha256.
 */
export const writeReport = (
  dir: string,
  doc: ReportDocument
): Effect.Effect<ReadonlyArray<WrittenFile>, ReportWriteError | RenderError | TableError, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const figures = figuresOf(doc)
    const tables = tablesOf(doc)
    yield* checkNames(dir, "figure", figures.map((f) => f.name))
    yield* checkNames(dir, "table", tables.map((t) => t.name))

    const files = new Map<string, Uint8Array>()
    const svgs = new Map<string, string>()
    for (const figure of figures) {
      const rendered = yield* rasterize(figure)
      svgs.set(figure.name, rendered.svg)
      files.set(`${figure.name}.svg`, encoder.encode(rendered.svg))
      files.set(`${figure.name}.png`, rendered.png)
    }
    for (const table of tables) {
      files.set(`${table.name}.parquet`, yield* toParquet(table))
      files.set(`${table.name}.csv`, encoder.encode(toCsv(table)))
    }
    const summary = yield* Effect.try({
      try: () => summaryJson(doc),
      catch: (cause) => new ReportWriteError({ dir, file: "summary.json", reason: `summary is not JSON-serializable: ${String(cause)}` })
    })
    files.set("summary.json", encoder.encode(summary))
    files.set("README.md", encoder.encode(renderMarkdown(doc)))
    files.set("index.html", encoder.encode(renderHtml(doc, svgs)))

    const failed = (file: string) => (cause: unknown) => new ReportWriteError({ dir, file, reason: String(cause) })
    yield* fs.makeDirectory(dir, { recursive: true }).pipe(Effect.mapError(failed(".")))
    const written: Array<WrittenFile> = []
    for (const [name, bytes] of files) {
      const target = path.join(dir, name)
      const temporary = path.join(dir, `.${name}.${process.pid}.tmp`)
      yield* fs.writeFile(temporary, bytes).pipe(
        Effect.zipRight(fs.rename(temporary, target)),
        Effect.tapError(() => fs.remove(temporary).pipe(Effect.ignore)),
        Effect.mapError(failed(name))
      )
      written.push({ path: name, bytes: bytes.byteLength, sha256: createHash("sha256").update(bytes).digest("hex") })
    }
    return written.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
  })
