import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect, Either } from "effect"
import type { CorruptObject, StoreError } from "./StoreErrors"
import { tryFs, writeFileAtomic } from "./AtomicFile"
import { CacheDir, cachePaths } from "./CacheDir"
import { getObject, objectPath } from "./Objects"
import { setAside } from "./Quarantine"
import { checkRecordText, recordText } from "./Records"

/** The files of a folder as recorded when it was stored: name -> content hash and size. */
export type FileHashes = Readonly<Record<string, { readonly hash: string; readonly size: number }>>

/** The sha256 of a file, read in 16 MiB chunks. */
export const hashFile = (file: string): string => {
  const hash = createHash("sha256")
  const fd = fs.openSync(file, "r")
  try {
    const buffer = Buffer.allocUnsafe(1 << 24)
    for (let n = fs.readSync(fd, buffer); n > 0; n = fs.readSync(fd, buffer)) hash.update(buffer.subarray(0, n))
  } finally {
    fs.closeSync(fd)
  }
  return hash.digest("hex")
}

/**
 * The first way a folder's files differ from their recorded hashes (missing, another size, other content), or
 * undefined when every recorded file is there with its content. `skipHash` may vouch for a file of the right size
 * without reading it.
 */
const checkFiles = (dir: string, files: FileHashes, skipHash?: (name: string, stat: fs.Stats) => boolean): string | undefined => {
  for (const [name, recorded] of Object.entries(files)) {
    const file = path.join(dir, name)
    let stat: fs.Stats
    try {
      stat = fs.statSync(file)
    } catch {
      return `${name} is missing`
    }
    if (stat.size !== recorded.size) return `${name} has ${stat.size} bytes where ${recorded.size} were recorded`
    if (skipHash?.(name, stat) === true) continue
    const actual = hashFile(file)
    if (actual !== recorded.hash) return `${name} hashes to ${actual.slice(0, 12)}, not to its recorded ${recorded.hash.slice(0, 12)}`
  }
  return undefined
}

/** Files as last hashed: content hash, size and modification time (ms) of each, by name. */
export type StampedHashes = Readonly<Record<string, { readonly hash: string; readonly size: number; readonly mtimeMs: number }>>

/** Hashes files of a folder and records each with its size and modification time. */
export const stampFiles = (dir: string, names: ReadonlyArray<string>): StampedHashes =>
  Object.fromEntries(
    names.map((name) => {
      const file = path.join(dir, name)
      const stat = fs.statSync(file)
      return [name, { hash: hashFile(file), size: stat.size, mtimeMs: stat.mtimeMs }]
    })
  )

/**
 * Checks a folder's files against the checksummed manifest that lists them (`stampFiles` under `files`): the size of
 * each always, its content when `full` or when its modification time differs from the recorded one (a file edited
 * or replaced in place), so large files that nothing touched are not reread on every use. When every file checks
 * out after a rehash the manifest's times are refreshed. Returns the first problem, or undefined.
 */
export const checkManifest = (manifest: string, dir: string, full: boolean): string | undefined => {
  let text: string
  try {
    text = fs.readFileSync(manifest, "utf8")
  } catch {
    return "has no manifest of its file hashes (written before manifests were kept, or the manifest was lost)"
  }
  const checked = checkRecordText<{ files?: StampedHashes }>(text)
  if (Either.isLeft(checked)) return `its manifest ${path.basename(manifest)} ${checked.left}`
  const files = checked.right.value.files
  if (typeof files !== "object" || files === null) return `its manifest ${path.basename(manifest)} lists no files`
  let rehashed = false
  const problem = checkFiles(dir, files, (name, stat) => {
    const unchanged = !full && stat.mtimeMs === files[name]!.mtimeMs
    rehashed ||= !unchanged
    return unchanged
  })
  if (problem === undefined && rehashed && !full) writeFileAtomic(manifest, recordText({ files: stampFiles(dir, Object.keys(files)) }))
  return problem
}

/** The marker a materialized folder holds once every file is in place. */
const MARKER = ".complete"

/** The folder a stored Files output is materialized in. */
const folderPath = (root: string, hash: string): string => path.join(cachePaths(root).dirs, hash)

/** Why a materialized folder cannot be used as it is, or undefined when it holds every recorded file intact. */
export const checkFolder = (dir: string, files: FileHashes): string | undefined =>
  fs.existsSync(path.join(dir, MARKER)) ? checkFiles(dir, files) : "was left unfinished (no .complete marker)"

/**
 * The folder of a stored Files output (`dirs/<hash>/`), built from verified objects as hard links (copies across
 * devices). A folder that exists is rehashed against its recorded file hashes before every use (sha256 runs at a
 * few hundred MB/s, so a checkpoint of a few MB costs milliseconds); one that fails is moved to the quarantine with
 * one line and rebuilt, and a damaged object behind it fails as CorruptObject so its producer is rebuilt.
 */
export const materializeFolder = (hash: string, files: FileHashes): Effect.Effect<string, CorruptObject | StoreError, CacheDir> =>
  Effect.gen(function* () {
    const { root } = yield* CacheDir
    const dir = folderPath(root, hash)
    if (yield* tryFs(dir, () => fs.existsSync(dir))) {
      const problem = yield* tryFs(dir, () => checkFolder(dir, files))
      if (problem === undefined) return dir
      yield* setAside([dir], problem, "rebuilt from its objects")
    }
    yield* getObject(hash)
    const tmp = `${dir}.tmp-${process.pid}`
    yield* tryFs(tmp, () => fs.rmSync(tmp, { recursive: true, force: true }))
    for (const [name, file] of Object.entries(files)) {
      yield* getObject(file.hash)
      const target = path.join(tmp, name)
      yield* tryFs(target, () => {
        fs.mkdirSync(path.dirname(target), { recursive: true })
        try {
          fs.linkSync(objectPath(root, file.hash), target)
        } catch {
          fs.copyFileSync(objectPath(root, file.hash), target)
        }
      })
    }
    yield* tryFs(dir, () => {
      fs.mkdirSync(tmp, { recursive: true })
      fs.writeFileSync(path.join(tmp, MARKER), "")
      try {
        fs.renameSync(tmp, dir)
      } catch (e) {
        // Another process materialized the same folder first; its copy is identical.
        if (!fs.existsSync(path.join(dir, MARKER))) throw e
        fs.rmSync(tmp, { recursive: true, force: true })
      }
    })
    return dir
  })
