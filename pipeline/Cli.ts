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
const concurrencyOption = Options.integer("concurrency").pipe(
  Options.withDescription("stages that may run at once"),
  Options.withDefault(1)
)
const targetArg = Args.text({ name: "target" }).pipe(Args.withDescription("e.g. reports/hoo (defined in reports/hoo.ts)"))

const configFile = (config: Option.Option<string>) =>
  path.resolve(Option.getOrElse(config, () => path.join(projectRoot, "experiments", "default.json")))

const printJson = (value: unknown) => Console.log(JSON.stringify(value, null, 2))

const buildCommand = Command.make(
  "build",
  { target: targetArg, config: configOption, cache: cacheOption, json: jsonOption, concurrency: concurrencyOption },
  ({ target, config, cache, json, concurrency }) =>
    Effect.flatMap(engine, (e) => Effect.gen(function* () {
      const built = yield* e.buildTarget({
        target,
        spec: e.experimentConfig,
        config: { file: configFile(config) },
        concurrency,
        outRoot: path.join(projectRoot, "out")
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
  Command.withSubcommands([statsCommand])
)

/** The `pipeline` command and its subcommands. */
export const pipelineCommand = Command.make("pipeline").pipe(
  Command.withSubcommands([buildCommand, planCommand, showCommand, reproduceCommand, gcCommand, cacheCommand, modelCommand, parseCommand, organismCommand, mcpCommand])
)
