import { Command, Options } from "@effect/cli"
import { Effect, Option } from "effect"
import * as path from "node:path"
import { runMcpServer } from "./Mcp"
import { positiveConcurrency } from "./CliOptions"
import { projectRoot } from "./Target"

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
  ({ cache, out, concurrency }) =>
    Effect.promise(() =>
      runMcpServer({
        root: projectRoot,
        cacheDir: Option.getOrElse(cache, () => process.env.PIPELINE_CACHE ?? path.join(projectRoot, ".pipeline")),
        outDir: Option.getOrElse(out, () => path.join(projectRoot, "out")),
        concurrency
      })
    )
).pipe(Command.withDescription("serve the tools (plan, build, show, read_report, add_template, ...) and built reports over MCP on stdio"))
