import { spawnSync } from "node:child_process"
import * as fs from "node:fs"

/** True when CI demands that no test skips for a missing tool (`PREFPIPE_REQUIRE_TOOLS=1`, set by .ci/run after installing them). */
const required = process.env.PREFPIPE_REQUIRE_TOOLS === "1"

const missing = (what: string, consequence = "tests that need it are skipped"): undefined => {
  const message = `${what} (${consequence})`
  if (required) throw new Error(`${message}; PREFPIPE_REQUIRE_TOOLS=1 forbids skipping`)
  console.warn(message)
  return undefined
}

/** A python3 that imports numpy (the one on PATH, else Debian's /usr/bin/python3), or undefined after saying why. */
export const pythonWithNumpy = (): string | undefined => {
  for (const python of ["python3", "/usr/bin/python3"]) {
    const probe = spawnSync(python, ["-c", "import numpy"], { encoding: "utf8" })
    if (probe.status === 0) return python
  }
  return missing("no python3 with numpy (Debian: apt-get install python3-numpy)")
}

/** Runs a Python program (its common indentation removed) with arguments and returns its stdout; a failure throws with its stderr. */
export const runPython = (python: string, program: string, args: ReadonlyArray<string> = []): string => {
  const lines = program.split("\n")
  const indent = Math.min(...lines.filter((l) => l.trim() !== "").map((l) => /^ */.exec(l)![0].length))
  const code = lines.map((l) => l.slice(indent)).join("\n")
  const run = spawnSync(python, ["-c", code, ...args], { encoding: "utf8", maxBuffer: 1 << 28 })
  if (run.status !== 0) throw new Error(`python failed (${run.status}): ${run.stderr}`)
  return run.stdout
}

/** The path of a Chromium binary, or undefined after saying why. */
export const chromiumPath = (): string | undefined => {
  for (const candidate of ["/usr/bin/chromium", "/usr/bin/chromium-browser"]) if (fs.existsSync(candidate)) return candidate
  return missing("no Chromium at /usr/bin/chromium (Debian: apt-get install chromium)")
}

let openBlasReported = false

/**
 * Says once that the OpenBLAS kernels did not load (`why`), so kernel tests run on the fallback backends alone; under
 * PREFPIPE_REQUIRE_TOOLS=1 their absence fails the test instead.
 */
export const openBlasAbsent = (why: string): undefined => {
  if (openBlasReported && !required) return undefined
  openBlasReported = true
  return missing(why, "kernel tests run on onnxruntime's Gemm and JavaScript alone")
}
