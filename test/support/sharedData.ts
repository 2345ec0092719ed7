import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

/** The folder of shared test data that sits beside the project checkout (`../shared/data`). */
export const sharedDataDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../shared/data")

/** True when CI demands that no shared-data test skips (`PREFPIPE_REQUIRE_SHARED=1`). */
const required = process.env.PREFPIPE_REQUIRE_SHARED === "1"

/**
 * Resolves a path inside `../shared/data`, or returns undefined (printing what is missing) so the
 * caller can skip. Under `PREFPIPE_REQUIRE_SHARED=1` a missing file throws instead, so CI fails
 * rather than skipping silently.
 */
export const sharedPath = (relative: string): string | undefined => {
  const full = path.join(sharedDataDir, relative)
  if (fs.existsSync(full)) return full
  const message = `shared test data missing: ${full} (tests that need it are skipped)`
  if (required) throw new Error(`${message}; PREFPIPE_REQUIRE_SHARED=1 forbids skipping`)
  console.warn(message)
  return undefined
}

/** Reads and parses a JSON file from `../shared/data`, or undefined when it is missing. */
export const sharedJson = <A = unknown>(relative: string): A | undefined => {
  const full = sharedPath(relative)
  return full === undefined ? undefined : (JSON.parse(fs.readFileSync(full, "utf8")) as A)
}
