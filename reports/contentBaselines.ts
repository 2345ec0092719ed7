import type { LoadedOutputs } from "../pipeline/Artifact"
import type { ExperimentConfig } from "../pipeline/Config"
import type * as Stage from "../pipeline/Stage"
import type { ContentProbeEvaluation } from "../stages/contentProbe"
import type { Interval } from "../stats/bootstrap"
import type { ExperimentGraph } from "./experiment"
import { type Figure, type IntervalBar, intervalBarChart } from "./render/figures"
import type { Column } from "./render/tables"

/** The content-probe nodes of every scored template × layer × configured provider, named `content:<template>@<layer>|<provider>`. */
export const contentInputs = (g: ExperimentGraph, config: ExperimentConfig, templates: ReadonlyArray<ExperimentConfig["templates"][number]>): Record<string, Stage.Node> => {
  const inputs: Record<string, Stage.Node> = {}
  for (const t of templates) {
    for (const layer of config.activations.layers) {
      for (const provider of config.content.providers) inputs[`content:${t.id}@${layer}|${provider}`] = g.contentProbe(t, layer, provider)
    }
  }
  return inputs
}

/** The content baselines among a report stage's inputs, by template, layer and provider (`providers` in config order). */
export const contentEvaluations = (inputs: Readonly<Record<string, LoadedOutputs>>, providers: ReadonlyArray<string>) => {
  const all = Object.entries(inputs)
    .filter(([name]) => name.startsWith("content:"))
    .map(([, loaded]) => loaded.json<ContentProbeEvaluation>("evaluation"))
  return {
    all,
    providers,
    /** The first configured provider's baselines: the one the main tables' content columns show. */
    primary: providers[0],
    of: (template: string, layer: number, provider: string | undefined) =>
      all.find((c) => c.template_id === template && c.layer === layer && c.provider === provider)
  }
}

const f = (name: string): Column => ({ name, type: "float64" })

/** The two baseline columns (each with its interval) the main tables gain. */
export const baselineColumns: Column[] = [
  f("content_only_r2"), f("content_only_r2_lo"), f("content_only_r2_hi"),
  f("content_orthogonal_r2"), f("content_orthogonal_r2_lo"), f("content_orthogonal_r2_hi")
]

/** The values of `baselineColumns` from two intervals (nulls when there is no baseline). */
export const baselineCells = (contentOnly: Interval | undefined, contentOrthogonal: Interval | undefined) => ({
  content_only_r2: contentOnly?.estimate ?? null, content_only_r2_lo: contentOnly?.lo ?? null, content_only_r2_hi: contentOnly?.hi ?? null,
  content_orthogonal_r2: contentOrthogonal?.estimate ?? null, content_orthogonal_r2_lo: contentOrthogonal?.lo ?? null, content_orthogonal_r2_hi: contentOrthogonal?.hi ?? null
})

/** One category of the baselines figure: the activation probe's R² and each provider's two baselines. */
export interface BaselineCategory {
  readonly category: string
  readonly activation: Interval
  readonly baselines: ReadonlyArray<{ readonly provider: string; readonly contentOnly: Interval; readonly contentOrthogonal: Interval }>
}

const finite = (i: Interval) => Number.isFinite(i.estimate) && Number.isFinite(i.lo) && Number.isFinite(i.hi)

/** Activation probe vs content-only vs content-orthogonal R² per category, or nothing when no bar is finite. */
export const baselineFigure = (options: {
  readonly name: string
  readonly title: string
  readonly subtitle: string
  readonly categoryTitle: string
  readonly valueTitle: string
  readonly categories: ReadonlyArray<BaselineCategory>
}): Figure[] => {
  const bar = (category: string, group: string, i: Interval): IntervalBar[] => (finite(i) ? [{ category, group, value: i.estimate, lo: i.lo, hi: i.hi }] : [])
  const rows = options.categories.flatMap((c) => [
    ...bar(c.category, "activation probe", c.activation),
    ...c.baselines.flatMap((b) => [...bar(c.category, `content-only (${b.provider})`, b.contentOnly), ...bar(c.category, `content-orthogonal (${b.provider})`, b.contentOrthogonal)])
  ])
  return rows.length === 0
    ? []
    : [intervalBarChart({ name: options.name.replace(/[^A-Za-z0-9._-]/g, "_"), title: options.title, subtitle: options.subtitle, rows, categoryTitle: options.categoryTitle, groupTitle: "probe", valueTitle: options.valueTitle })]
}

/** The text every report with content baselines prints above them. */
export const baselinesText = (providers: ReadonlyArray<string>) =>
  `Beside every activation probe, two baselines on the same tasks, target and folds, for each content provider (${providers.join(", ")}): ` +
  "the content-only probe is a Ridge from the task's content features (what the task is about, without the model's activations) to the target; " +
  "the content-orthogonal probe is the activation probe refitted after removing from the activations everything a Ridge of them on the content features predicts " +
  "(the training tasks' residuals cross-fitted, the test tasks residualized by the fit on the training tasks), fitted to the target's own residual on the content " +
  "(Frisch–Waugh–Lovell: the same least-squares weights, without the content part of the target pulling them) and scored against the target itself. " +
  "Both Ridges take the features in their own units with the penalty scaled by their mean variance, alpha chosen by cross-validation on the training tasks only. " +
  "A content-only R² close to the activation probe's means the probe may mostly read the task's topic; the content-orthogonal R² is what survives once content is accounted for. " +
  "`tfidf` is hashed word and word-pair tf-idf of the task text; `model` the subject model's own input embeddings of the task's tokens, mean-pooled. " +
  "The content-orthogonal k-fold R² is nested (each fold's content model and probe never see it); `residual_cv_r2` is the share of the activations' variance the content features predict out of fold."
