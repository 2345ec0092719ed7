import { Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { CacheDir } from "../../cache/CacheDir"
import { RowMemo } from "../../cache/Memo"
import { ModelPool } from "../../model/ModelPool"
import { buildJson, buildTarget, planTarget } from "../../pipeline/BuildTarget"
import { experimentConfig } from "../../pipeline/Config"
import { Progress } from "../../pipeline/Progress"

/** A small experiment (6 tasks per origin, 2 samples, one layer) that builds in well under a minute. */
export const tinyExperiment = {
  sample: { perOrigin: 6 },
  completion: { maxTokens: 16 },
  elicitation: { samples: 2, maxTokens: 8 },
  activations: { layers: [1] },
  probes: { bootstrap: 50, folds: 3 }
}

/** A temporary project workspace (cache, out folder, config file) building real targets in-process. */
export const experimentWorkspace = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prefpipe-experiment-"))
  const cache = path.join(dir, "cache")
  const config = path.join(dir, "experiment.json")
  const cacheLayer = CacheDir.layer(cache)
  const layer = Layer.mergeAll(
    cacheLayer,
    RowMemo.layerSqlite.pipe(Layer.provide(cacheLayer)),
    ModelPool.Default.pipe(Layer.provide(cacheLayer)),
    Progress.layerSilent
  )
  const run = <A, E>(effect: Effect.Effect<A, E, any>) => Effect.runPromise(Effect.scoped(Effect.provide(effect, layer)) as Effect.Effect<A, E>)
  return {
    dir,
    cache,
    out: path.join(dir, "out"),
    writeConfig: (value: unknown) => fs.writeFileSync(config, JSON.stringify(value)),
    run,
    /** Builds a target of the project (or, given `root`, one defined under another folder). */
    build: (target: string, root?: string) =>
      run(
        buildTarget({ target, spec: experimentConfig, config: { file: config }, concurrency: 1, outRoot: path.join(dir, "out"), ...(root === undefined ? {} : { root }) })
      ).then(buildJson),
    plan: (target: string) => run(planTarget({ target, spec: experimentConfig, config: { file: config } }))
  }
}

/** Width and height of a PNG from its IHDR chunk. */
export const pngSize = (bytes: Uint8Array): { width: number; height: number } => {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (view.getUint32(0) !== 0x89504e47) throw new Error("not a PNG")
  return { width: view.getUint32(16), height: view.getUint32(20) }
}
