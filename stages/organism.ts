import { Effect, Schema } from "effect"
import { Template } from "../elicitation/Template"
import { generateOrganism } from "../model/Organism"
import { OrganismSpec } from "../model/OrganismSpec"
import * as Artifact from "../pipeline/Artifact"
import * as Stage from "../pipeline/Stage"
import { taskRows } from "./taskRows"

const OrganismParams = Schema.Struct({
  spec: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
  seed: Schema.Int,
  templates: Schema.Array(Template)
})

const generate = (inputs: Stage.StageContext<typeof OrganismParams.Type>["inputs"], params: typeof OrganismParams.Type) =>
  Effect.gen(function* () {
    const spec = yield* Schema.decodeUnknown(OrganismSpec)(params.spec)
    const tasks = Object.values(inputs).flatMap((i) => taskRows(i.table("tasks")))
    return yield* generateOrganism({ spec, seed: params.seed, tasks, templates: params.templates })
  })

/**
 * The planted-preference organism over every loaded task and the experiment's templates, as a Hugging Face checkpoint
 * folder read by the same loader as any model. Its bytes depend on the templates only through their words, so an
 * edit that adds no word reruns this stage and stops there (early cutoff).
 */
export const organism = Stage.make({
  name: "organism",
  version: 4,
  params: OrganismParams,
  run: ({ inputs, params }) => Effect.map(generate(inputs, params), (r) => ({ checkpoint: Artifact.files(r.files) }))
})

/** The organism's planted ground truth: task valences, expected answers per template, directions, reliabilities. */
export const organismTruth = Stage.make({
  name: "organism_truth",
  version: 4,
  params: OrganismParams,
  run: ({ inputs, params }) => Effect.map(generate(inputs, params), (r) => ({ truth: Artifact.json(r.groundTruth) }))
})
