// What the CLI's commands run (engine, store, model pool), imported by pipeline/Cli.ts only when a command runs.
import { Layer, Option } from "effect"
import * as path from "node:path"
import { CacheDir } from "../cache/CacheDir"
import { RowMemo } from "../cache/Memo"
import { ModelPool } from "../model/ModelPool"
import { Progress } from "./Progress"
import { projectRoot } from "./Target"

export { CacheDir } from "../cache/CacheDir"
export { cacheStats, collectGarbage } from "../cache/Gc"
export { RowMemo } from "../cache/Memo"
export { buildJson, buildTarget, planTarget } from "./BuildTarget"
export { experimentConfig } from "./Config"
export { formatReason } from "./Plan"
export { reproduce, showHash } from "./Provenance"
export { verifyCache } from "../cache/Verify"

/** The cache folder a command uses: `--cache`, else $PIPELINE_CACHE, else .pipeline/ in the project. */
export const cacheRoot = (cache: Option.Option<string>): string =>
  Option.getOrElse(cache, () => process.env.PIPELINE_CACHE ?? path.join(projectRoot, ".pipeline"))

/** The cache, row memo and progress layers for a command, from its `--cache` option. */
export const cacheLayer = (cache: Option.Option<string>, quiet: boolean) => {
  const dir = CacheDir.layer(cacheRoot(cache))
  return Layer.mergeAll(
    dir,
    RowMemo.layerSqlite.pipe(Layer.provide(dir)),
    ModelPool.Default.pipe(Layer.provide(dir)),
    quiet ? Progress.layerSilent : Progress.layerStderr
  )
}
