import * as CliConfig from "@effect/cli/CliConfig"
import * as Command from "@effect/cli/Command"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as ValidationError from "@effect/cli/ValidationError"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"

/** Removes ANSI escape sequences (colours, bold) from text. */
export const stripAnsi = (text: string): string => text.replace(/\x1b\[[0-9;]*[A-Za-z]/g, "")

/**
 * @effect/cli lists subcommands one per line, each usage padded to the longest one (hundreds of spaces for `model
 * generate`); this puts each description on its own indented line under its usage instead.
 */
export const unpadCommands = (text: string): string => text.replace(/^( *- \S.*?) {2,}(\S.*)$/gm, "$1\n      $2").replace(/ +$/gm, "")

/** Help and messages as a person reads them: colours only on a terminal, subcommand lists without padding. */
export const readableText = (text: string, terminal: boolean): string => unpadCommands(terminal ? text : stripAnsi(text))

/** A console that passes `log` and `error` through `readableText` for stdout and stderr respectively. */
export const readableConsole = (base: Console.Console, terminal: { readonly stdout: boolean; readonly stderr: boolean }): Console.Console => {
  const out = (args: ReadonlyArray<unknown>) => args.map((a) => (typeof a === "string" ? readableText(a, terminal.stdout) : a))
  const err = (args: ReadonlyArray<unknown>) => args.map((a) => (typeof a === "string" ? readableText(a, terminal.stderr) : a))
  return {
    ...base,
    log: (...args) => base.log(...out(args)),
    error: (...args) => base.error(...err(args)),
    unsafe: { ...base.unsafe, log: (...args) => base.unsafe.log(...out(args)), error: (...args) => base.unsafe.error(...err(args)) }
  }
}

/** The CLI settings: the built-in options (completions, log level, wizard) work but are left out of help. */
export const cliConfig = CliConfig.make({ showBuiltIns: false })

/** `cliConfig` as the layer `Command.run` reads it from. */
export const cliConfigLayer = CliConfig.layer(cliConfig)

/**
 * The top-level help: what the tool is, every command with its options and description, and every build target with
 * its description.
 */
export const topLevelHelp = (
  command: Command.Command<any, any, any, any>,
  version: string,
  targets: ReadonlyArray<{ readonly target: string; readonly description: string }>
): string => {
  const width = Math.max(0, ...targets.map((t) => t.target.length))
  const commands = stripAnsi(HelpDoc.toAnsiText(Command.getHelp(command, cliConfig)))
  return [
    `pipeline ${version}: cached, content-hashed experiments on what language models prefer`,
    "",
    "USAGE",
    "",
    "  pipeline <command> [options]",
    "  pipeline <command> --help    (a command's options)",
    "",
    unpadCommands(commands).trimEnd(),
    "",
    "TARGETS (pipeline build <target>)",
    "",
    ...(targets.length === 0 ? ["  (no reports/*.ts exports a target)"] : targets.map((t) => `  ${t.target.padEnd(width)}  ${t.description}`)),
    ""
  ].join("\n")
}

/** An error as one JSON object: its tag, its message and its structured fields. */
export const errorJson = (error: unknown): { readonly error: Record<string, unknown> } => {
  if (ValidationError.isValidationError(error)) {
    return { error: { type: error._tag, message: stripAnsi(HelpDoc.toAnsiText(error.error)).trim() } }
  }
  if (typeof error === "object" && error !== null) {
    const { _tag, ...fields } = error as Record<string, unknown>
    const message = "message" in error ? String((error as { message: unknown }).message) : String(error)
    const plain = Object.fromEntries(Object.entries(fields).filter(([k, v]) => k !== "message" && k !== "stack" && (v === null || typeof v !== "object" || Array.isArray(v))))
    return { error: { type: typeof _tag === "string" ? _tag : "Error", message, ...plain } }
  }
  return { error: { type: "Error", message: String(error) } }
}

/** Prints a failed command's error: as JSON on stdout with `--json`, else as one line on stderr (usage errors are already printed). */
export const reportFailure = (error: unknown, json: boolean) =>
  Effect.sync(() => {
    process.exitCode = 1
    if (json) {
      process.stdout.write(JSON.stringify(errorJson(error), null, 2) + "\n")
      return
    }
    if (ValidationError.isValidationError(error)) return
    const message = typeof error === "object" && error !== null && "message" in error ? String(error.message) : String(error)
    process.stderr.write(`error: ${message}\n`)
  })
