import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { sha256 } from "../core/Key"
import { CorruptObject, StoreError } from "./StoreErrors"
import { readIfExists, tryFs, writeAtomic } from "./AtomicFile"
import { CacheDir, cachePaths } from "./CacheDir"
import { moveToQuarantine, setAside } from "./Quarantine"

/** The path of an object by its content hash. */
export const objectPath = (root: string, hash: string): string =>
  path.join(cachePaths(root).objects, hash.slice(0, 2), hash.slice(2))

/**
 * Stores bytes under their sha256 and returns the hash. Content already stored is left alone only when the file
 * holds exactly these bytes; a file under this name with other content is damaged, so it is set aside and replaced.
 */
export const putObject = (bytes: Uint8Array): Effect.Effect<string, StoreError, CacheDir> =>
  Effect.gen(function* () {
    const { root } = yield* CacheDir
    const hash = sha256(bytes)
    const file = objectPath(root, hash)
    const existing = yield* readIfExists(file)
    if (existing !== undefined && existing.equals(bytes)) return hash
    if (existing !== undefined) {
      yield* setAside([file], `content hashes to ${sha256(existing).slice(0, 12)} (${existing.byteLength} bytes), not to its name`, "rewritten")
    }
    yield* writeAtomic(file, bytes)
    return hash
  })

const unusable = (root: string, hash: string, file: string, reason: string) =>
  tryFs(file, () => {
    const kept = moveToQuarantine(root, file)
    return new CorruptObject({ hash, path: file, reason: `is damaged: ${reason}${kept === undefined ? "" : `; kept as ${kept}`}` })
  })

/**
 * Reads an object and verifies its hash. A missing object, or one whose content does not hash to its name (moved to
 * the quarantine first), is a CorruptObject: it is never used.
 */
export const getObject = (hash: string): Effect.Effect<Uint8Array, CorruptObject | StoreError, CacheDir> =>
  Effect.gen(function* () {
    const { root } = yield* CacheDir
    const file = objectPath(root, hash)
    const buf = yield* readIfExists(file)
    if (buf === undefined) return yield* new CorruptObject({ hash, path: file, reason: `is missing (${path.relative(root, file)})` })
    const actual = sha256(buf)
    if (actual === hash) return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength)
    return yield* Effect.flatMap(unusable(root, hash, file, `content hashes to ${actual.slice(0, 12)} (${buf.byteLength} bytes)`), Effect.fail)
  })

/**
 * Checks that an object is present with its recorded size (cheap) or, when `full`, that it hashes to its name; a
 * present but damaged object is moved to the quarantine. Returns the problem, or undefined when the object is usable.
 */
export const checkObject = (hash: string, size: number, full: boolean): Effect.Effect<CorruptObject | undefined, StoreError, CacheDir> =>
  Effect.gen(function* () {
    const { root } = yield* CacheDir
    const file = objectPath(root, hash)
    if (full) return yield* getObject(hash).pipe(Effect.as(undefined), Effect.catchTag("CorruptObject", Effect.succeed))
    const actual = yield* tryFs(file, () => {
      try {
        return fs.statSync(file).size
      } catch {
        return undefined
      }
    })
    if (actual === undefined) return new CorruptObject({ hash, path: file, reason: `is missing (${path.relative(root, file)})` })
    return actual === size ? undefined : yield* unusable(root, hash, file, `${actual} bytes where ${size} were stored`)
  })
