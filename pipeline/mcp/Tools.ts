import { Effect, Either, ParseResult, Schema } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { writeAtomic } from "../../cache/AtomicFile"
import { builtinDataset } from "../../datasets/loadDataset"
import { BuiltinName } from "../../datasets/DatasetSpec"
import { parseResponse } from "../../elicitation/parse/Parse"
import { decodeTemplate, loadTemplate, Template } from "../../elicitation/Template"
import { buildJson, buildTarget, planTarget } from "../BuildTarget"
import { formatReason, type PlannedStage } from "../Plan"
import { showHash } from "../Provenance"
import { loadTarget, targetName } from "../Target"
import { InvalidArgument, NotFound } from "./McpErrors"
import { layerMcpProgress, type ProgressUpdate } from "./McpProgress"
import { configFile, listedTemplates, mergedExperiment, overridesJsonSchema, schemaDocument, templateIds } from "./Overrides"
import { readReport, reportUri } from "./Reports"
import { display, inside, type Workspace } from "./Workspace"

type Json = Record<string, unknown>

/** What a tool call may use besides its arguments. */
export interface ToolContext {
  readonly ws: Workspace
  /** Sends a progress notification; undefined when the request carried no progress token. */
  readonly notify: ((update: ProgressUpdate) => Effect.Effect<void>) | undefined
}

/** A tool as the server lists and calls it. */
export interface McpTool {
  readonly name: string
  readonly description: string
  readonly inputSchema: Json
  readonly call: (args: unknown, context: ToolContext) => Effect.Effect<unknown, { readonly message: string }, any>
}

const templateDocument = schemaDocument(Template)
const sharedDefs: Json = { ...overridesJsonSchema.$defs, ...templateDocument.$defs }

/** The input's JSON Schema for MCP: no `$schema`, and the definitions its embedded schemas refer to. */
const inputSchemaOf = (schema: Schema.Schema<any, any, never>): Json => {
  const document = schemaDocument(schema)
  // an empty Struct's JSON Schema admits any non-null value; MCP wants an object schema
  const body = document.body.type === "object" ? document.body : { type: "object", properties: {}, additionalProperties: false }
  const $defs = document.$defs
  const defs = JSON.stringify(body).includes("\"$ref\"") ? { ...sharedDefs, ...$defs } : $defs
  return Object.keys(defs).length === 0 ? body : { ...body, $defs: defs }
}

const decodeArgs = <A, I>(schema: Schema.Schema<A, I, never>, args: unknown): Effect.Effect<A, InvalidArgument> => {
  const result = Schema.decodeUnknownEither(schema)(args ?? {}, { onExcessProperty: "error", errors: "all" })
  if (Either.isRight(result)) return Effect.succeed(result.right)
  const first = ParseResult.ArrayFormatter.formatErrorSync(result.left)[0]
  return Effect.fail(new InvalidArgument({ field: first?.path.map(String).join(".") ?? "", reason: first?.message ?? "invalid" }))
}

const tool = <A, I>(definition: {
  readonly name: string
  readonly description: string
  readonly input: Schema.Schema<A, I, never>
  readonly run: (input: A, context: ToolContext) => Effect.Effect<unknown, { readonly message: string }, any>
}): McpTool => ({
  name: definition.name,
  description: definition.description,
  inputSchema: inputSchemaOf(definition.input),
  call: (args, context) => Effect.flatMap(decodeArgs(definition.input, args), (input) => definition.run(input, context))
})

const TargetArg = Schema.String.annotations({ description: "a build target, reports/<name> (see list_targets)" })
const ExperimentArg = Schema.String.annotations({ description: "an experiment config, experiments/<name>.json, by name (default: default)" })
const OverridesArg = Schema.Record({ key: Schema.String, value: Schema.Unknown }).annotations({ jsonSchema: overridesJsonSchema.jsonSchema })
const ConfigArgs = { target: TargetArg, experiment: Schema.optional(ExperimentArg), overrides: Schema.optional(OverridesArg) }

/** A target name checked to be a `reports/<name>` definition inside the project. */
const checkTarget = (ws: Workspace, target: string) =>
  Effect.gen(function* () {
    const name = targetName(target)
    if (!name.startsWith("reports/")) {
      yield* inside(path.join(ws.root, "reports"), name, ws)
      return yield* new InvalidArgument({ field: "target", reason: `"${target}" is not a report target; targets are reports/<name> (see list_targets)` })
    }
    yield* inside(path.join(ws.root, "reports"), `${name.slice("reports/".length)}.ts`, ws)
    return name
  })

/** The build request a tool's config arguments stand for; the config is written and validated before anything runs. */
const requestOf = (ws: Workspace, args: { readonly target: string; readonly experiment?: string | undefined; readonly overrides?: Json | undefined }, templates?: ReadonlyArray<unknown>) =>
  Effect.gen(function* () {
    const target = yield* checkTarget(ws, args.target)
    const { raw, label } = yield* mergedExperiment(ws, args.experiment ?? "default", args.overrides)
    const { spec, file } = yield* configFile(ws, templates === undefined ? raw : { ...raw, templates }, label)
    return { target, spec, config: { file }, root: ws.root }
  })

