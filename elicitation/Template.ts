import { FileSystem } from "@effect/platform"
import { Effect, Either, Schema } from "effect"
import { decodeIssues } from "../core/DecodeIssue"
import { formatJsonSyntaxError, parseJson } from "../core/JsonText"
import * as path from "node:path"
import { hashValue, toKeyable } from "../core/Key"

/** A labelled answer and its value; higher values are always better for the model. */
export const AnswerOption = Schema.Struct({ label: Schema.NonEmptyTrimmedString, value: Schema.Number })
/** A labelled answer and its value. */
export type AnswerOption = typeof AnswerOption.Type

const common = {
  id: Schema.String.pipe(Schema.pattern(/^[A-Za-z0-9_.-]+$/)),
  /** `pre`: asked instead of doing the task; `post`: asked after the model did it, in the same conversation. */
  timing: Schema.Literal("pre", "post"),
  text: Schema.NonEmptyString
}

/** A question answered with one of a few words (good/bad, optionally neutral). */
export const QualitativeTemplate = Schema.Struct({
  ...common,
  kind: Schema.Literal("qualitative"),
  options: Schema.Array(AnswerOption).pipe(Schema.minItems(2))
})
/** A question answered with an integer on a declared scale. */
export const StatedTemplate = Schema.Struct({
  ...common,
  kind: Schema.Literal("stated"),
  scale: Schema.Struct({ min: Schema.Int, max: Schema.Int })
})
/** A free-text question whose answer a judge scores for valence within the declared range. */
export const OpenEndedTemplate = Schema.Struct({
  ...common,
  kind: Schema.Literal("open_ended"),
  range: Schema.Struct({ min: Schema.Number, max: Schema.Number })
})
/** Two tasks offered as Task A and Task B; the model picks one by starting to do it. */
export const RevealedTemplate = Schema.Struct({ ...common, kind: Schema.Literal("revealed") })
/** Several tasks listed as Task A, Task B, …; the model answers with their order. */
export const RankingTemplate = Schema.Struct({ ...common, kind: Schema.Literal("ranking") })

const TemplateShape = Schema.Union(QualitativeTemplate, StatedTemplate, OpenEndedTemplate, RevealedTemplate, RankingTemplate)
type TemplateShape = typeof TemplateShape.Type
/** The templates whose answers are a single number. */
export type ScoredTemplate = Exclude<TemplateShape, { kind: "ranking" }>

/** A template file that cannot be used, naming the file and the field. */
export class TemplateError extends Schema.TaggedError<TemplateError>()("TemplateError", {
  file: Schema.String,
  field: Schema.String,
  reason: Schema.String
}) {
  get message() {
    return `template ${this.file}: ${this.field}: ${this.reason}`
  }
}

/** The placeholders (`{name}`) in a template text, in order of first appearance. */
export const placeholdersOf = (text: string): ReadonlyArray<string> =>
  [...new Set(Array.from(text.matchAll(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g), (m) => m[1]))]

const placeholderRules = (t: TemplateShape): { required: ReadonlyArray<string>; timing?: "pre" } => {
  switch (t.kind) {
    case "revealed":
      return { required: ["task_a", "task_b"], timing: "pre" }
    case "ranking":
      return { required: ["tasks"], timing: "pre" }
    default:
      return { required: t.timing === "pre" ? ["task"] : [] }
  }
}

/** The declared value range a template's answers are normalized by. */
export const templateRange = (t: ScoredTemplate): { readonly min: number; readonly max: number } => {
  switch (t.kind) {
    case "qualitative": {
      const values = t.options.map((o) => o.value)
      return { min: Math.min(...values), max: Math.max(...values) }
    }
    case "stated":
      return t.scale
    case "open_ended":
      return t.range
    case "revealed":
      return { min: 0, max: 1 }
  }
}

/** Maps a value to [0, 1] by the template's own declared range: (value − min)/(max − min). */
export const normalize = (t: ScoredTemplate, value: number): number => {
  const { min, max } = templateRange(t)
  return (value - min) / (max - min)
}

