/** The shape of a subject model (decoder blocks, residual width), read without building or loading its weights. */
import { Either } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { decodeConfig, dimensionsOf } from "./Checkpoint"
import { decodeOrganismSpec } from "./OrganismSpec"

/** Decoder blocks (activations exist after layers 0..layers−1) and residual width. */
export interface ModelShape {
  readonly layers: number
  readonly hidden: number
}

/** The organism's shape from its spec overrides (missing fields take the spec's defaults). */
export const organismShape = (spec: unknown): Either.Either<ModelShape, string> =>
  decodeOrganismSpec(spec).pipe(
    Either.map((s) => ({ layers: s.layers, hidden: s.hiddenSize })),
    Either.mapLeft((e) => `the organism spec does not decode: ${e.message.split("\n")[0]}`)
  )

/** A checkpoint folder's shape from its `config.json`. */
export const checkpointShape = (dir: string): Either.Either<ModelShape, string> => {
  const file = path.join(dir, "config.json")
  const json = Either.try({
    try: () => JSON.parse(fs.readFileSync(file, "utf8")) as unknown,
    catch: (e) => `cannot read ${file}: ${e instanceof Error ? e.message : String(e)}`
  })
  return Either.flatMap(json, (raw) =>
    decodeConfig(dir, raw).pipe(
      Either.map((config) => {
        const dims = dimensionsOf(config)
        return { layers: dims.layers, hidden: dims.hidden }
      }),
      Either.mapLeft((e) => e.message)
    )
  )
}
