import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as path from "node:path"
import { mcpCommand } from "./McpCommand"
import { modelCommand } from "./ModelCommand"
import { organismCommand } from "./OrganismCommand"
import { parseCommand } from "./ParseCommand"
import { serveCommand } from "./ServeCommand"
import { targetNames } from "./Target"
import { positiveConcurrency } from "./CliOptions"
import { projectRoot } from "./ProjectRoot"

// The engine, the store and the model load when a command runs: `pipeline --help` parses the command definitions alone.
const engine = Effect.promise(() => import("./CliEngine"))

const cacheOption = Options.directory("cache").pipe(
  Options.withDescription("cache folder (default: $PIPELINE_CACHE or .pipeline/ in the project)"),
  Options.optional
)
const configOption = Options.file("config").pipe(
  Options.withDescription("experiment config (default: experiments/default.json)"),
  Options.optional
)
const jsonOption = Options.boolean("json").pipe(Options.withDescription("print one JSON object on stdout"))
const concurrencyOption = positiveConcurrency(Options.integer("concurrency").pipe(Options.withDescription("stages that may run at once")))
const targetArg = Args.text({ name: "target" }).pipe(
  Args.withDescription(`a report target, defined in <target>.ts: ${targetNames().join(", ")}`)
)

const configFile = (config: Option.Option<string>) =>
  path.resolve(Option.getOrElse(config, () => path.join(projectRoot, "experiments", "default.json")))

const printJson = (value: unknown) => Console.log(JSON.stringify(value, null, 2))

const buildCommand = Command.make(
  "build",
  {
    target: targetArg,
    config: configOption,
    cache: cacheOption,
    out: Options.directory("out").pipe(Options.withDescription("where targets are written (default: out/ in the project)"), Options.optional),
    json: jsonOption,
    concurrency: concurrencyOption
  },
  ({ target, config, cache, out, json, concurrency }) =>
    Effect.flatMap(engine, (e) => Effect.gen(function* () {
      const built = yield* e.buildTarget({
        target,
        spec: e.experimentConfig,
        config: { file: configFile(config) },
        concurrency,
        outRoot: path.resolve(Option.getOrElse(out, () => path.join(projectRoot, "out")))
      })
      const summary = e.buildJson(built)
      if (json) return yield* printJson(summary)
      yield* Console.log(
        `${summary.target}: ${summary.executed} executed, ${summary.cached} cached, ${summary.cutoff} cut off\n` +
          `build ${summary.build}\noutputs ${path.relative(process.cwd(), summary.outputDir) || "."}`
      )
    }).pipe(Effect.provide(e.cacheLayer(cache, false))))
).pipe(Command.withDescription("build a target, running only the stages whose inputs changed"))

const planCommand = Command.make(
  "plan",
  { target: targetArg, config: configOption, cache: cacheOption, json: jsonOption },
  ({ target, config, cache, json }) =>
    Effect.flatMap(engine, (e) => Effect.gen(function* () {
      const planned = yield* e.planTarget({ target, spec: e.experimentConfig, config: { file: configFile(config) } })
      const running = planned.stages.filter((s) => s.run).length
      if (json) {
        return yield* printJson({
          target: planned.target,
          run: running,
          cached: planned.stages.length - running,
          stages: planned.stages.map((s) => ({ ...s, why: s.reasons.map(e.formatReason) }))
        })
      }
      yield* Console.log(`${planned.target}: ${running} of ${planned.stages.length} stages would run`)
      for (const s of planned.stages) {
        yield* Console.log(`${s.run ? "run " : "ok  "} ${s.stage}${s.run ? "" : "  (cached)"}`)
        for (const r of s.reasons) yield* Console.log(`       ${e.formatReason(r)}`)
      }
    }).pipe(Effect.provide(e.cacheLayer(cache, true))))
).pipe(Command.withDescription("show what a build would run, and why, without running anything"))

const showCommand = Command.make(
  "show",
  { hash: Args.text({ name: "hash" }), cache: cacheOption },
  ({ hash, cache }) => Effect.flatMap(engine, (e) => Effect.flatMap(e.showHash(hash), Console.log).pipe(Effect.provide(e.cacheLayer(cache, true))))
).pipe(Command.withDescription("provenance of a build or stage as a tree"))

const reproduceCommand = Command.make(
  "reproduce",
  {
    build: Args.text({ name: "build" }),
    cache: cacheOption,
    json: jsonOption,
    concurrency: concurrencyOption,
    reuseCache: Options.boolean("reuse-cache").pipe(
      Options.withDescription("rebuild in the current cache instead of recomputing every stage in a scratch cache")
    )
  },
  ({ build, cache, json, concurrency, reuseCache }) =>
    Effect.flatMap(engine, (e) => Effect.gen(function* () {
      const report = yield* e.reproduce(build, e.experimentConfig, { concurrency, reuseCache })
      if (json) return yield* printJson(report)
      for (const s of report.stages) yield* Console.log(`${s.match ? "same" : "DIFF"}  ${s.stage}`)
      yield* Console.log(
        report.identical
          ? `build ${report.build} reproduced: all ${report.stages.length} stage outputs identical`
          : `build ${report.build} NOT reproduced: ${report.stages.filter((s) => !s.match).length} stage outputs differ`
      )
      if (!report.identical) process.exitCode = 1
    }).pipe(Effect.provide(e.cacheLayer(cache, false))))
).pipe(Command.withDescription("rebuild a recorded build from its config snapshot and compare every output hash"))

