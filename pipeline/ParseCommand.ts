import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as readline from "node:readline"

const templateArg = Args.text({ name: "TEMPLATE_ID" }).pipe(Args.withDescription("the template the responses answer"))
const templatesOption = Options.text("templates").pipe(
  Options.withDescription("folder of template files"),
  Options.withDefault("templates/")
)

/** A line that is a JSON string stands for that string, so responses with line breaks can be piped in too. */
const responseOf = (line: string): string => {
  if (!line.startsWith("\"")) return line
  try {
    const decoded: unknown = JSON.parse(line)
    return typeof decoded === "string" ? decoded : line
  } catch {
    return line
  }
}

/**
 * `parse TEMPLATE_ID [--templates DIR]`: reads one response per line on stdin and prints one JSON object
 * `{"value","tier","reason"}` per line, using patterns and the documented heuristics (no judge or parsing model).
 */
export const parseCommand = Command.make("parse", { templateId: templateArg, templates: templatesOption }, ({ templateId, templates }) =>
  Effect.gen(function*() {
    // Templates and parsers load when the command runs, not with every command.
    const [{ parseResponse }, { loadTemplates, templateById, TemplateError }] = yield* Effect.promise(() =>
      Promise.all([import("../elicitation/parse/Parse"), import("../elicitation/Template")])
    )
    const template = yield* Effect.flatMap(loadTemplates(templates), (all) => templateById(all, templateId))
    if (template.kind === "ranking") {
      return yield* new TemplateError({ file: `${templateId}.json`, field: "kind", reason: "ranking answers need their task count; the rankings stage parses them" })
    }
    const lines = Stream.fromAsyncIterable(
      readline.createInterface({ input: process.stdin, crlfDelay: Infinity }),
      (e) => new TemplateError({ file: "(stdin)", field: "(input)", reason: String(e) })
    )
    yield* lines.pipe(
      Stream.mapEffect((line) => parseResponse(template, responseOf(line))),
      Stream.runForEach(({ value, tier, reason }) => Console.log(JSON.stringify({ value, tier, reason })))
    )
  })
).pipe(Command.withDescription("parse responses (one per line on stdin) with a template's tier-1 patterns and heuristics"))
