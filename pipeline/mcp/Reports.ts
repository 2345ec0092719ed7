import { Effect, Either } from "effect"
import { formatJsonSyntaxError, parseJson } from "../../core/JsonText"
import * as fs from "node:fs"
import * as path from "node:path"
import { getBuild, listBuilds } from "../../cache/Builds"
import type { CacheDir } from "../../cache/CacheDir"
import { tryFs } from "../../cache/AtomicFile"
import type { UnknownHash } from "../Errors"
import type { StoreError } from "../../cache/StoreErrors"
import { findHash } from "../Provenance"
import { targetName } from "../Target"
import { InvalidArgument, NotFound, type OutsideFolder } from "./McpErrors"
import { display, inside, reallyInside, type Workspace } from "./Workspace"
import { OUTPUT_MANIFEST } from "../BuildTarget"

/** A file of a built report, as an MCP resource. */
export interface ReportResource {
  readonly uri: string
  readonly name: string
  readonly mimeType: string
}

/** A resource's content: text, or base64 bytes for images and binary tables. */
export type ResourceContent =
  | { readonly uri: string; readonly mimeType: string; readonly text: string }
  | { readonly uri: string; readonly mimeType: string; readonly blob: string }

const mimeTypes: Record<string, string> = {
  ".md": "text/markdown",
  ".json": "application/json",
  ".html": "text/html",
  ".csv": "text/csv",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".parquet": "application/vnd.apache.parquet",
  ".arrow": "application/vnd.apache.arrow.file"
}
const textTypes = new Set(["text/markdown", "application/json", "text/html", "text/csv", "image/svg+xml"])
const mimeOf = (file: string) => mimeTypes[path.extname(file).toLowerCase()] ?? "application/octet-stream"

/** The URI of one file of a build's output folder. */
export const reportUri = (build: string, file: string) => `report://${build}/${file.split(path.sep).map(encodeURIComponent).join("/")}`

/** The build an output folder holds now and its files, from the manifest every build leaves there (never read through a link that leaves the folder). */
const held = (dir: string): { readonly build: string; readonly files: ReadonlyArray<string> } | undefined => {
  const file = path.join(dir, OUTPUT_MANIFEST)
  if (!reallyInside(dir, file)) return undefined
  try {
    const manifest = JSON.parse(fs.readFileSync(file, "utf8")) as { build: string; files: Array<{ name: string }> }
    return { build: manifest.build, files: manifest.files.map((f) => f.name) }
  } catch {
    return undefined
  }
}

/** A JSON file of a report folder; a file that does not parse is named with its line and column, never quoted. */
const readJsonFile = (file: string, label: string) =>
  Effect.flatMap(
    tryFs(file, () => parseJson(fs.readFileSync(file, "utf8"))),
    Either.match({
      onLeft: (e) => Effect.fail(new NotFound({ what: label, reason: `${formatJsonSyntaxError(e)}; build the report again` })),
      onRight: Effect.succeed
    })
  )

/** A report's output folder, `out/reports/<name>/`, from `hoo`, `reports/hoo` or `reports/hoo.ts`. */
const reportFolder = (ws: Workspace, report: string): Effect.Effect<{ readonly name: string; readonly dir: string }, InvalidArgument | OutsideFolder> =>
  Effect.gen(function* () {
    const name = targetName(report).replace(/^reports\//, "")
    const dir = yield* inside(ws.outDir, path.join("reports", name), ws)
    if (!/^[A-Za-z0-9_.-]+$/.test(name)) return yield* new InvalidArgument({ field: "report", reason: `"${report}" is not a report name (e.g. hoo for reports/hoo.ts)` })
    return { name, dir }
  })

/** A built report's summary.json and README.md, with the URIs of its files. */
export const readReport = (ws: Workspace, report: string) =>
  Effect.gen(function* () {
    const { name, dir } = yield* reportFolder(ws, report)
    const summaryFile = yield* inside(dir, "summary.json", ws)
    if (!fs.existsSync(summaryFile)) {
      return yield* new NotFound({ what: `report ${name}`, reason: `not built yet (no ${display(ws, summaryFile)}); build reports/${name} first` })
    }
    const summary = yield* readJsonFile(summaryFile, display(ws, summaryFile))
    const readmeFile = yield* inside(dir, "README.md", ws)
    const readme = fs.existsSync(readmeFile) ? yield* tryFs(readmeFile, () => fs.readFileSync(readmeFile, "utf8")) : null
    const holds = held(dir)
    return {
      report: `reports/${name}`,
      folder: display(ws, dir),
      build: holds?.build ?? null,
      summary,
      readme,
      resources: holds === undefined ? [] : holds.files.map((f) => reportUri(holds.build, f))
    }
  })

/** The files of every build whose output folder still holds it, newest build first. */
export const reportResources = (ws: Workspace): Effect.Effect<ReadonlyArray<ReportResource>, StoreError | OutsideFolder, CacheDir> =>
  Effect.gen(function* () {
    const resources: ReportResource[] = []
    const seen = new Set<string>()
    for (const build of (yield* listBuilds()).reverse()) {
      const record = yield* getBuild(build)
      if (record === undefined || seen.has(record.target)) continue
      seen.add(record.target)
      const holds = held(yield* inside(ws.outDir, record.target, ws))
      if (holds?.build !== build) continue
      for (const file of holds.files) {
        resources.push({ uri: reportUri(build, file), name: `${record.target}/${file}`, mimeType: mimeOf(file) })
      }
    }
    return resources
  })

/** Reads `report://<build>/<file>`: the build record names the target, whose output folder must still hold that build. */
export const readReportResource = (
  ws: Workspace,
  uri: string
): Effect.Effect<ResourceContent, InvalidArgument | NotFound | OutsideFolder | StoreError | UnknownHash, CacheDir> =>
  Effect.gen(function* () {
    const match = /^report:\/\/([0-9a-f]{6,64})\/(.+)$/.exec(uri)
    if (match === null) return yield* new InvalidArgument({ field: "uri", reason: `"${uri}" is not report://<build hash>/<file>` })
    const file = yield* Effect.try({
      try: () => match[2]!.split("/").map(decodeURIComponent).join("/"),
      catch: () => new InvalidArgument({ field: "uri", reason: `"${uri}" is not a valid URI path` })
    })
    const found = yield* findHash(match[1]!)
    if (!("build" in found)) return yield* new InvalidArgument({ field: "uri", reason: `${match[1]} is a stage key, not a build` })
    const dir = yield* inside(ws.outDir, found.build.target, ws)
    const full = yield* inside(dir, file, ws)
    const holds = held(dir)
    if (holds?.build !== found.build.build) {
      return yield* new NotFound({
        what: uri,
        reason: `${display(ws, dir)}/ holds ${holds === undefined ? "no build" : `build ${holds.build.slice(0, 12)}`} now; build ${found.build.target} with that build's config again to read it`
      })
    }
    if (!holds.files.includes(path.relative(dir, full)) || !fs.existsSync(full)) {
      return yield* new NotFound({ what: uri, reason: `build ${holds.build.slice(0, 12)} wrote no file ${file} (files: ${holds.files.join(", ")})` })
    }
    const mimeType = mimeOf(full)
    const bytes = yield* tryFs(full, () => fs.readFileSync(full))
    return textTypes.has(mimeType) ? { uri, mimeType, text: bytes.toString("utf8") } : { uri, mimeType, blob: bytes.toString("base64") }
  })
