import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import type { CacheDir } from "../cache/CacheDir"
import { putBuild, type BuildRecord } from "../cache/Builds"
import { tryFs, writeAtomic } from "../cache/AtomicFile"
import { getObject } from "../cache/Objects"
import type { Loaded } from "./Artifact"
import { loadedOutputs } from "./Artifact"
import { build, type BuildResult, loadOutput, type NodeResult } from "./Build"
import type { GraphError, StageError } from "./Errors"
import type { CorruptObject, StoreError } from "../cache/StoreErrors"
import { ConfigError, TargetError } from "./Errors"
import { resolve, type Graph } from "./Graph"
import { hashValue, sha256, toKeyable } from "../core/Key"
import { plan, type PlannedStage } from "./Plan"
import { loadTarget, projectRoot, type Target, targetName } from "./Target"
import { toolVersion } from "./ToolVersion"

/** How an experiment config is loaded from a file, and rebuilt from the snapshot a build recorded. */
export interface ConfigSpec<C> {
  /** Loads and validates a config file; the snapshot is everything needed to rebuild without the checkout's files. */
  readonly load: (file: string) => Effect.Effect<{ readonly config: C; readonly snapshot: unknown }, ConfigError>
  readonly fromSnapshot: (snapshot: unknown) => Effect.Effect<C, ConfigError>
}

/** Where a build reads and writes. */
export interface BuildRequest<C> {
  readonly target: string
  readonly spec: ConfigSpec<C>
  /** A config file, or a recorded snapshot (reproduce). */
  readonly config: { readonly file: string } | { readonly snapshot: unknown; readonly file: string }
  readonly concurrency: number
  /** Rehash every cached stage's outputs before reusing them (see BuildOptions.verify). */
  readonly verify?: boolean
  /** The folder target outputs go under (`out/` in the project). */
  readonly outRoot: string
  readonly root?: string
}

/** The outcome of building a target. */
export interface TargetBuild {
  readonly target: string
  readonly build: string
  readonly outputDir: string
  readonly result: BuildResult
  readonly files: ReadonlyArray<{ readonly name: string; readonly sha256: string }>
}

type LoadErrors = ConfigError | TargetError | GraphError

/** Loads config and target and resolves the graph: every error here comes before any stage runs. */
export const prepare = <C>(
  request: Pick<BuildRequest<C>, "target" | "spec" | "config" | "root">
): Effect.Effect<
  { readonly graph: Graph; readonly snapshot: unknown; readonly name: string; readonly target: Target<C>; readonly config: C },
  LoadErrors
> =>
  Effect.gen(function* () {
    const name = targetName(request.target)
    const target = yield* loadTarget<C>(name, request.root ?? projectRoot)
    const { config, snapshot } =
      "snapshot" in request.config
        ? { config: yield* request.spec.fromSnapshot(request.config.snapshot), snapshot: request.config.snapshot }
        : yield* request.spec.load(request.config.file)
    // A target's graph refuses a config it cannot serve (a stage the model cannot give) by throwing a ConfigError.
    const root = yield* Effect.try({
      try: () => target.graph(config),
      catch: (e) =>
        e instanceof ConfigError
          ? new ConfigError({ file: e.file === "" ? request.config.file : e.file, field: e.field, reason: e.reason })
          : new TargetError({ target: name, reason: `building its graph: ${e instanceof Error ? e.message : String(e)}` })
    })
    const graph = yield* resolve(root)
    return { graph, snapshot, name, target, config }
  })

/** Writes the root stage's outputs to the output folder: Files outputs as their files, tables as Parquet. */
const writeOutputs = (root: NodeResult, dir: string) =>
  Effect.gen(function* () {
    const written: Array<{ name: string; sha256: string }> = []
    yield* tryFs(dir, () => fs.mkdirSync(dir, { recursive: true }))
    for (const [outName, output] of Object.entries(root.outputs)) {
      const entries: Array<readonly [string, string]> =
        output.kind === "Files"
          ? Object.entries(output.files ?? {}).map(([n, f]) => [n, f.hash] as const)
          : [[`${outName}.${output.kind === "Table" ? "parquet" : output.kind === "Matrix" ? "arrow" : "json"}`, output.hash]]
      for (const [name, hash] of entries) {
        const bytes = yield* getObject(hash)
        yield* writeAtomic(path.join(dir, name), bytes)
        written.push({ name, sha256: sha256(bytes) })
      }
    }
    return written.sort((a, b) => (a.name < b.name ? -1 : 1))
  })

