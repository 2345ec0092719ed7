import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { sha256 } from "../core/Key"
import { CorruptObject, StoreError } from "./StoreErrors"
import { readIfExists, tryFs, writeAtomic } from "./AtomicFile"
import { CacheDir, cachePaths } from "./CacheDir"

/** The path of an object by its content hash. */
export const objectPath = (root: string, hash: string): string =>
  path.join(cachePaths(root).objects, hash.slice(0, 2), hash.slice(2))

/** Stores bytes under their sha256 and returns the hash; storing existing content is a no-op. */
export const putObject = (bytes: Uint8Array): Effect.Effect<string, StoreError, CacheDir> =>
  Effect.flatMap(CacheDir, ({ root }) => {
    const hash = sha256(bytes)
    const file = objectPath(root, hash)
    return Effect.flatMap(
      tryFs(file, () => fs.existsSync(file) && fs.statSync(file).size === bytes.byteLength),
      (present) => (present ? Effect.succeed(hash) : Effect.as(writeAtomic(file, bytes), hash))
    )
  })

/** Reads an object and verifies its hash; a missing, truncated or altered object is a CorruptObject. */
export const getObject = (hash: string): Effect.Effect<Uint8Array, CorruptObject | StoreError, CacheDir> =>
  Effect.flatMap(CacheDir, ({ root }) => {
    const file = objectPath(root, hash)
    return Effect.flatMap(readIfExists(file), (buf) => {
      if (buf === undefined) return Effect.fail(new CorruptObject({ hash, path: file, reason: "missing" }))
      const actual = sha256(buf)
      return actual === hash
        ? Effect.succeed(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength))
        : Effect.fail(
            new CorruptObject({ hash, path: file, reason: `content hashes to ${actual.slice(0, 12)} (${buf.byteLength} bytes)` })
          )
    })
  })

/** True when an object of the expected size exists (a cheap check; contents are verified when read). */
export const hasObject = (hash: string, size: number): Effect.Effect<boolean, StoreError, CacheDir> =>
  Effect.flatMap(CacheDir, ({ root }) => {
    const file = objectPath(root, hash)
    return tryFs(file, () => {
      try {
        return fs.statSync(file).size === size
      } catch {
        return false
      }
    })
  })

/** Removes an object (used when it was found corrupt, and by garbage collection). */
export const deleteObject = (hash: string): Effect.Effect<void, StoreError, CacheDir> =>
  Effect.flatMap(CacheDir, ({ root }) => {
    const file = objectPath(root, hash)
    return tryFs(file, () => fs.rmSync(file, { force: true }))
  })
