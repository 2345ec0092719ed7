import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import type { StoreError } from "./StoreErrors"
import { deleteAction, getAction, listActions } from "./Actions"
import { tryFs } from "./AtomicFile"
import { deleteBuild, getBuild, listBuilds, logEntry } from "./Builds"
import { CacheDir, cachePaths, listSharded } from "./CacheDir"

/** What a garbage collection kept and removed. */
export interface GcReport {
  readonly keptBuilds: number
  readonly removedBuilds: number
  readonly removedActions: number
  readonly removedObjects: number
  readonly removedBytes: number
}

const listObjects = (dir: string): Array<{ hash: string; file: string; size: number }> =>
  listSharded(dir, "").map(({ name, file }) => ({ hash: name, file, size: fs.statSync(file).size }))

/**
 * Removes everything not reachable from the newest `keepBuilds` builds (all builds when undefined): their stage
 * actions and those actions' objects stay; nothing is removed for its age.
 */
export const collectGarbage = (keepBuilds: number | undefined): Effect.Effect<GcReport, StoreError, CacheDir> =>
  Effect.gen(function* () {
    const { root } = yield* CacheDir
    const builds = yield* listBuilds()
    const kept = keepBuilds === undefined ? builds : builds.slice(Math.max(0, builds.length - keepBuilds))
    const removedBuilds = builds.filter((b) => !kept.includes(b))
    const liveActions = new Set<string>()
    const liveObjects = new Set<string>()
    for (const b of kept) {
      const record = yield* getBuild(b)
      for (const s of record?.stages ?? []) {
        const action = yield* getAction(s.key)
        if (action === undefined) continue
        liveActions.add(s.key)
        for (const o of Object.values(action.outputs)) {
          liveObjects.add(o.hash)
          for (const f of Object.values(o.files ?? {})) liveObjects.add(f.hash)
        }
      }
    }
    let removedActions = 0
    for (const key of yield* listActions()) {
      if (liveActions.has(key)) continue
      yield* deleteAction(key)
      removedActions++
    }
    for (const b of removedBuilds) yield* deleteBuild(b)
    const paths = cachePaths(root)
    return yield* tryFs(root, () => {
      let removedObjects = 0
      let removedBytes = 0
      for (const o of listObjects(paths.objects)) {
        if (liveObjects.has(o.hash)) continue
        fs.rmSync(o.file, { force: true })
        removedObjects++
        removedBytes += o.size
      }
      if (fs.existsSync(paths.dirs)) {
        for (const d of fs.readdirSync(paths.dirs)) {
          if (!liveObjects.has(d)) fs.rmSync(path.join(paths.dirs, d), { recursive: true, force: true })
        }
      }
      if (fs.existsSync(paths.buildLog)) {
        const keep = new Set(kept)
        const lines = fs.readFileSync(paths.buildLog, "utf8").split("\n").filter((l) => l.trim() !== "")
        fs.writeFileSync(paths.buildLog, lines.filter((l) => keep.has(logEntry(l)?.build ?? "")).map((l) => l + "\n").join(""))
      }
      return { keptBuilds: kept.length, removedBuilds: removedBuilds.length, removedActions, removedObjects, removedBytes }
    })
  })

/** Counts and sizes of what the cache holds. */
export const cacheStats = (): Effect.Effect<
  { readonly builds: number; readonly actions: number; readonly objects: number; readonly bytes: number },
  StoreError,
  CacheDir
> =>
  Effect.gen(function* () {
    const { root } = yield* CacheDir
    const builds = (yield* listBuilds()).length
    const actions = (yield* listActions()).length
    return yield* tryFs(root, () => {
      const objects = listObjects(cachePaths(root).objects)
      return { builds, actions, objects: objects.length, bytes: objects.reduce((a, o) => a + o.size, 0) }
    })
  })
