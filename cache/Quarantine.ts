import { Context, Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import type { StoreError } from "./StoreErrors"
import { tryFs } from "./AtomicFile"
import { CacheDir, cachePaths } from "./CacheDir"

/** Where the store says what it found damaged and set aside, one line per finding; stderr unless a build routes it. */
export class StoreNotices extends Context.Reference<StoreNotices>()("prefpipe/StoreNotices", {
  defaultValue: () => ({ note: (line: string): Effect.Effect<void> => Effect.sync(() => void process.stderr.write(line + "\n")) })
}) {}

/** Says one line through the store's notices. */
export const notice = (line: string): Effect.Effect<void> => Effect.flatMap(StoreNotices, (n) => n.note(line))

const rel = (root: string, file: string) => path.relative(root, file).split(path.sep).join("/")

/**
 * Moves a damaged file or folder of the cache to `quarantine/<its path in the cache>` (a numbered suffix when that
 * name is taken), where it stays for inspection; returns the new path relative to the root, or undefined when the
 * file is already gone. A path outside the root keeps only its base name.
 */
export const moveToQuarantine = (root: string, file: string): string | undefined => {
  const inside = rel(root, file)
  const name = inside.startsWith("..") || path.isAbsolute(inside) ? path.basename(file) : inside
  let target = path.join(cachePaths(root).quarantine, name)
  for (let n = 1; fs.existsSync(target); n++) target = path.join(cachePaths(root).quarantine, `${name}.${n}`)
  fs.mkdirSync(path.dirname(target), { recursive: true })
  try {
    fs.renameSync(file, target)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined
    throw e
  }
  return rel(root, target)
}

/** The line that says a damaged entry was found and set aside: what, why, where it went, and what happens next. */
export const damageLine = (what: string, reason: string, kept: string | undefined, then: string): string =>
  `! damaged ${what}: ${reason}; ${kept === undefined ? "already gone" : `kept as ${kept}`}; ${then}`

/** Moves damaged files of the cache under `root` to its quarantine and says so in one line; `then` says what happens next. */
export const setAsideIn = (
  root: string,
  files: ReadonlyArray<string>,
  reason: string,
  then: string
): Effect.Effect<void, StoreError> =>
  Effect.gen(function* () {
    const kept: string[] = []
    for (const file of files) {
      const moved = yield* tryFs(file, () => moveToQuarantine(root, file))
      if (moved !== undefined) kept.push(moved)
    }
    yield* notice(damageLine(rel(root, files[0]!), reason, kept.length === 0 ? undefined : kept.join(", "), then))
  })

/** Moves damaged cache files to the quarantine and says so in one line; `then` says what happens next. */
export const setAside = (files: ReadonlyArray<string>, reason: string, then: string): Effect.Effect<void, StoreError, CacheDir> =>
  Effect.flatMap(CacheDir, ({ root }) => setAsideIn(root, files, reason, then))

/** Appends damaged memo rows to `quarantine/memo-rows.jsonl` (one JSON object per row, with why it was dropped). */
export const quarantineRows = (
  root: string,
  rows: ReadonlyArray<{ readonly namespace: string; readonly key: string; readonly value: unknown; readonly reason: string }>
): string => {
  const file = path.join(cachePaths(root).quarantine, "memo-rows.jsonl")
  fs.mkdirSync(path.dirname(file), { recursive: true })
  fs.appendFileSync(file, rows.map((r) => JSON.stringify({ ...r, value: typeof r.value === "string" ? r.value : String(r.value) }) + "\n").join(""))
  return rel(root, file)
}
