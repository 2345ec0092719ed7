import { Effect, Either } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { parseJson } from "../core/JsonText"
import type { StoreError } from "./StoreErrors"
import { tryFs, writeFileAtomic } from "./AtomicFile"
import { CacheDir, cachePaths } from "./CacheDir"
import { damageLine, moveToQuarantine, notice } from "./Quarantine"
import { readRecord, writeRecord } from "./Records"

/** A finished build: the target, the config it was built from (the snapshot reproduce uses), and every stage key. */
export interface BuildRecord {
  readonly build: string
  readonly target: string
  readonly config: unknown
  readonly configFile: string
  readonly root: { readonly node: string; readonly key: string }
  readonly stages: ReadonlyArray<{ readonly node: string; readonly key: string; readonly outputsHash: string }>
  readonly tool: { readonly prefpipe: string; readonly node: string }
}

const buildPath = (root: string, build: string) => path.join(cachePaths(root).builds, `${build}.json`)

const readLastByte = (file: string, size: number): number => {
  const fd = fs.openSync(file, "r")
  try {
    const byte = Buffer.alloc(1)
    fs.readSync(fd, byte, 0, 1, size - 1)
    return byte[0]!
  } finally {
    fs.closeSync(fd)
  }
}

/** Stores a build record and appends it to the build log (the order gc keeps builds by). */
export const putBuild = (record: BuildRecord): Effect.Effect<void, StoreError, CacheDir> =>
  Effect.flatMap(CacheDir, ({ root }) =>
    Effect.zipRight(
      writeRecord(buildPath(root, record.build), record),
      tryFs(cachePaths(root).buildLog, () => {
        const log = cachePaths(root).buildLog
        // A log cut short mid-line must not swallow this entry into the torn line.
        const size = fs.existsSync(log) ? fs.statSync(log).size : 0
        const torn = size > 0 && readLastByte(log, size) !== 0x0a
        fs.appendFileSync(log, (torn ? "\n" : "") + JSON.stringify({ build: record.build, target: record.target }) + "\n")
      })
    )
  )

/** A build record by its full hash; a damaged record is set aside and reads as absent. */
export const getBuild = (build: string): Effect.Effect<BuildRecord | undefined, StoreError, CacheDir> =>
  Effect.flatMap(CacheDir, ({ root }) =>
    /^[0-9a-f]{64}$/.test(build)
      ? readRecord<BuildRecord>(buildPath(root, build), "building the same target and config records it again")
      : Effect.succeed(undefined)
  )

/** A line of the build log, or undefined when it is not one (a torn or altered line). */
export const logEntry = (line: string): { readonly build: string; readonly target: string } | undefined => {
  const parsed = parseJson(line)
  if (Either.isLeft(parsed)) return undefined
  const entry = parsed.right as { build?: unknown; target?: unknown }
  return typeof entry === "object" && entry !== null && typeof entry.build === "string" && /^[0-9a-f]{64}$/.test(entry.build) && typeof entry.target === "string"
    ? { build: entry.build, target: entry.target }
    : undefined
}

/** The build log's entries in order, and how many of its lines are not entries (torn or altered). */
export const readBuildLog = (root: string): { readonly entries: ReadonlyArray<{ readonly build: string; readonly target: string }>; readonly bad: number } => {
  const log = cachePaths(root).buildLog
  const lines = fs.existsSync(log) ? fs.readFileSync(log, "utf8").split("\n").filter((l) => l.trim() !== "") : []
  const entries = lines.flatMap((l) => logEntry(l) ?? [])
  return { entries, bad: lines.length - entries.length }
}

/** Keeps a copy of a damaged build log in the quarantine and rewrites the log with its good entries; returns the copy's path. */
export const rewriteBuildLog = (root: string, entries: ReadonlyArray<{ readonly build: string; readonly target: string }>): string | undefined => {
  const log = cachePaths(root).buildLog
  const copy = `${log}.damaged`
  fs.copyFileSync(log, copy)
  const kept = moveToQuarantine(root, copy)
  writeFileAtomic(log, entries.map((e) => JSON.stringify(e) + "\n").join(""))
  return kept
}

/**
 * Build hashes from the log, oldest first, each once (a rebuilt hash moves to its latest position). Lines that are
 * not log entries are dropped: the damaged log is kept in the quarantine and rewritten without them, with one line.
 */
export const listBuilds = (): Effect.Effect<string[], StoreError, CacheDir> =>
  Effect.gen(function* () {
    const { root } = yield* CacheDir
    const log = cachePaths(root).buildLog
    const { entries, bad } = yield* tryFs(log, () => readBuildLog(root))
    if (bad > 0) {
      const kept = yield* tryFs(log, () => rewriteBuildLog(root, entries))
      yield* notice(damageLine("builds/log.jsonl", `${bad} of ${bad + entries.length} lines are not build entries`, kept, `the log keeps the other ${entries.length}`))
    }
    const last = new Map(entries.map((e, i) => [e.build, i]))
    return [...last.entries()].sort((a, b) => a[1] - b[1]).map(([b]) => b)
  })

/** Removes a build record (garbage collection). */
export const deleteBuild = (build: string): Effect.Effect<void, StoreError, CacheDir> =>
  Effect.flatMap(CacheDir, ({ root }) => tryFs(buildPath(root, build), () => fs.rmSync(buildPath(root, build), { force: true })))
