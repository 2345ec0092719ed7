// Runs one build of the demo target in its own process: argv = cache dir, config file, out dir.
import { Effect, Layer } from "effect"
import { NodeRuntime } from "@effect/platform-node"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { CacheDir } from "../../cache/CacheDir"
import { RowMemo } from "../../cache/Memo"
import { buildJson, buildTarget } from "../../pipeline/BuildTarget"
import { Progress } from "../../pipeline/Progress"
import { demoSpec } from "./demoStages"
import * as demoTarget from "./targets/demo"

const [cache, config, out] = process.argv.slice(2) as [string, string, string]
// Registered statically so that the benchmark's bundled copy of this runner finds the target without tsx.
;(globalThis as { __prefpipeTargets?: unknown }).__prefpipeTargets = { "targets/demo": async () => demoTarget }
const dir = CacheDir.layer(cache)
const program = buildTarget({
  target: "targets/demo",
  spec: demoSpec,
  config: { file: config },
  concurrency: 2,
  outRoot: out,
  root: path.dirname(fileURLToPath(import.meta.url))
}).pipe(
  Effect.map((b) => void process.stdout.write(JSON.stringify(buildJson(b)) + "\n")),
  Effect.provide(Layer.mergeAll(dir, RowMemo.layerSqlite.pipe(Layer.provide(dir)), Progress.layerStderr))
) as Effect.Effect<void, unknown>

NodeRuntime.runMain(program)
