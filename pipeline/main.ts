import { Command } from "@effect/cli"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Layer } from "effect"
import { pipelineCommand } from "./Cli"
import { cliConfigLayer, readableConsole, reportFailure, topLevelHelp, wantsTopLevelHelp } from "./CliOutput"
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
