import { Effect, Schema } from "effect"
import { questionMessages } from "../elicitation/Conversation"
import { Template } from "../elicitation/Template"
import { type BuiltOrganism, generateGroundTruth, generateOrganism } from "../model/Organism"
import { OrganismSpec } from "../model/OrganismSpec"
import * as Artifact from "../pipeline/Artifact"
import type { LoadedOutputs } from "../pipeline/Artifact"
import * as Stage from "../pipeline/Stage"
import { taskRows } from "./taskRows"

const OrganismParams = Schema.Struct({
  spec: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
  seed: Schema.Int
})

/** The input name under which the truth stage receives the experiment's sampled tasks; every other input is a task set. */
const SAMPLE = "sample"

const build = (inputs: Readonly<Record<string, LoadedOutputs>>, params: typeof OrganismParams.Type) =>
  Effect.gen(function* () {
    const spec = yield* Schema.decodeUnknown(OrganismSpec)(params.spec)
    const tasks = Object.entries(inputs).flatMap(([name, i]) => (name === SAMPLE ? [] : taskRows(i.table("tasks"))))
    return yield* generateOrganism({ spec, seed: params.seed, tasks })
  })

/**
 * The planted-preference organism over every loaded task, as a Hugging Face checkpoint folder read by the same loader
 * as any model. It depends on its spec, its seed and the task sets only: questions, templates and system prompts reach
 * it as tokens, so editing or adding one reruns nothing here.
 */
export const organism = Stage.make({
  name: "organism",
  version: 5,
  params: OrganismParams,
  run: ({ inputs, params }) => Effect.map(build(inputs, params), (r) => ({ checkpoint: Artifact.files(r.files) }))
})

const TruthParams = Schema.Struct({
  ...OrganismParams.fields,
  templates: Schema.Array(Template),
  /** The experiment's personas: each one's id and system prompt. */
  personas: Schema.Array(Schema.Struct({ id: Schema.String, system: Schema.String }))
})


/**
 * The organism's planted ground truth for the experiment's templates and personas: task valences, expected answers
 * per task, template and persona, directions, reliabilities, content shares over the sampled tasks, planted personas.
 */
export const organismTruth = Stage.make({
  name: "organism_truth",
  version: 5,
  params: TruthParams,
  run: ({ inputs, params }) =>
    Effect.gen(function* () {
      const built: BuiltOrganism = yield* build(inputs, params)
      const sample = inputs[SAMPLE] === undefined ? undefined : taskRows(inputs[SAMPLE].table("tasks")).map((t) => t.task_id)
      const truth = yield* generateGroundTruth(built, {
        templates: params.templates,
        personas: params.personas,
        conversation: questionMessages,
        ...(sample === undefined ? {} : { sample })
      })
      return { truth: Artifact.json(truth) }
    })
})
