import { Effect } from "effect"
import * as NodeContext from "@effect/platform-node/NodeContext"
import type { ExperimentConfig } from "../pipeline/Config"
import type { Node } from "../pipeline/Stage"
import type { ConfigProblem, Target } from "../pipeline/Target"
import { experimentProblems } from "./experiment"
import type { ReportDocument } from "./render/document"

/** A report stage's output: the document without its build hash (known only once the whole build is keyed). */
export type ReportBody = Omit<ReportDocument, "buildHash">

/** The config summary every report prints (templates by id; the build's snapshot holds their text). */
export const configSummary = (config: ExperimentConfig): Record<string, unknown> => {
  const { templates, ...rest } = config
  return { ...rest, templates: templates.map((t) => t.id) }
}

/**
 * A report target: its graph ends in a stage whose `document` output is written to `out/reports/<name>/`. Before
 * anything runs, the config is checked against the model (`experimentProblems`) and against what this report needs.
 */
export const reportTarget = (
  description: string,
  graph: (config: ExperimentConfig) => Node,
  needs: (config: ExperimentConfig) => ReadonlyArray<ConfigProblem> = () => []
): Target<ExperimentConfig> => ({
  description,
  graph,
  check: (config) => [...experimentProblems(config), ...needs(config)],
  // The renderer (Vega, resvg, Arrow, Parquet) loads only when a report is written, not when the graph is built.
  write: (root, { build, outputDir }) =>
    Effect.promise(() => import("./render/document")).pipe(
      Effect.flatMap(({ writeReport }) => writeReport(outputDir, { ...root.json<ReportBody>("document"), buildHash: build })),
      Effect.asVoid,
      Effect.provide(NodeContext.layer)
    )
})
