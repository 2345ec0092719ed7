import { Effect, Schema } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Artifact from "../pipeline/Artifact"
import * as Stage from "../pipeline/Stage"

/**
 * A Hugging Face checkpoint outside the cache, identified by its content fingerprint (computed when the config is
 * loaded); stages that run it receive its folder through their runtime parameters, outside their keys.
 */
export const checkpoint = Stage.make({
  name: "checkpoint",
  version: 1,
  params: Schema.Struct({ path: Schema.String, fingerprint: Schema.String }),
  keyOf: ({ fingerprint }) => ({ fingerprint }),
  run: ({ params }) =>
    fs.existsSync(path.join(params.path, "config.json"))
      ? Effect.succeed({ model: Artifact.json({ fingerprint: params.fingerprint }) })
      : Effect.fail(new Error(`${params.path} has no config.json`))
})
