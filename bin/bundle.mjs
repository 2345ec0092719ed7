// Bundles the CLI and every report target into dist/pipeline.mjs, so the CLI starts without transpiling and loading
// hundreds of modules. bin/pipeline uses the bundle only while it is newer than every source file.
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

// The entry registers every report module under its target name, then starts the CLI.
const entry = [
  ...targets.map((t, i) => `import * as t${i} from "./${t}"`),
  `globalThis.__prefpipeTargets = { ${targets.map((t, i) => `${JSON.stringify(t)}: t${i}`).join(", ")} }`,
  `await import("./pipeline/main")`
].join("\n")

try {
  await esbuild.build({
    ...bundleOptions(outfile),
    stdin: { contents: entry, resolveDir: root, sourcefile: "bundle-entry.ts", loader: "ts" }
  })
  console.error(`bundled ${targets.length} targets into ${path.relative(root, outfile)}`)
} catch (e) {
  // The CLI still runs from source through tsx; a failed bundle must not fail an install.
  fs.rmSync(outfile, { force: true })
  console.error(`bundle skipped: ${e instanceof Error ? e.message : String(e)}`)
}
