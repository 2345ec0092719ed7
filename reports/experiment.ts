import { type ExperimentConfig, type Persona, personasOf, trainedPersona } from "../pipeline/Config"
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

/** The measurement nodes of one persona: its completions and, per template (and layer), everything read from its answers. */
export interface PersonaGraph {
  readonly persona: Persona
  /** Where the persona's system prompt sits in the config (`system`, or `personas.1.system`). */
  readonly systemPath: string
  /** The label of a node of this persona's column: `name`, or `name|persona` when the config lists personas. */
  readonly label: (name: string) => string
  /** The organism's planted truth about this persona's answers (`organism_truth[<persona>]`); undefined for a real checkpoint. */
  readonly truth: Stage.Node | undefined
  readonly completions: Stage.Node
  readonly elicitations: (t: Template) => Stage.Node
  readonly scores: (t: Template) => Stage.Node
  readonly activations: (t: Template) => Stage.Node
  readonly probeEval: (t: Template, layer: number) => Stage.Node
}

/**
 * The measurement graph of an experiment, fanned out per persona and template (and per layer for probes). Its own
 * persona nodes are the trained persona's (`probes.trainPersona`), which every single-persona report reads.
 */
export interface ExperimentGraph extends PersonaGraph {
  readonly config: ExperimentConfig
  readonly tasks: Stage.Node
  readonly model: Stage.Node
  readonly personas: ReadonlyArray<PersonaGraph>
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
  const runtime = config.model.kind === "checkpoint" ? { ...config.runtime, checkpoint: config.model.path } : config.runtime
  const templatePath = (t: Template) => `templates.${config.templates.indexOf(t)}`
  // Without a `personas` field the one persona leaves labels as they were before personas existed.
  const personaGraph = (persona: Persona, index: number): PersonaGraph => {
    const system = persona.system
    const systemPath = config.personas === undefined ? "system" : `personas.${index}.system`
    const label = (name: string) => (config.personas === undefined ? name : `${name}|${persona.id}`)
    const truth =
      organismParams === undefined
        ? undefined
        : Stage.node(organismTruth, {
            ...(config.personas === undefined ? {} : { label: persona.id }),
            params: { ...organismParams, templates: config.templates, personas: [persona] },
            inputs: { ...byDataset, sample: tasks },
            configPaths: {
              spec: "model.spec", seed: "seed", templates: "templates",
              ...(config.personas === undefined ? { "personas.0.system": "system" } : { "personas.0": `personas.${index}` })
            }
          })
    const completions = Stage.node(complete, {
      ...(config.personas === undefined ? {} : { label: persona.id }),
      params: { completion: config.completion, system, seed: config.seed, runtime },
      inputs: { model, tasks },
      configPaths: { completion: "completion", system: systemPath, runtime: "runtime" }
    })
    const elicitations = (t: Template) =>
      Stage.node(elicit, {
        label: label(t.id),
        params: { template: t, system, elicitation: config.elicitation, seed: config.seed, runtime },
        inputs: { model, tasks, ...(t.timing === "post" ? { completions } : {}) },
        configPaths: { template: templatePath(t), elicitation: "elicitation", system: systemPath }
      })
    const scores = (t: Template) =>
      Stage.node(parse, {
        label: label(t.id),
        params: { template: t, ...(config.judge === undefined ? {} : { judge: config.judge }) },
        inputs: { elicitations: elicitations(t), tasks },
        configPaths: { template: templatePath(t), judge: "judge" }
      })
    const acts = (t: Template) =>
      Stage.node(activations, {
        label: label(t.id),
        params: { template: t, system, activations: config.activations, runtime },
        inputs: { model, tasks, ...(t.timing === "post" ? { completions } : {}) },
        configPaths: { template: templatePath(t), activations: "activations", system: systemPath }
      })
    const evaluation = (t: Template, layer: number) =>
      Stage.node(probeEval, {
        label: `${label(t.id)}@${layer}`,
        params: {
          template_id: t.id, layer, position: config.activations.selectors[0]!, probes: probesParams(config), seed: config.seed,
          ...(config.runtime.threads === undefined ? {} : { threads: config.runtime.threads })
        },
        inputs: { scores: scores(t), activations: acts(t), tasks },
        configPaths: { probes: "probes" }
      })
    return { persona, systemPath, label, truth, completions, elicitations, scores, activations: acts, probeEval: evaluation }
  }
  const personas = personasOf(config).map(personaGraph)
  const trained = personas.find((p) => p.persona.id === trainedPersona(config).id)!
  return { config, tasks, model, personas, ...trained }
}

/** The probe settings stages read: the config's, without the choice of training persona (which the graph applies). */
export const probesParams = (config: ExperimentConfig): Omit<ExperimentConfig["probes"], "trainPersona"> => {
  const { trainPersona: _, ...probes } = config.probes
  return probes
}

/** The templates whose answers are one score per task (not revealed pairs or rankings): the ones probes are trained on. */
export const scoredTemplates = (config: ExperimentConfig): Array<Exclude<ScoredTemplate, { kind: "revealed" }>> =>
  config.templates.flatMap((t) => (t.kind === "revealed" || t.kind === "ranking" ? [] : [t]))
