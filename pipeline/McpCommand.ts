import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as path from "node:path"
import { positiveConcurrency } from "./CliOptions"
import { projectRoot } from "./ProjectRoot"

/** `pipeline mcp`: serves the Model Context Protocol on stdio so that a coding agent can plan, build and read experiments. */
export const mcpCommand = Command.make(
  "mcp",
  {
    cache: Options.directory("cache").pipe(
      Options.withDescription("cache folder (default: $PIPELINE_CACHE or .pipeline/ in the project)"),
      Options.optional
    ),
    out: Options.directory("out").pipe(Options.withDescription("where targets are written (default: out/ in the project)"), Options.optional),
    concurrency: positiveConcurrency(Options.integer("concurrency").pipe(Options.withDescription("stages a build may run at once")))
  },
  // The MCP SDK loads when the server starts, not with every command.
  ({ cache, out, concurrency }) =>
    Effect.promise(() =>
      import("./Mcp").then(({ runMcpServer }) => runMcpServer({
        root: projectRoot,
        cacheDir: Option.getOrElse(cache, () => process.env.PIPELINE_CACHE ?? path.join(projectRoot, ".pipeline")),
        outDir: Option.getOrElse(out, () => path.join(projectRoot, "out")),
        concurrency
      }))
    )
).pipe(Command.withDescription("serve the tools (plan, build, show, read_report, add_template, ...) and built reports over MCP on stdio"))
