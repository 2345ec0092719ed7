import * as Command from "@effect/cli/Command"
import * as ValidationError from "@effect/cli/ValidationError"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Effect from "effect/Effect"
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
