import { Effect, JSONSchema, type Schema } from "effect"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { writeAtomic } from "../../cache/AtomicFile"
import { decodeTemplate } from "../../elicitation/Template"
import type { ConfigSpec } from "../BuildTarget"
import { defaultTemplateIds, ExperimentConfig, experimentConfig } from "../Config"
import { changedEndpointFields, endpointFields } from "../ConfigSecrets"
import { ConfigError } from "../Errors"
import { type StoreError } from "../../cache/StoreErrors"
import { readConfigFile } from "../Target"
import { InvalidArgument, type OutsideFolder } from "./McpErrors"
import { display, inside, reallyInside, type Workspace } from "./Workspace"

type Json = Record<string, unknown>
const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v)

/** JSON Merge Patch (RFC 7386): objects merge key by key, `null` removes a key, anything else replaces. */
export const mergePatch = (target: unknown, patch: unknown): unknown => {
  if (!isObject(patch)) return patch
  const out: Json = isObject(target) ? { ...target } : {}
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key]
    else out[key] = mergePatch(out[key], value)
  }
  return out
}

/** Drops `required` from an object schema and its nested property objects; list items keep theirs (lists replace whole). */
const dropRequired = (schema: Json): Json => {
  const { required: _, properties, ...rest } = schema
  if (!isObject(properties)) return rest
  return { ...rest, properties: Object.fromEntries(Object.entries(properties).map(([k, v]) => [k, isObject(v) ? dropRequired(v) : v])) }
}

/** A Schema's JSON Schema split into its body (without `$schema`) and its definitions. */
export const schemaDocument = (schema: Schema.Schema<any, any, never>): { readonly body: Json; readonly $defs: Json } => {
  const { $schema: _, $defs, ...body } = JSONSchema.make(schema) as unknown as Json
  return { body, $defs: ($defs ?? {}) as Json }
}

/** The JSON Schema of config overrides: the experiment config Schema with every field optional, templates as ids or objects. */
export const overridesJsonSchema = (() => {
  const { body, $defs } = schemaDocument(ExperimentConfig)
  const { templates, ...properties } = body.properties as Json
  const listed = templates as Json
  const partial = dropRequired({ ...body, properties })
  const items = { anyOf: [{ type: "string", pattern: "^[A-Za-z0-9_.-]+$", description: "a template id (templates/<id>.json)" }, listed.items] }
  return {
    jsonSchema: {
      ...partial,
      description: "merged onto the experiment config as a JSON Merge Patch: objects merge, null removes a field, lists replace",
      properties: { ...(partial.properties as Json), templates: { ...listed, items } }
    } as Json,
    $defs
  }
})()

const namePattern = /^[A-Za-z0-9_.-]+$/

/** An experiment's raw config (its relative paths made absolute) with the overrides merged on top. */
export const mergedExperiment = (
  ws: Workspace,
  experiment: string,
  overrides: Json | undefined
): Effect.Effect<{ readonly raw: Json; readonly label: string }, ConfigError | InvalidArgument | OutsideFolder> =>
  Effect.gen(function* () {
    if (!namePattern.test(experiment)) {
      return yield* new InvalidArgument({ field: "experiment", reason: `"${experiment}" is not an experiment name (a file experiments/<name>.json)` })
    }
    const file = yield* inside(ws.experimentsDir, `${experiment}.json`, ws)
    const label = `${display(ws, file)}${overrides === undefined ? "" : " + overrides"}`
    if (!fs.existsSync(file)) {
      const known = fs.existsSync(ws.experimentsDir) ? fs.readdirSync(ws.experimentsDir).filter((f) => f.endsWith(".json")).map((f) => f.slice(0, -5)) : []
      return yield* new ConfigError({ file: display(ws, file), field: "", reason: `no such experiment (known: ${known.sort().join(", ") || "none"})` })
    }
    const base = yield* readConfigFile(file)
    if (!isObject(base)) return yield* new ConfigError({ file: display(ws, file), field: "", reason: "the config must be a JSON object" })
    const start = absolutePaths(base, ws.experimentsDir)
    const raw = mergePatch(start, absolutePaths(overrides ?? {}, ws.root)) as Json
    const redirected = changedEndpointFields(start, raw)[0]
    if (redirected !== undefined) {
      return yield* new InvalidArgument({
        field: `overrides.${redirected}`,
        reason: `overrides may not set or change ${endpointFields.join(", ")} (where requests go and which environment variable's value they carry); edit ${display(ws, file)} instead`
      })
    }
    for (const p of pathsOf(overrides ?? {})) {
      if (!reallyInside(ws.root, path.resolve(ws.root, p.value))) {
        return yield* new ConfigError({ file: label, field: p.field, reason: `"${p.value}" is outside the project (symlinks resolved); overrides may only name files inside it` })
      }
    }
    return { raw, label }
  })

