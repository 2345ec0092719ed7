import { Command } from "@effect/cli"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Effect } from "effect"
import { parseCommand } from "../../pipeline/ParseCommand"

/** Runs the `parse` command alone, for the test that pipes responses through it. */
Command.run(parseCommand, { name: "parse", version: "0" })(process.argv).pipe(Effect.provide(NodeContext.layer), NodeRuntime.runMain)
