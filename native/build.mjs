// Builds native/linalg.c (OpenBLAS/LAPACK for the probes' dense kernels) with node-gyp against the headers of the
// running Node, so nothing is downloaded. Without a compiler, Node's headers or OpenBLAS the build is skipped with one
// line saying why and the install goes on: stats/ then uses onnxruntime's Gemm and JavaScript kernels.
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const here = path.dirname(fileURLToPath(import.meta.url))
const nodeDir = path.resolve(path.dirname(process.execPath), "..")
const skip = (why) => {
  console.error(`native linear algebra not built (${why}); probes use onnxruntime and JavaScript kernels. ` +
    "To build it: apt-get install libopenblas-dev (or your system's OpenBLAS), then npm run build:native")
  process.exit(0)
}

if (!fs.existsSync(path.join(nodeDir, "include", "node", "node_api.h"))) skip(`no Node headers under ${nodeDir}/include/node`)
// npm sets npm_config_node_gyp for lifecycle scripts; otherwise use the node-gyp that ships with npm.
const gyp = [process.env.npm_config_node_gyp, path.join(nodeDir, "lib", "node_modules", "npm", "node_modules", "node-gyp", "bin", "node-gyp.js")]
  .find((p) => p !== undefined && fs.existsSync(p))
if (gyp === undefined) skip("node-gyp not found")
const result = spawnSync(process.execPath, [gyp, "rebuild", `--nodedir=${nodeDir}`], { cwd: here, encoding: "utf8" })
if (result.status !== 0) {
  const output = `${result.stdout ?? ""}${result.stderr ?? ""}`
  const reason = /cannot find -lopenblas/.test(output) ? "OpenBLAS not found" : /not found|No such file/.test(output) ? "a compiler or header is missing" : "node-gyp failed"
  fs.rmSync(path.join(here, "build"), { recursive: true, force: true })
  skip(`${reason}: ${output.trim().split("\n").filter((l) => /error/i.test(l)).slice(0, 2).join(" / ")}`)
}
console.error("built native/build/Release/linalg.node (OpenBLAS)")