/** The first inconsistency of a template (field and reason) that its shape alone does not rule out. */
const templateIssue = (t: TemplateShape): { readonly field: string; readonly reason: string } | undefined => {
  const issue = (field: string, reason: string) => ({ field, reason })
  const rules = placeholderRules(t)
  if (rules.timing !== undefined && t.timing !== rules.timing) {
    return issue("timing", `${t.kind} templates are asked before any task is done; timing must be "${rules.timing}"`)
  }
  const found = placeholdersOf(t.text)
  const unknown = found.filter((p) => !rules.required.includes(p))
  if (unknown.length > 0) {
    const allowed = rules.required.length === 0 ? "none" : rules.required.map((p) => `{${p}}`).join(", ")
    return issue("text", `placeholder {${unknown[0]}} is not allowed in a ${t.timing}-task ${t.kind} template (allowed: ${allowed})`)
  }
  const missing = rules.required.filter((p) => !found.includes(p))
  if (missing.length > 0) return issue("text", `a ${t.timing}-task ${t.kind} template must contain {${missing[0]}}`)
  switch (t.kind) {
    case "qualitative": {
      const values = t.options.map((o) => o.value)
      if (new Set(values).size !== values.length) return issue("options", "option values must be distinct")
      const labels = t.options.map((o) => o.label.toLowerCase())
      if (new Set(labels).size !== labels.length) return issue("options", "option labels must be distinct")
      const good = t.options.find((o) => o.label.toLowerCase() === "good")
      const bad = t.options.find((o) => o.label.toLowerCase() === "bad")
      if (good !== undefined && bad !== undefined && good.value <= bad.value) {
        return issue("options", `"good" must have a higher value than "bad" (higher means better for the model)`)
      }
      return undefined
    }
    case "stated":
      return t.scale.min < t.scale.max ? undefined : issue("scale", `min (${t.scale.min}) must be below max (${t.scale.max})`)
    case "open_ended":
      return t.range.min < t.range.max ? undefined : issue("range", `min (${t.range.min}) must be below max (${t.range.max})`)
    default:
      return undefined
  }
}

/** An elicitation template as stored in `templates/<id>.json`, with its placeholders, options and scale checked. */
export const Template = TemplateShape.pipe(
  Schema.filter((t) => {
    const found = templateIssue(t)
    return found === undefined ? true : { path: [found.field], message: found.reason }
  })
)
/** An elicitation template as stored in `templates/<id>.json`. */
export type Template = typeof Template.Type

/** Decodes and validates one template's JSON value; `file` names it in errors, and the id must equal its base name. */
export const decodeTemplate = (file: string, json: unknown): Effect.Effect<Template, TemplateError> =>
  Schema.decodeUnknown(Template, { onExcessProperty: "error" })(json).pipe(
    Effect.mapError((e) => {
      const issues = decodeIssues(e)
      const first = issues.find((i) => i.field !== "") ?? issues[0]
      return new TemplateError({ file, field: first === undefined || first.field === "" ? "(root)" : first.field, reason: first?.reason ?? "invalid" })
    }),
    Effect.flatMap((t) => {
      const expected = path.basename(file, ".json")
      return t.id === expected
        ? Effect.succeed(t)
        : Effect.fail(new TemplateError({ file, field: "id", reason: `id "${t.id}" must equal the file name "${expected}"` }))
    })
  )

/** Reads and validates one template file. */
export const loadTemplate = (file: string): Effect.Effect<Template, TemplateError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const text = yield* fs.readFileString(file).pipe(
      Effect.mapError((e) => new TemplateError({ file, field: "(file)", reason: e.message }))
    )
    const json = yield* Either.match(parseJson(text), {
      onLeft: (e) => Effect.fail(new TemplateError({ file, field: "(json)", reason: formatJsonSyntaxError(e) })),
      onRight: Effect.succeed
    })
    return yield* decodeTemplate(file, json)
  })

/** Loads every `*.json` template in a folder, sorted by id. */
export const loadTemplates = (dir: string): Effect.Effect<ReadonlyArray<Template>, TemplateError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const names = yield* fs.readDirectory(dir).pipe(
      Effect.mapError((e) => new TemplateError({ file: dir, field: "(folder)", reason: e.message }))
    )
    const templates = yield* Effect.forEach(
      names.filter((n) => n.endsWith(".json")).sort(),
      (name) => loadTemplate(path.join(dir, name))
    )
    return [...templates].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  })

/** Finds a template by id, failing with the ids that exist. */
export const templateById = (templates: ReadonlyArray<Template>, id: string): Effect.Effect<Template, TemplateError> => {
  const found = templates.find((t) => t.id === id)
  return found !== undefined
    ? Effect.succeed(found)
    : Effect.fail(new TemplateError({ file: `${id}.json`, field: "id", reason: `no such template; known: ${templates.map((t) => t.id).join(", ")}` }))
}


/** sha256 over the canonical key encoding of the decoded template (the encoding every stage key uses). */
export const templateContentHash = (t: Template): string => hashValue(toKeyable(Schema.encodeSync(Template)(t)))
