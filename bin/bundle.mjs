// Bundles the CLI and every report target into dist/pipeline.mjs and chunks beside it, so the CLI starts without
// transpiling and loading hundreds of modules. Each target is a chunk imported when it is built, and whatever only a
// command's handler needs is imported by the handler, so `pipeline --help` loads the command definitions alone.
// bin/pipeline uses the bundle only while it is newer than every source file.
import * as esbuild from "esbuild"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { bundleOptions } from "./bundleOptions.mjs"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const outfile = path.join(root, "dist", "pipeline.mjs")
const targets = fs
  .readdirSync(path.join(root, "reports"))
  .filter((f) => f.endsWith(".ts"))
  .map((f) => `reports/${f.slice(0, -3)}`)

// The entry registers a loader of every report module under its target name, then starts the CLI.
const entry = [
  `globalThis.__prefpipeTargets = { ${targets.map((t) => `${JSON.stringify(t)}: () => import("./${t}")`).join(", ")} }`,
  `await import("./pipeline/main")`
].join("\n")

fs.rmSync(path.dirname(outfile), { recursive: true, force: true })
try {
  await esbuild.build({
    ...bundleOptions(outfile),
    stdin: { contents: entry, resolveDir: root, sourcefile: "bundle-entry.ts", loader: "ts" }
  })
  console.error(`bundled ${targets.length} targets into ${path.relative(root, outfile)}`)
} catch (e) {
  // The CLI still runs from source through tsx; a failed bundle must not fail an install.
  fs.rmSync(path.dirname(outfile), { recursive: true, force: true })
  console.error(`bundle skipped: ${e instanceof Error ? e.message : String(e)}`)
}
