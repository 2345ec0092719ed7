import { Effect } from "effect"
import * as Artifact from "../../../pipeline/Artifact"
import type { ExperimentConfig } from "../../../pipeline/Config"
import * as Stage from "../../../pipeline/Stage"
import type { Target } from "../../../pipeline/Target"
import { experimentGraph } from "../../../reports/experiment"
import { revealedActive } from "../../../stages/revealedActive"

/** Gathers the active-learning fit and the organism's planted truth into one output folder. */
const gather = Stage.make({
  name: "gather",
  version: 1,
  params: Stage.NoParams,
  run: ({ inputs }) =>
    Effect.succeed({
      fit: Artifact.json(inputs.active!.json("fit")),
      comparisons: Artifact.table(inputs.active!.table("comparisons")),
      truth: Artifact.json(inputs.truth!.json("truth"))
    })
})

/** Revealed choices collected by active learning on the experiment's first revealed template, beside the planted truth. */
export const target: Target<ExperimentConfig> = {
  description: "active-learning revealed preferences",
  graph: (config) => {
    const g = experimentGraph(config)
    const template = config.templates.find((t) => t.kind === "revealed")!
    const active = Stage.node(revealedActive, {
      label: template.id,
      params: {
        template: template as never,
        system: config.system,
        elicitation: config.elicitation,
        active: { batchSize: 40, maxRounds: 12, threshold: 0.97, window: 4 },
        seed: config.seed,
        runtime: config.runtime
      },
      inputs: { model: g.model, tasks: g.tasks }
    })
    return Stage.node(gather, { params: {}, inputs: { active, truth: g.truth! } })
  }
}
