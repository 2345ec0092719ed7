import { Effect, Schema } from "effect"
import type { ConfigSpec } from "./BuildTarget"
import { decodeConfig, readConfigFile } from "./Target"

/** The experiment config: every field has a default, so `{}` is the embedded default experiment. */
export const ExperimentConfig = Schema.Struct({
  name: Schema.optionalWith(Schema.String, { default: () => "default" }),
  seed: Schema.optionalWith(Schema.Int, { default: () => 20251127 })
})

/** A decoded experiment config. */
export type ExperimentConfig = typeof ExperimentConfig.Type

/** Loads experiment configs from JSON files; the snapshot is the fully decoded config in encoded form. */
export const experimentConfig: ConfigSpec<ExperimentConfig> = {
  load: (file) =>
    Effect.gen(function* () {
      const raw = yield* readConfigFile(file)
      const config = yield* decodeConfig(ExperimentConfig, raw, file)
      return { config, snapshot: Schema.encodeSync(ExperimentConfig)(config) }
    }),
  fromSnapshot: (snapshot) => decodeConfig(ExperimentConfig, snapshot, "(recorded snapshot)")
}