const stageJson = (s: PlannedStage) => ({ stage: s.stage, run: s.run, key: s.key?.slice(0, 16) ?? null, why: s.reasons.map(formatReason) })

const planOf = (ws: Workspace, args: Parameters<typeof requestOf>[1], templates?: ReadonlyArray<unknown>) =>
  Effect.flatMap(requestOf(ws, args, templates), planTarget)

const listTargets = tool({
  name: "list_targets",
  description: "List the build targets: the reports/*.ts files that export a `target`, with their descriptions.",
  input: Schema.Struct({}),
  run: (_, { ws }) =>
    Effect.gen(function* () {
      const dir = path.join(ws.root, "reports")
      const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith(".ts")).sort() : []
      const targets: Array<{ target: string; description: string }> = []
      for (const file of files) {
        const target = `reports/${file.slice(0, -3)}`
        const loaded = yield* Effect.either(loadTarget(target, ws.root))
        if (Either.isRight(loaded)) targets.push({ target, description: loaded.right.description })
      }
      return { targets }
    })
})

const listTemplates = tool({
  name: "list_templates",
  description: "List the elicitation templates (templates/<id>.json) with their kind, timing, text and answer options or scale.",
  input: Schema.Struct({}),
  run: (_, { ws }) =>
    Effect.gen(function* () {
      const names = fs.existsSync(ws.templatesDir) ? fs.readdirSync(ws.templatesDir).filter((f) => f.endsWith(".json")).sort() : []
      const templates = yield* Effect.forEach(names, (name) => Effect.flatMap(inside(ws.templatesDir, name, ws), loadTemplate))
      return { templates: [...templates].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)) }
    })
})

const listDatasets = tool({
  name: "list_datasets",
  description:
    "List the built-in task sets with their sizes. Use one in overrides as {\"datasets\":[{\"name\":\"math\",\"builtin\":\"math\"}]}; sample.perOrigin tasks are drawn from each origin.",
  input: Schema.Struct({}),
  run: () =>
    Effect.map(
      Effect.forEach(BuiltinName.literals, (name) =>
        Effect.map(builtinDataset(name), ({ tasks }) => {
          const origins: Record<string, number> = {}
          for (const t of tasks) origins[t.origin] = (origins[t.origin] ?? 0) + 1
          return { name, builtin: name, tasks: tasks.length, origins }
        })
      ),
      (datasets) => ({ datasets })
    )
})

const planTool = tool({
  name: "plan",
  description:
    "What building a target would run, and why, without running anything. The config is experiments/<experiment>.json with `overrides` merged on top; it is validated first and errors name the field.",
  input: Schema.Struct(ConfigArgs),
  run: (args, { ws }) =>
    Effect.map(planOf(ws, args), (planned) => {
      const run = planned.stages.filter((s) => s.run).length
      return { target: planned.target, run, cached: planned.stages.length - run, stages: planned.stages.map(stageJson) }
    })
})

const buildTool = tool({
  name: "build",
  description:
    "Build a target (same arguments as plan), running only the stages whose inputs changed; sends progress notifications when the request has a progress token and can be cancelled. Returns the build hash, what ran, the report's summary and the URIs of its files (report://<build>/<file>).",
  input: Schema.Struct({ ...ConfigArgs, concurrency: Schema.optional(Schema.Int.pipe(Schema.between(1, 8))).annotations({ description: "stages that may run at once (default: the server's)" }) }),
  run: (args, { ws, notify }) =>
    Effect.gen(function* () {
      const request = yield* requestOf(ws, args)
      const planned = yield* planTarget(request)
      const running = planned.stages.filter((s) => s.run).length
      const built = yield* buildTarget({ ...request, concurrency: args.concurrency ?? ws.concurrency, outRoot: ws.outDir }).pipe(
        notify === undefined ? (e) => e : Effect.provide(layerMcpProgress(notify, running)),
        Effect.onInterrupt(() =>
          Effect.sync(() => process.stderr.write(`build of ${request.target} cancelled; the stages finished so far stay in the cache\n`))
        )
      )
      const summaryFile = yield* inside(built.outputDir, "summary.json", ws)
      const summary = fs.existsSync(summaryFile) ? ((yield* readReport(ws, built.target)).summary as Json).summary : null
      const { outputDir: _, stages, ...result } = buildJson(built)
      return {
        ...result,
        stages: stages.map((s) => ({ ...s, key: s.key.slice(0, 16) })),
        outputDir: display(ws, built.outputDir),
        summary,
        resources: built.files.map((f) => reportUri(built.build, f.name))
      }
    })
})

