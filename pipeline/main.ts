import * as Command from "@effect/cli/Command"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { pipelineCommand } from "./Cli"
import { cliConfigLayer, readableConsole, reportFailure, topLevelHelp } from "./CliOutput"
import { wantsTopLevelHelp } from "./HelpRequest"
import { describeTargets } from "./Target"
import { toolVersion } from "./ToolVersion"

const args = process.argv.slice(2)
const terminal = { stdout: process.stdout.isTTY === true, stderr: process.stderr.isTTY === true }

const run = wantsTopLevelHelp(args)
  ? Effect.flatMap(describeTargets(), (targets) => Console.log(topLevelHelp(pipelineCommand, toolVersion.prefpipe, targets)))
  : Command.run(pipelineCommand, { name: "pipeline", version: toolVersion.prefpipe })(process.argv)

const program = Effect.flatMap(Effect.console, (console) =>
  run.pipe(
    Effect.catchAll((error) => reportFailure(error, args.includes("--json"))),
    Effect.withConsole(readableConsole(console, terminal)),
    Effect.provide(Layer.merge(NodeContext.layer, cliConfigLayer))
  )
) as Effect.Effect<void>

NodeRuntime.runMain(program)
