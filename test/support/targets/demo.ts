import type { Target } from "../../../pipeline/Target"
import { demoGraph, type DemoConfig } from "../demoStages"

/** The engine's own end-to-end demo target. */
export const target: Target<typeof DemoConfig.Type> = {
  description: "numbers scaled per template, summed, rendered",
  graph: demoGraph
}
