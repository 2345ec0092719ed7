import { Duration, Effect, Scope } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import type { StoreError } from "./StoreErrors"
import { tryFs } from "./AtomicFile"
import { CacheDir, cachePaths } from "./CacheDir"

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"
  }
}

/** A lock file's owner: its pid, "unreadable" for anything else in it, or "gone" when the file disappeared. */
const ownerOf = (file: string): number | "unreadable" | "gone" => {
  try {
    const text = fs.readFileSync(file, "utf8")
    const pid = Number(text)
    return text !== "" && Number.isInteger(pid) && pid > 0 ? pid : "unreadable"
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return "gone"
    throw e
  }
}

type Attempt = { readonly _tag: "Acquired" } | { readonly _tag: "Busy" } | { readonly _tag: "TookOver"; readonly owner: string }

let counter = 0

/**
 * Tries once to take the lock file. The file appears with the owner's pid already in it (written under another name,
 * then hard-linked into place), so a lock whose pid names no running process is dead and is taken over at once; a
 * lock holding no pid (left by damage) is dead once it is ten seconds old.
 */
const tryAcquire = (file: string): Effect.Effect<Attempt, StoreError> =>
  tryFs(file, () => {
    fs.mkdirSync(path.dirname(file), { recursive: true })
    const mine = `${file}.${process.pid}-${++counter}.new`
    fs.writeFileSync(mine, String(process.pid))
    try {
      let dead: string | undefined
      for (let tries = 0; tries < 10; tries++) {
        try {
          fs.linkSync(mine, file)
          return dead === undefined ? { _tag: "Acquired" } : { _tag: "TookOver", owner: dead }
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e
        }
        const owner = ownerOf(file)
        if (owner === "gone") continue
        if (typeof owner === "number" && (owner === process.pid || alive(owner))) return { _tag: "Busy" }
        if (owner === "unreadable" && Date.now() - fs.statSync(file).mtimeMs < 10_000) return { _tag: "Busy" }
        // Move the dead lock aside; if what moved was not the lock just read (another waiter replaced it), put it back.
        const stale = `${file}.stale-${process.pid}`
        try {
          fs.renameSync(file, stale)
        } catch {
          continue
        }
        if (ownerOf(stale) !== owner) {
          try {
            fs.linkSync(stale, file)
          } catch {
            // someone holds the lock again; their claim stands
          }
          fs.rmSync(stale, { force: true })
          continue
        }
        fs.rmSync(stale, { force: true })
        dead = typeof owner === "number" ? `process ${owner}, which is no longer running` : "an unreadable lock file"
      }
      return { _tag: "Busy" }
    } finally {
      fs.rmSync(mine, { force: true })
    }
  })

/**
 * Holds an exclusive, cross-process lock on a cache key for the scope's lifetime. Waiting processes poll; `waiting`
 * runs once when a live process holds the lock, and `takenOver` (instead of waiting) when its holder is dead.
 */
export const lockKey = (
  key: string,
  on: { readonly waiting: Effect.Effect<void>; readonly takenOver: (owner: string) => Effect.Effect<void> }
): Effect.Effect<void, StoreError, CacheDir | Scope.Scope> =>
  Effect.flatMap(CacheDir, ({ root }) => {
    const file = path.join(cachePaths(root).locks, `${key}.lock`)
    const acquire = Effect.gen(function* () {
      let waited = false
      for (;;) {
        const attempt = yield* tryAcquire(file)
        if (attempt._tag === "Acquired") return
        if (attempt._tag === "TookOver") return yield* on.takenOver(attempt.owner)
        if (!waited) {
          waited = true
          yield* on.waiting
        }
        yield* Effect.sleep(Duration.millis(50))
      }
    })
    return Effect.acquireRelease(acquire, () => Effect.sync(() => fs.rmSync(file, { force: true })))
  })