/** The manifest of an output folder: which build wrote it and every file's hash. */
export const OUTPUT_MANIFEST = ".prefpipe-build.json"

/** The output folder's files when it already holds exactly what this build wrote (so a no-change rebuild writes nothing). */
const upToDate = (dir: string, build: string) =>
  tryFs(dir, () => {
    const manifestFile = path.join(dir, OUTPUT_MANIFEST)
    if (!fs.existsSync(manifestFile)) return undefined
    const manifest = JSON.parse(fs.readFileSync(manifestFile, "utf8")) as { build: string; files: Array<{ name: string; sha256: string }> }
    if (manifest.build !== build) return undefined
    const intact = manifest.files.every((f) => {
      const file = path.join(dir, f.name)
      return fs.existsSync(file) && sha256(fs.readFileSync(file)) === f.sha256
    })
    return intact ? manifest.files : undefined
  })

/** Every file under a folder with its sha256, sorted by relative path (the manifest excluded). */
const listFiles = (dir: string) =>
  tryFs(dir, () =>
    (fs.readdirSync(dir, { recursive: true }) as string[])
      .filter((name) => name !== OUTPUT_MANIFEST && fs.statSync(path.join(dir, name)).isFile())
      .sort()
      .map((name) => ({ name, sha256: sha256(fs.readFileSync(path.join(dir, name))) }))
  )

/** Builds a target: resolve, build (cached), write its outputs to `out/<target>/`, and record the build. */
export const buildTarget = <C>(
  request: BuildRequest<C>
): Effect.Effect<TargetBuild, LoadErrors | StageError | StoreError | CorruptObject, any> =>
  Effect.gen(function* () {
    const { graph, snapshot, name, target, config } = yield* prepare(request)
    const result = yield* build(graph, { concurrency: request.concurrency, verify: request.verify === true })
    const buildHash = hashValue({ target: name, config: toKeyable(snapshot), root: result.root.key })
    const outputDir = path.join(request.outRoot, name)
    const files =
      (yield* upToDate(outputDir, buildHash)) ??
      (yield* Effect.gen(function* () {
        const written =
          target.write === undefined
            ? yield* writeOutputs(result.root, outputDir)
            : yield* Effect.gen(function* () {
                const loaded: Record<string, Loaded> = {}
                for (const [outName, record] of Object.entries(result.root.outputs)) loaded[outName] = yield* loadOutput(record)
                yield* tryFs(outputDir, () => fs.mkdirSync(outputDir, { recursive: true }))
                yield* target.write!(loadedOutputs(result.root.node, loaded), { build: buildHash, outputDir, config }).pipe(
                  Effect.mapError((e) => new TargetError({ target: name, reason: `writing ${outputDir}: ${e.message}` }))
                )
                return yield* listFiles(outputDir)
              })
        yield* writeAtomic(path.join(outputDir, OUTPUT_MANIFEST), JSON.stringify({ build: buildHash, files: written }, null, 1))
        return written
      }))
    const record: BuildRecord = {
      build: buildHash,
      target: name,
      config: snapshot,
      configFile: path.basename(request.config.file),
      root: { node: result.root.node, key: result.root.key },
      stages: result.nodes.map((n) => ({ node: n.node, key: n.key, outputsHash: n.outputsHash })),
      tool: toolVersion
    }
    yield* putBuild(record)
    return { target: name, build: buildHash, outputDir, result, files }
  })

/** What building a target would do, without running anything. */
export const planTarget = <C>(
  request: Pick<BuildRequest<C>, "target" | "spec" | "config" | "root">
): Effect.Effect<{ readonly target: string; readonly stages: ReadonlyArray<PlannedStage> }, LoadErrors | StoreError, CacheDir> =>
  Effect.gen(function* () {
    const { graph, name } = yield* prepare(request)
    return { target: name, stages: yield* plan(graph) }
  })

/** The `--json` shape of a build. */
export const buildJson = (b: TargetBuild) => ({
  target: b.target,
  build: b.build,
  outputDir: b.outputDir,
  executed: b.result.nodes.filter((n) => n.status === "executed").length,
  cached: b.result.nodes.filter((n) => n.status === "cached").length,
  cutoff: b.result.nodes.filter((n) => n.status === "cutoff").length,
  stages: b.result.nodes.map((n) => ({ stage: n.node, key: n.key, status: n.status, rows: n.rows, seconds: n.seconds }))
})