/** The file paths a config names: dataset files and a checkpoint folder. */
const pathsOf = (config: Json): Array<{ readonly field: string; readonly value: string }> => {
  const found: Array<{ field: string; value: string }> = []
  if (Array.isArray(config.datasets)) {
    config.datasets.forEach((d, i) => {
      if (isObject(d) && typeof d.path === "string") found.push({ field: `datasets.${i}.path`, value: d.path })
    })
  }
  if (isObject(config.model) && typeof config.model.path === "string") found.push({ field: "model.path", value: config.model.path })
  return found
}

const absolutePaths = (config: Json, base: string): Json => {
  const datasets = Array.isArray(config.datasets)
    ? config.datasets.map((d) => (isObject(d) && typeof d.path === "string" ? { ...d, path: path.resolve(base, d.path) } : d))
    : config.datasets
  const model = isObject(config.model) && typeof config.model.path === "string" ? { ...config.model, path: path.resolve(base, config.model.path) } : config.model
  return { ...config, ...(datasets === undefined ? {} : { datasets }), ...(model === undefined ? {} : { model }) }
}

/** The template ids and objects a raw config lists (the default pair when it lists none). */
export const listedTemplates = (raw: Json): ReadonlyArray<unknown> =>
  Array.isArray(raw.templates) ? raw.templates : raw.templates === undefined ? defaultTemplateIds : [raw.templates]

/**
 * Writes a raw config, with its template ids replaced by the workspace's template files, under the cache's `mcp/`
 * folder, and returns the spec and file a build or plan loads it through (errors name `label`, not the file).
 */
export const configFile = (
  ws: Workspace,
  raw: Json,
  label: string
): Effect.Effect<{ readonly spec: ConfigSpec<ExperimentConfig>; readonly file: string }, ConfigError | StoreError | OutsideFolder> =>
  Effect.gen(function* () {
    if (raw.templates !== undefined && !Array.isArray(raw.templates)) {
      return yield* new ConfigError({ file: label, field: "templates", reason: "must be a list of template ids or objects" })
    }
    const templates: unknown[] = []
    for (const [i, entry] of listedTemplates(raw).entries()) {
      if (typeof entry !== "string") {
        templates.push(entry)
        continue
      }
      const file = path.join(ws.templatesDir, `${entry}.json`)
      if (!namePattern.test(entry) || !fs.existsSync(file)) {
        return yield* new ConfigError({ file: label, field: `templates.${i}`, reason: `no template "${entry}" in ${display(ws, ws.templatesDir)}/ (known: ${templateIds(ws).join(", ")})` })
      }
      yield* inside(ws.templatesDir, `${entry}.json`, ws)
      const json = yield* readConfigFile(file)
      templates.push(yield* decodeTemplate(display(ws, file), json).pipe(
        Effect.mapError((e) => new ConfigError({ file: label, field: `templates.${i}`, reason: e.message }))
      ))
    }
    const text = JSON.stringify({ ...raw, templates }, null, 1)
    const name = String(raw.name ?? "experiment").replace(/[^A-Za-z0-9_.-]/g, "_")
    const file = path.join(ws.cacheDir, "mcp", `${name}-${createHash("sha256").update(text).digest("hex").slice(0, 12)}.json`)
    yield* writeAtomic(file, text)
    const relabel = (e: ConfigError) => new ConfigError({ file: label, field: e.field, reason: e.reason })
    const spec: ConfigSpec<ExperimentConfig> = {
      load: (f) => experimentConfig.load(f).pipe(Effect.mapError(relabel)),
      fromSnapshot: experimentConfig.fromSnapshot
    }
    return { spec, file }
  })

/** The ids of the template files in the workspace, sorted. */
export const templateIds = (ws: Workspace): string[] =>
  fs.existsSync(ws.templatesDir)
    ? fs.readdirSync(ws.templatesDir).filter((f) => f.endsWith(".json")).map((f) => f.slice(0, -5)).sort()
    : []