const showTool = tool({
  name: "show",
  description: "The provenance of a build or stage (a full hash or a prefix of at least 6 hex characters) as an indented tree.",
  input: Schema.Struct({ hash: Schema.String.annotations({ description: "a build hash or stage key, or a prefix of one" }) }),
  run: ({ hash }) => Effect.map(showHash(hash), (provenance) => ({ provenance }))
})

const readReportTool = tool({
  name: "read_report",
  description: "A built report's summary.json and README.md from out/reports/<name>/, with the URIs of all its files.",
  input: Schema.Struct({ report: Schema.String.annotations({ description: "the report name: hoo, or reports/hoo" }) }),
  run: ({ report }, { ws }) => readReport(ws, report)
})

const idOf = (t: unknown) => (typeof t === "string" ? t : typeof t === "object" && t !== null ? (t as { id?: unknown }).id : undefined)

const addTemplate = tool({
  name: "add_template",
  description:
    "Validate a new elicitation template and write it to templates/<id>.json; returns its id and the plan diff of adding it to the experiment's templates for a target: the stages it adds and the existing stages that would rerun.",
  input: Schema.Struct({
    template: Schema.Unknown.annotations({ jsonSchema: templateDocument.body, description: "the template; its id becomes the file name" }),
    target: Schema.optional(TargetArg),
    experiment: Schema.optional(ExperimentArg),
    overrides: Schema.optional(OverridesArg),
    replace: Schema.optional(Schema.Boolean).annotations({ description: "overwrite an existing template file with this id (default false)" })
  }),
  run: (args, { ws }) =>
    Effect.gen(function* () {
      const id = idOf(args.template)
      if (typeof id !== "string" || !/^[A-Za-z0-9_.-]+$/.test(id)) {
        return yield* new InvalidArgument({ field: "template.id", reason: "must be a string of letters, digits, _ . and - (it becomes templates/<id>.json)" })
      }
      const file = yield* inside(ws.templatesDir, `${id}.json`, ws)
      const template = yield* decodeTemplate(display(ws, file), args.template)
      if (fs.existsSync(file) && args.replace !== true) {
        return yield* new InvalidArgument({ field: "template.id", reason: `${display(ws, file)} exists; choose a new id or pass replace: true` })
      }
      const configArgs = { target: args.target ?? "reports/hoo", experiment: args.experiment, overrides: args.overrides }
      const { raw } = yield* mergedExperiment(ws, configArgs.experiment ?? "default", configArgs.overrides)
      const others = listedTemplates(raw).filter((t) => idOf(t) !== id)
      const before = yield* planOf(ws, configArgs, others)
      yield* writeAtomic(file, JSON.stringify(Schema.encodeSync(Template)(template), null, 2) + "\n")
      const after = yield* planOf(ws, configArgs, [...others, id])
      const previous = new Map(before.stages.map((s) => [s.stage, s]))
      return {
        id,
        file: display(ws, file),
        target: after.target,
        templates: [...others, id].map((t) => idOf(t)),
        added: after.stages.filter((s) => !previous.has(s.stage)).map(stageJson),
        rerun: after.stages.filter((s) => s.run && previous.get(s.stage)?.run === false).map(stageJson),
        removed: before.stages.filter((s) => !after.stages.some((a) => a.stage === s.stage)).map((s) => s.stage)
      }
    })
})

const parseResponses = tool({
  name: "parse_responses",
  description:
    "Parse responses to a template with its tier-1 patterns and the refusal heuristic (no judge): each gets a value, its value normalized to 0-1 by the template's range, a tier (exact, refusal, failed) and a reason.",
  input: Schema.Struct({
    template: Schema.String.annotations({ description: "a template id (see list_templates)" }),
    responses: Schema.Array(Schema.String).pipe(Schema.minItems(1)),
    offered: Schema.optional(Schema.Tuple(Schema.String, Schema.String)).annotations({ description: "revealed templates: the texts shown as Task A and Task B" })
  }),
  run: (args, { ws }) =>
    Effect.gen(function* () {
      const file = yield* inside(ws.templatesDir, `${args.template}.json`, ws)
      if (!fs.existsSync(file)) {
        return yield* new NotFound({ what: `template "${args.template}"`, reason: `no ${display(ws, file)} (known: ${templateIds(ws).join(", ")})` })
      }
      const template = yield* loadTemplate(file)
      if (template.kind === "ranking") {
        return yield* new InvalidArgument({ field: "template", reason: "ranking answers need their task count; the rankings stage parses them" })
      }
      const context = args.offered === undefined ? {} : { offered: args.offered }
      const results = yield* Effect.forEach(args.responses, (response) =>
        Effect.map(parseResponse(template, response, {}, context), (parsed) => ({ response, ...parsed }))
      )
      return { template: template.id, results }
    })
})

/** The tools the server offers, in the order it lists them. */
export const tools: ReadonlyArray<McpTool> = [
  listTargets,
  listTemplates,
  listDatasets,
  planTool,
  buildTool,
  showTool,
  readReportTool,
  addTemplate,
  parseResponses
]
