import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import type { StoreError } from "./StoreErrors"
import { readJsonIfExists, tryFs, writeAtomic } from "./AtomicFile"
import { CacheDir, cachePaths } from "./CacheDir"

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

/** Stores a build record and appends it to the build log (the order gc keeps builds by). */
export const putBuild = (record: BuildRecord): Effect.Effect<void, StoreError, CacheDir> =>
  Effect.flatMap(CacheDir, ({ root }) =>
    Effect.zipRight(
      writeAtomic(buildPath(root, record.build), JSON.stringify(record, null, 1)),
      tryFs(cachePaths(root).buildLog, () =>
        fs.appendFileSync(cachePaths(root).buildLog, JSON.stringify({ build: record.build, target: record.target }) + "\n")
      )
    )
  )

/** A build record by its full hash. */
export const getBuild = (build: string): Effect.Effect<BuildRecord | undefined, StoreError, CacheDir> =>
  Effect.flatMap(CacheDir, ({ root }) =>
    /^[0-9a-f]{64}$/.test(build) ? readJsonIfExists<BuildRecord>(buildPath(root, build)) : Effect.succeed(undefined)
  )

/** Build hashes from the log, oldest first, each once (a rebuilt hash moves to its latest position). */
export const listBuilds = (): Effect.Effect<string[], StoreError, CacheDir> =>
  Effect.flatMap(CacheDir, ({ root }) => {
    const log = cachePaths(root).buildLog
    return tryFs(log, () => {
      if (!fs.existsSync(log)) return []
      const order = fs
        .readFileSync(log, "utf8")
        .split("\n")
        .filter((l) => l.trim() !== "")
        .map((l) => (JSON.parse(l) as { build: string }).build)
      const last = new Map(order.map((b, i) => [b, i]))
      return [...last.entries()].sort((a, b) => a[1] - b[1]).map(([b]) => b)
    })
  })

/** Removes a build record (garbage collection). */
export const deleteBuild = (build: string): Effect.Effect<void, StoreError, CacheDir> =>
  Effect.flatMap(CacheDir, ({ root }) => tryFs(buildPath(root, build), () => fs.rmSync(buildPath(root, build), { force: true })))
