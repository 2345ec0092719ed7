// What `pipeline organism` runs, imported by pipeline/OrganismCommand.ts when the command runs.
import { FileSystem } from "@effect/platform"
import { Console, Effect, Either, Option, ParseResult, Schema } from "effect"
import * as path from "node:path"
import { generateOrganism, OrganismError, type OrganismTask, writeOrganism } from "../model/Organism"
import { decodeOrganismSpec, defaultOrganismSpec } from "../model/OrganismSpec"
import { projectRoot } from "./ProjectRoot"

const TaskLine = Schema.Struct({ id: Schema.String, origin: Schema.String, prompt: Schema.String })
const TemplateFile = Schema.Struct({
  id: Schema.String,
  kind: Schema.String,
  timing: Schema.String,
  text: Schema.String,
  options: Schema.optional(Schema.Array(Schema.Struct({ label: Schema.String, value: Schema.Number }))),
  scale: Schema.optional(Schema.Struct({ min: Schema.Number, max: Schema.Number }))
})

const inputError = (file: string, reason: string) => new OrganismError({ reason: `${file}: ${reason}` })

const decodeJson = <A, I>(schema: Schema.Schema<A, I>, text: string, where: string) =>
  Either.try({ try: () => JSON.parse(text) as unknown, catch: (e) => inputError(where, `not JSON (${String(e)})`) }).pipe(
    Either.flatMap((json) =>
      Schema.decodeUnknownEither(schema)(json, { onExcessProperty: "ignore" }).pipe(
        Either.mapLeft((e) => {
          const issue = ParseResult.ArrayFormatter.formatErrorSync(e)[0]
          return inputError(where, `${issue?.path.join(".") || "(value)"}: ${issue?.message ?? "invalid"}`)
        })
      )
    )
  )

/** The files of `dir` ending in `ext`, sorted by name; none when the folder does not exist. */
const filesIn = (dir: string, ext: string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    if (!(yield* fs.exists(dir))) return []
    return (yield* fs.readDirectory(dir)).filter((f) => f.endsWith(ext)).sort().map((f) => path.join(dir, f))
  })

/** Built-in tasks (`datasets/builtin/*.jsonl`) as the organism's tasks. */
const builtinTasks = (root: string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const tasks: OrganismTask[] = []
    for (const file of yield* filesIn(path.join(root, "datasets", "builtin"), ".jsonl")) {
      const lines = (yield* fs.readFileString(file)).split("\n")
      for (const [i, line] of lines.entries()) {
        if (line.trim() === "") continue
        const row = yield* decodeJson(TaskLine, line, `${path.relative(root, file)} row ${i + 1}`)
        tasks.push({ task_id: row.id, origin: row.origin, prompt: row.prompt })
      }
    }
    return tasks
  })

/** Template files (`templates/*.json`). */
const templateFiles = (root: string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const files = yield* filesIn(path.join(root, "templates"), ".json")
    return yield* Effect.forEach(files, (file) =>
      Effect.flatMap(fs.readFileString(file), (text) => decodeJson(TemplateFile, text, path.relative(root, file))))
  })

/** Builds the organism over the built-in tasks and the project's templates and writes it with its ground truth. */
export const runOrganismCommand = ({ out, seed, spec }: { readonly out: string; readonly seed: number; readonly spec: Option.Option<string> }) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const decoded = spec._tag === "None"
      ? defaultOrganismSpec()
      : yield* Effect.flatMap(fs.readFileString(spec.value), (text) =>
        Either.flatMap(
          Either.try({ try: () => JSON.parse(text) as unknown, catch: (e) => inputError(spec.value, `not JSON (${String(e)})`) }),
          (json) => Either.mapLeft(decodeOrganismSpec(json), (e) => inputError(spec.value, ParseResult.TreeFormatter.formatErrorSync(e)))
        ))
    const tasks = yield* builtinTasks(projectRoot)
    if (tasks.length === 0) return yield* inputError("datasets/builtin", "no built-in tasks found")
    const templates = yield* templateFiles(projectRoot)
    const result = yield* generateOrganism({ spec: decoded, seed, tasks, templates })
    yield* writeOrganism(out, result)
    const gt = result.groundTruth
    yield* Console.log(
      `organism written to ${out}: ${tasks.length} tasks, ${templates.length} templates, β = ${gt.slopes.beta.toFixed(4)}, ` +
        `planted layers ${gt.directions.map((d) => d.layer).join(",")}`
    )
  })
