import { Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { getAction } from "../../cache/Actions"
import { CacheDir } from "../../cache/CacheDir"
import { RowMemo } from "../../cache/Memo"
import { ModelPool } from "../../model/ModelPool"
import { type Loaded, type LoadedOutputs, loadedOutputs } from "../../pipeline/Artifact"
import { loadOutput } from "../../pipeline/Build"
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

/** A temporary project workspace (cache, out folder, config file) building real targets in-process; progress is discarded unless a layer is given. */
export const experimentWorkspace = (progress: Layer.Layer<Progress> = Progress.layerSilent) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prefpipe-experiment-"))
  const cache = path.join(dir, "cache")
  const config = path.join(dir, "experiment.json")
  const cacheLayer = CacheDir.layer(cache)
  const layer = Layer.mergeAll(
    cacheLayer,
    RowMemo.layerSqlite.pipe(Layer.provide(cacheLayer)),
    ModelPool.Default.pipe(Layer.provide(cacheLayer)),
    progress
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

/** Builds `reports/<name>` of a config in a workspace of its own and returns its summary.json's `summary`. */
export const reportSummary = async (config: unknown, name: string): Promise<any> => {
  const w = experimentWorkspace()
  try {
    w.writeConfig(config)
    await w.build(`reports/${name}`)
    return JSON.parse(fs.readFileSync(path.join(w.out, "reports", name, "summary.json"), "utf8")).summary
  } finally {
    fs.rmSync(w.dir, { recursive: true, force: true })
  }
}

/** Width and height of a PNG from its IHDR chunk. */
export const pngSize = (bytes: Uint8Array): { width: number; height: number } => {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (view.getUint32(0) !== 0x89504e47) throw new Error("not a PNG")
  return { width: view.getUint32(16), height: view.getUint32(20) }
}

/** A shipped template's JSON (templates/<id>.json), to inline or reword in a test config. */
export const shippedTemplate = (id: string): Record<string, any> =>
  JSON.parse(fs.readFileSync(path.resolve(__dirname, "../../templates", `${id}.json`), "utf8")) as Record<string, any>

/** Rows of a report CSV (no quoted fields in these tables), numbers parsed, empty cells null. */
export const readCsv = (file: string): Array<Record<string, string | number | null>> => {
  const [header, ...lines] = fs.readFileSync(file, "utf8").trim().split("\r\n")
  const names = header!.split(",")
  return lines.map((line) => {
    const cells = line.split(",")
    return Object.fromEntries(
      names.map((n, k) => {
        const c = cells[k]!
        return [n, c === "" ? null : Number.isNaN(Number(c)) ? c : Number(c)]
      })
    )
  })
}

/** The outputs of one stage of a finished build, read back from the cache (objects verified). */
export const stageOutputs = (cache: string, build: { readonly stages: ReadonlyArray<{ readonly stage: string; readonly key: string }> }, stage: string) =>
  Effect.runPromise(
    Effect.gen(function* () {
      const record = (yield* getAction(build.stages.find((s) => s.stage === stage)!.key))!
      const loaded: Record<string, Loaded> = {}
      for (const [name, output] of Object.entries(record.outputs)) loaded[name] = yield* loadOutput(output)
      return loadedOutputs(stage, loaded)
    }).pipe(Effect.provide(CacheDir.layer(cache)))
  ) as Promise<LoadedOutputs>
