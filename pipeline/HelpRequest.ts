/** Whether the command line asks for the top-level help: no arguments, or only `--help` / `-h`. */
export const wantsTopLevelHelp = (args: ReadonlyArray<string>): boolean =>
  args.length === 0 || (args.length === 1 && (args[0] === "--help" || args[0] === "-h"))
