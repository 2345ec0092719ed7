// Engine benchmark: no-change rebuild of a 200-stage graph (a fresh process each time, so process start counts)
// and the in-process cost per cached stage lookup.
import { Effect, Layer } from "effect"
import * as esbuild from "esbuild"
// @ts-expect-error a plain ESM module without types
import { bundleOptions } from "../bin/bundleOptions.mjs"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { CacheDir } from "../cache/CacheDir"
import { RowMemo } from "../cache/Memo"
import { buildTarget } from "../pipeline/BuildTarget"
import { Progress } from "../pipeline/Progress"
import { demoSpec } from "../test/support/demoStages"

const support = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../test/support")
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prefpipe-bench-engine-"))
const cache = path.join(dir, "cache")
const config = path.join(dir, "experiment.json")
const templates = Object.fromEntries(Array.from({ length: 197 }, (_, i) => [`t${String(i).padStart(3, "0")}`, { text: `template ${i}`, factor: i }]))
fs.writeFileSync(config, JSON.stringify({ count: 20, templates }))

// The CLI runs from a bundle (bin/bundle.mjs); bundle the demo runner the same way so process start is comparable.
const bundle = path.join(support, "../../dist/bench-engine.mjs")
await esbuild.build({ ...bundleOptions(bundle), entryPoints: [path.join(support, "runDemo.ts")] })

const runProcess = () => {
  const started = process.hrtime.bigint()
  const out = execFileSync(process.execPath, [bundle, cache, config, path.join(dir, "out")], {
    stdio: ["ignore", "pipe", "ignore"]
  })
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  return { seconds, summary: JSON.parse(out.toString()) as { executed: number; cached: number; stages: unknown[] } }
}

const cold = runProcess()
console.log(`graph: ${cold.summary.stages.length} stages; cold build ${cold.seconds.toFixed(2)} s (${cold.summary.executed} executed)`)
const warm = [runProcess(), runProcess(), runProcess()]
const best = Math.min(...warm.map((w) => w.seconds))
console.log(`no-change rebuild, including process start: best ${best.toFixed(3)} s of 3 (${warm.map((w) => w.seconds.toFixed(3)).join(", ")}); executed ${warm[0]!.summary.executed}  [target < 1 s]`)

const start = process.hrtime.bigint()
execFileSync(process.execPath, ["-e", "0"], { stdio: "ignore" })
console.log(`of which bare node process start: ${(Number(process.hrtime.bigint() - start) / 1e9).toFixed(3)} s`)

const layer = Layer.mergeAll(CacheDir.layer(cache), RowMemo.layerSqlite.pipe(Layer.provide(CacheDir.layer(cache))), Progress.layerSilent)
const inProcess = async () => {
  const t0 = process.hrtime.bigint()
  await Effect.runPromise(
    Effect.scoped(
      Effect.provide(
        buildTarget({ target: "targets/demo", spec: demoSpec, config: { file: config }, concurrency: 1, outRoot: path.join(dir, "out"), root: support }),
        layer
      )
    ) as Effect.Effect<unknown>
  )
  return Number(process.hrtime.bigint() - t0) / 1e9
}
await inProcess()
const times = [await inProcess(), await inProcess(), await inProcess()]
const perStage = (Math.min(...times) / cold.summary.stages.length) * 1e3
console.log(`in-process no-change rebuild: ${Math.min(...times).toFixed(3)} s; overhead per cached stage lookup ${perStage.toFixed(2)} ms`)
fs.rmSync(dir, { recursive: true, force: true })
