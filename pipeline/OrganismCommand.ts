import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Effect from "effect/Effect"

const outOption = Options.directory("out", { exists: "either" }).pipe(Options.withDescription("folder to write the checkpoint into"))
const seedOption = Options.integer("seed").pipe(Options.withDescription("seed of every random draw (overrides the spec's)"))
const specOption = Options.file("spec", { exists: "yes" }).pipe(
  Options.withDescription("organism spec JSON (missing fields take their defaults)"),
  Options.optional
)

/**
 * `organism --out DIR --seed N [--spec FILE]`: writes the planted-preference checkpoint built over the built-in tasks,
 * with `ground_truth.json` beside it (for the project's templates, asked with no system prompt), and prints a one-line
 * summary.
 */
export const organismCommand = Command.make("organism", { out: outOption, seed: seedOption, spec: specOption }, ({ out, seed, spec }) =>
  // The organism builder loads when the command runs, not with every command.
  Effect.flatMap(Effect.promise(() => import("./OrganismCheckpoint")), (m) => m.runOrganismCommand({ out, seed, spec }))
).pipe(Command.withDescription("write the planted-preference model organism (a Hugging Face Llama checkpoint) and its ground truth"))