const exportCommand = Command.make(
  "export",
  {
    hash: Args.text({ name: "hash" }).pipe(Args.withDescription("a build or stage hash (a unique prefix of 6+ characters)")),
    to: Options.text("to").pipe(Options.withDescription("the folder to write (replaced whole if it holds an earlier export)")),
    format: Options.choice("format", ["parquet", "npz", "csv"]).pipe(
      Options.withDescription("parquet: tables and matrices as Parquet; npz: matrices as .npz; csv: tables as CSV, matrices as .npy"),
      Options.withDefault("parquet" as const)
    ),
    cache: cacheOption,
    json: jsonOption
  },
  ({ hash, to, format, cache, json }) =>
    Effect.flatMap(engine, (e) => Effect.gen(function* () {
      const { exportOutputs } = yield* Effect.promise(() => import("./export/Export"))
      const started = Date.now()
      let written = 0
      const manifest = yield* exportOutputs({
        hash,
        to,
        format,
        onFile: (file, done, total) =>
          Effect.sync(() => {
            written += file.bytes
            const seconds = Math.max((Date.now() - started) / 1000, 1e-3)
            const left = done < total ? `, ~${Math.ceil((seconds / done) * (total - done))} s left` : ""
            process.stderr.write(`[${done}/${total} outputs] ${file.path} ${(file.bytes / 1e6).toFixed(2)} MB (${(written / 1e6 / seconds).toFixed(1)} MB/s${left})\n`)
          })
      })
      if (json) return yield* printJson(manifest)
      const bytes = manifest.files.reduce((n, f) => n + f.bytes, 0)
      const from = "build" in manifest.source ? `build ${manifest.source.build}` : `stage ${manifest.source.node} ${manifest.source.stage}`
      yield* Console.log(`exported ${manifest.files.length} files (${(bytes / 1e6).toFixed(1)} MB) of ${from} to ${to} (manifest.json lists them)`)
    }).pipe(Effect.provide(e.cacheLayer(cache, true))))
).pipe(Command.withDescription("write a build's or a stage's outputs under readable names, for numpy, pandas, polars and DuckDB"))

const gcCommand = Command.make(
  "gc",
  { cache: cacheOption, keepBuilds: Options.integer("keep-builds").pipe(Options.optional) },
  ({ cache, keepBuilds }) =>
    Effect.flatMap(engine, (e) => Effect.gen(function* () {
      const report = yield* e.collectGarbage(Option.getOrUndefined(keepBuilds))
      yield* Console.log(
        `kept ${report.keptBuilds} builds; removed ${report.removedBuilds} builds, ${report.removedActions} stage records, ` +
          `${report.removedObjects} objects (${(report.removedBytes / 1e6).toFixed(1)} MB)`
      )
    }).pipe(Effect.provide(e.cacheLayer(cache, true))))
).pipe(Command.withDescription("remove everything not reachable from the kept builds"))

const verifyCommand = Command.make(
  "verify",
  {
    cache: cacheOption,
    json: jsonOption,
    repair: Options.boolean("repair").pipe(Options.withDescription("move every damaged entry to quarantine/ so the next build recomputes it"))
  },
  ({ cache, json, repair }) =>
    Effect.flatMap(engine, (e) => Effect.gen(function* () {
      const report = yield* e.verifyCache(repair)
      if (report.damaged.length > 0 && !repair) process.exitCode = 1
      if (json) return yield* printJson(report)
      for (const d of report.damaged) yield* Console.log(`damaged ${d.kind} ${d.path}: ${d.reason}`)
      const c = report.checked
      const n = (count: number, what: string) => `${count} ${what}${count === 1 ? "" : "s"}`
      yield* Console.log(
        `checked ${n(c.objects, "object")}, ${n(c.stageRecords, "stage record")}, ${n(c.nodeStates, "node state")}, ` +
          `${n(c.buildRecords, "build record")}, ${n(c.folders, "folder")}, ${n(c.compiledGraphs, "compiled graph")}, ${n(c.memoRows, "memo row")}: ` +
          (report.damaged.length === 0
            ? "all intact"
            : `${report.damaged.length} damaged${repair ? ", moved to quarantine/" : " (pipeline cache verify --repair moves them to quarantine/)"}`)
      )
    }).pipe(Effect.provide(e.CacheDir.layer(e.cacheRoot(cache)))))
).pipe(Command.withDescription("rehash every object, stage record, folder, compiled graph and memo row; --repair quarantines the damage"))

const statsCommand = Command.make("stats", { cache: cacheOption, json: jsonOption }, ({ cache, json }) =>
  Effect.flatMap(engine, (e) => Effect.gen(function* () {
    const stats = yield* e.cacheStats()
    const memo = yield* (yield* e.RowMemo).count()
    const all = { ...stats, memoRows: memo.rows, memoNamespaces: memo.namespaces }
    if (json) return yield* printJson(all)
    yield* Console.log(
      `${all.builds} builds, ${all.actions} stage records, ${all.objects} objects (${(all.bytes / 1e6).toFixed(1)} MB), ` +
        `${all.memoRows} memo rows in ${all.memoNamespaces} namespaces`
    )
  }).pipe(Effect.provide(e.cacheLayer(cache, true))))
).pipe(Command.withDescription("what the cache holds: builds, stage records, objects and their size, memo rows"))

const cacheCommand = Command.make("cache").pipe(
  Command.withDescription("inspect the cache"),
  Command.withSubcommands([statsCommand, verifyCommand])
)

/** The `pipeline` command and its subcommands. */
export const pipelineCommand = Command.make("pipeline").pipe(
  Command.withSubcommands([buildCommand, planCommand, showCommand, reproduceCommand, exportCommand, gcCommand, cacheCommand, modelCommand, parseCommand, organismCommand, mcpCommand, serveCommand])
)
