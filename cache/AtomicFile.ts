import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { StoreError } from "./StoreErrors"

let counter = 0

/** Runs a synchronous file-system call, turning a thrown error into a StoreError that names the path. */
export const tryFs = <A>(file: string, f: () => A): Effect.Effect<A, StoreError> =>
  Effect.try({ try: f, catch: (e) => new StoreError({ path: file, reason: e instanceof Error ? e.message : String(e) }) })

/**
 * Writes bytes durably under a temporary name in the same folder, fsyncs, then renames into place, so a reader
 * sees the old file or the whole new one and never a torn write. Throws on failure.
 */
export const writeFileAtomic = (file: string, data: string | Uint8Array): void => {
  fs.mkdirSync(path.dirname(file), { recursive: true })
  const tmp = `${file}.tmp-${process.pid}-${++counter}`
  const fd = fs.openSync(tmp, "w")
  try {
    if (typeof data === "string") fs.writeSync(fd, data)
    else fs.writeSync(fd, data)
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
  fs.renameSync(tmp, file)
}

/** `writeFileAtomic` as an Effect whose failure names the path. */
export const writeAtomic = (file: string, data: string | Uint8Array): Effect.Effect<void, StoreError> =>
  tryFs(file, () => writeFileAtomic(file, data))

/** Reads a file, or undefined when it does not exist. */
export const readIfExists = (file: string): Effect.Effect<Buffer | undefined, StoreError> =>
  tryFs(file, () => {
    try {
      return fs.readFileSync(file)
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined
      throw e
    }
  })
