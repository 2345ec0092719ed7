import type { ExperimentConfig } from "../pipeline/Config"
import * as Stage from "../pipeline/Stage"
import { activations } from "../stages/activations"
import { checkpoint } from "../stages/checkpoint"
import { complete } from "../stages/complete"
import { elicit } from "../stages/elicit"
import { organism, organismTruth } from "../stages/organism"
import { parse } from "../stages/parse"
import { probeEval } from "../stages/probeEval"
import { sample } from "../stages/sample"
import { tasksNode } from "../stages/tasks"
import type { ScoredTemplate, Template } from "../elicitation/Template"

/** The measurement graph of an experiment, fanned out per template (and per layer for probes). */
export interface ExperimentGraph {
  readonly config: ExperimentConfig
  readonly tasks: Stage.Node
  readonly model: Stage.Node
  /** The organism's planted truth; undefined for a real checkpoint. */
  readonly truth: Stage.Node | undefined
  readonly completions: Stage.Node
  readonly elicitations: (t: Template) => Stage.Node
  readonly scores: (t: Template) => Stage.Node
  readonly activations: (t: Template) => Stage.Node
  readonly probeEval: (t: Template, layer: number) => Stage.Node
}

/** Builds the nodes of an experiment from its config; report targets pick the ones they need. */
export const experimentGraph = (config: ExperimentConfig): ExperimentGraph => {
  const datasets = config.datasets.map((d, i) => tasksNode(d, i))
  const byDataset = Object.fromEntries(datasets.map((n) => [n.id, n]))
  const tasks = Stage.node(sample, { params: { perOrigin: config.sample.perOrigin, seed: config.seed }, inputs: byDataset, configPaths: { perOrigin: "sample.perOrigin", seed: "seed" } })
  const organismParams = config.model.kind === "organism" ? { spec: config.model.spec, seed: config.seed } : undefined
  const model =
    config.model.kind === "organism"
      ? Stage.node(organism, { params: organismParams, inputs: byDataset, configPaths: { spec: "model.spec", seed: "seed" } })
      : Stage.node(checkpoint, { params: { path: config.model.path, fingerprint: config.model.fingerprint ?? "" }, configPaths: { fingerprint: "model" } })
  const truth =
    organismParams === undefined
      ? undefined
      : Stage.node(organismTruth, {
        params: { ...organismParams, templates: config.templates, personas: [{ id: "default", system: config.system }] },
        inputs: { ...byDataset, sample: tasks },
        configPaths: { spec: "model.spec", seed: "seed", templates: "templates", personas: "system" }
      })
  const runtime = config.model.kind === "checkpoint" ? { ...config.runtime, checkpoint: config.model.path } : config.runtime
  const completions = Stage.node(complete, {
    params: { completion: config.completion, system: config.system, seed: config.seed, runtime },
    inputs: { model, tasks },
    configPaths: { completion: "completion", system: "system", runtime: "runtime" }
  })
  const templatePath = (t: Template) => `templates.${config.templates.indexOf(t)}`
  const elicitations = (t: Template) =>
    Stage.node(elicit, {
      label: t.id,
      params: { template: t, system: config.system, elicitation: config.elicitation, seed: config.seed, runtime },
      inputs: { model, tasks, ...(t.timing === "post" ? { completions } : {}) },
      configPaths: { template: templatePath(t), elicitation: "elicitation", system: "system" }
    })
  const scores = (t: Template) =>
    Stage.node(parse, {
      label: t.id,
      params: { template: t, ...(config.judge === undefined ? {} : { judge: config.judge }) },
      inputs: { elicitations: elicitations(t), tasks },
      configPaths: { template: templatePath(t), judge: "judge" }
    })
  const acts = (t: Template) =>
    Stage.node(activations, {
      label: t.id,
      params: { template: t, system: config.system, activations: config.activations, runtime },
      inputs: { model, tasks, ...(t.timing === "post" ? { completions } : {}) },
      configPaths: { template: templatePath(t), activations: "activations", system: "system" }
    })
  const evaluation = (t: Template, layer: number) =>
    Stage.node(probeEval, {
      label: `${t.id}@${layer}`,
      params: {
        template_id: t.id, layer, position: config.activations.selectors[0]!, probes: config.probes, seed: config.seed,
        ...(config.runtime.threads === undefined ? {} : { threads: config.runtime.threads })
      },
      inputs: { scores: scores(t), activations: acts(t), tasks },
      configPaths: { probes: "probes" }
    })
  return { config, tasks, model, truth, completions, elicitations, scores, activations: acts, probeEval: evaluation }
}

/** The templates whose answers are one score per task (not revealed pairs or rankings): the ones probes are trained on. */
export const scoredTemplates = (config: ExperimentConfig): Array<Exclude<ScoredTemplate, { kind: "revealed" }>> =>
  config.templates.flatMap((t) => (t.kind === "revealed" || t.kind === "ranking" ? [] : [t]))
