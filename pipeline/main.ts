import { Command, ValidationError } from "@effect/cli"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Effect } from "effect"
import { pipelineCommand } from "./Cli"
import { toolVersion } from "./ToolVersion"

const reportFailure = (error: unknown) =>
  Effect.sync(() => {
    process.exitCode = 1
    if (ValidationError.isValidationError(error)) return
    const message = typeof error === "object" && error !== null && "message" in error ? String(error.message) : String(error)
    process.stderr.write(`error: ${message}\n`)
  })

const program = Command.run(pipelineCommand, { name: "pipeline", version: toolVersion.prefpipe })(process.argv).pipe(
  Effect.catchAll(reportFailure),
  Effect.provide(NodeContext.layer)
) as Effect.Effect<void>

NodeRuntime.runMain(program)
