// Bundles the CLI and every report target into dist/pipeline.mjs and chunks beside it, so the CLI starts without
// transpiling and loading hundreds of modules. Each target is a chunk imported when it is built, and whatever only a
// command's handler needs is imported by the handler. The top-level help (every command and every target's
// description) is printed once by the bundle itself and kept as dist/help.txt, which `pipeline --help` prints without
// loading the CLI. bin/pipeline uses the bundle only while it is newer than every source file.
import * as esbuild from "esbuild"
import { execFileSync } from "node:child_process"
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

// The entry prints the kept help when that is all it is asked for; otherwise it registers a loader of every report
// module under its target name and starts the CLI.
const entry = [
  `import { readFileSync } from "node:fs"`,
  `import { wantsTopLevelHelp } from "./pipeline/HelpRequest"`,
  `const keptHelp = () => { try { return readFileSync(new URL("./help.txt", import.meta.url)) } catch { return undefined } }`,
  `const help = wantsTopLevelHelp(process.argv.slice(2)) ? keptHelp() : undefined`,
  `if (help !== undefined) process.stdout.write(help)`,
  `else {`,
  `  globalThis.__prefpipeTargets = { ${targets.map((t) => `${JSON.stringify(t)}: () => import("./${t}")`).join(", ")} }`,
  `  await import("./pipeline/main")`,
  `}`
].join("\n")

fs.rmSync(path.dirname(outfile), { recursive: true, force: true })
try {
  await esbuild.build({
    ...bundleOptions(outfile),
    stdin: { contents: entry, resolveDir: root, sourcefile: "bundle-entry.ts", loader: "ts" }
  })
  console.error(`bundled ${targets.length} targets into ${path.relative(root, outfile)}`)
  try {
    const help = execFileSync(process.execPath, [outfile, "--help"], { cwd: root, stdio: ["ignore", "pipe", "inherit"] })
    fs.writeFileSync(path.join(path.dirname(outfile), "help.txt"), help)
  } catch (e) {
    // Without it, --help loads the CLI and asks every target for its description, as from source.
    console.error(`help not kept: ${e instanceof Error ? e.message : String(e)}`)
  }
} catch (e) {
  // The CLI still runs from source through tsx; a failed bundle must not fail an install.
  fs.rmSync(path.dirname(outfile), { recursive: true, force: true })
  console.error(`bundle skipped: ${e instanceof Error ? e.message : String(e)}`)
}
