// What `pipeline organism` runs, imported by pipeline/OrganismCommand.ts when the command runs.
import { FileSystem } from "@effect/platform"
import { Console, Effect, Either, type Option, type ParseResult, Schema } from "effect"
import * as path from "node:path"
import { decodeIssues } from "../core/DecodeIssue"
import { formatJsonSyntaxError, parseJson } from "../core/JsonText"
import { questionMessages } from "../elicitation/Conversation"
import { decodeTemplate } from "../elicitation/Template"
import { generateGroundTruth, generateOrganism, OrganismError, type OrganismTask, writeOrganism } from "../model/Organism"
import { decodeOrganismSpec, defaultOrganismSpec } from "../model/OrganismSpec"
import { projectRoot } from "./ProjectRoot"

const TaskLine = Schema.Struct({ id: Schema.String, origin: Schema.String, prompt: Schema.String })

const inputError = (file: string, reason: string) => new OrganismError({ reason: `${file}: ${reason}` })

const parseInput = (text: string, where: string) => Either.mapLeft(parseJson(text), (e) => inputError(where, formatJsonSyntaxError(e)))

const issueOf = (where: string) => (e: ParseResult.ParseError) => {
  const issue = decodeIssues(e)[0]
  return inputError(where, `${issue?.field || "(value)"}: ${issue?.reason ?? "invalid"}`)
}

const decodeJson = <A, I>(schema: Schema.Schema<A, I>, text: string, where: string) =>
  Either.flatMap(parseInput(text, where), (json) => Either.mapLeft(Schema.decodeUnknownEither(schema)(json, { onExcessProperty: "ignore" }), issueOf(where)))

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
      Effect.flatMap(fs.readFileString(file), (text) => {
        const where = path.relative(root, file)
        return parseInput(text, where).pipe(
          Effect.flatMap((json) => decodeTemplate(where, json)),
          Effect.mapError((e) => (e._tag === "OrganismError" ? e : inputError(where, e.message)))
        )
      }))
  })

/** Builds the organism over the built-in tasks, writes it and its ground truth for the project's templates (no system prompt). */
export const runOrganismCommand = ({ out, seed, spec }: { readonly out: string; readonly seed: number; readonly spec: Option.Option<string> }) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const decoded = spec._tag === "None"
      ? defaultOrganismSpec()
      : yield* Effect.flatMap(fs.readFileString(spec.value), (text) =>
        Either.flatMap(parseInput(text, spec.value), (json) => Either.mapLeft(decodeOrganismSpec(json), issueOf(spec.value))))
    const tasks = yield* builtinTasks(projectRoot)
    if (tasks.length === 0) return yield* inputError("datasets/builtin", "no built-in tasks found")
    const templates = yield* templateFiles(projectRoot)
    const built = yield* generateOrganism({ spec: decoded, seed, tasks })
    const gt = yield* generateGroundTruth(built, { templates, personas: [{ id: "default", system: "" }], conversation: questionMessages })
    yield* writeOrganism(out, built.files, gt)
    yield* Console.log(
      `organism written to ${out}: ${tasks.length} tasks, ${templates.length} templates, β = ${gt.slopes.beta.toFixed(4)}, ` +
        `planted layers ${gt.directions.map((d) => d.layer).join(",")}`
    )
  })
