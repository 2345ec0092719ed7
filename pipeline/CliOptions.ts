import * as Options from "@effect/cli/Options"
import * as Option from "effect/Option"

/** A `--concurrency N` option (default 1) that refuses 0 and negative numbers with a message saying what it takes. */
export const positiveConcurrency = (option: Options.Options<number>): Options.Options<number> =>
  option.pipe(
    Options.filterMap((n) => (n >= 1 ? Option.some(n) : Option.none()), "--concurrency takes a whole number of at least 1 (stages run at once)"),
    Options.withDefault(1)
  )
