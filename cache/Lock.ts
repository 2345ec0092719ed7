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

/** Tries once to take the lock file; a lock left by a dead process is taken over. */
const tryAcquire = (file: string): Effect.Effect<boolean, StoreError> =>
  tryFs(file, () => {
    fs.mkdirSync(path.dirname(file), { recursive: true })
    try {
      fs.writeFileSync(file, String(process.pid), { flag: "wx" })
      return true
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e
      const text = fs.readFileSync(file, "utf8")
      // The owner creates the file and then writes its pid: an empty file is a lock being taken, not a dead one.
      if (text === "" && Date.now() - fs.statSync(file).mtimeMs < 10_000) return false
      const owner = Number(text)
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && alive(owner)) return false
      if (owner === process.pid) return false
      // The owner died without releasing; replace its lock atomically so two waiters cannot both win.
      const stale = `${file}.stale-${process.pid}`
      try {
        fs.renameSync(file, stale)
        fs.rmSync(stale, { force: true })
      } catch {
        return false
      }
      return false
    }
  })

/**
 * Holds an exclusive, cross-process lock on a cache key for the scope's lifetime. Waiting processes poll; the
 * `onWait` effect runs once when the lock is busy, so a build can say whom it is waiting for.
 */
export const lockKey = (
  key: string,
  onWait: Effect.Effect<void>
): Effect.Effect<void, StoreError, CacheDir | Scope.Scope> =>
  Effect.flatMap(CacheDir, ({ root }) => {
    const file = path.join(cachePaths(root).locks, `${key}.lock`)
    const acquire = Effect.gen(function* () {
      let waited = false
      while (!(yield* tryAcquire(file))) {
        if (!waited) {
          waited = true
          yield* onWait
        }
        yield* Effect.sleep(Duration.millis(50))
      }
    })
    return Effect.acquireRelease(acquire, () => Effect.sync(() => fs.rmSync(file, { force: true })))
  })
