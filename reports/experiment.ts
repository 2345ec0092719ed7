import { Either } from "effect"
import { ConfigError } from "../pipeline/Errors"
import { type ExperimentConfig, type LocalModelConfig, type Persona, personasOf, trainedPersona } from "../pipeline/Config"
import * as Stage from "../pipeline/Stage"
import { activations } from "../stages/activations"
import { apiChecks, apiModel } from "../stages/apiModel"
import { checkpoint } from "../stages/checkpoint"
import { complete } from "../stages/complete"
import { contentEmbeddings } from "../stages/contentEmbeddings"
import { contentModel } from "../stages/contentModel"
import { contentProbe } from "../stages/contentProbe"
import { contentTfidf } from "../stages/contentTfidf"
import { elicit } from "../stages/elicit"
import { organism, organismTruth } from "../stages/organism"
import { parse } from "../stages/parse"
import { probeEval } from "../stages/probeEval"
import { reliability } from "../stages/reliability"
import { sample } from "../stages/sample"
import { tasksNode } from "../stages/tasks"
import type { ScoredTemplate, Template } from "../elicitation/Template"
import { checkpointShape, organismShape } from "../model/ModelShape"
import { unknownSelector } from "../model/Prompt"
import type { ConfigProblem } from "../pipeline/Target"

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
  /** Refuses (a ConfigError naming `activations.model`) when the model is served over HTTP and no local copy is configured. */
  readonly activations: (t: Template) => Stage.Node
  readonly probeEval: (t: Template, layer: number) => Stage.Node
  /** The template's single-sample reliability and noise ceiling (`TemplateReliability`), one value for every report. */
  readonly reliability: (t: Template) => Stage.Node
}

/**
 * The measurement graph of an experiment, fanned out per persona and template (and per layer for probes). Its own
 * persona nodes are the trained persona's (`probes.trainPersona`), which every single-persona report reads.
 */
export interface ExperimentGraph extends PersonaGraph {
  readonly config: ExperimentConfig
  readonly tasks: Stage.Node
  /** The model that answers: the local model, or the `api_model` node of a model served over HTTP. */
  readonly model: Stage.Node
  /** The model whose weights are read (activations, steering): the local model, or `activations.model`; undefined without one. */
  readonly localModel: Stage.Node | undefined
  /** The runtime parameters of the local model (its folder when it is a checkpoint outside the cache). */
  readonly localRuntime: Record<string, unknown> | undefined
  readonly personas: ReadonlyArray<PersonaGraph>
  /** Content features of the sampled tasks from one provider: one node per experiment, independent of templates and personas. */
  readonly content: (provider: ContentProvider) => Stage.Node
  /** The content-only and content-orthogonal probes beside the trained persona's `probeEval(t, layer)` for one provider. */
  readonly contentProbe: (t: Template, layer: number, provider: ContentProvider) => Stage.Node
}

/** A content feature provider an experiment can list (`content.providers`). */
export type ContentProvider = ExperimentConfig["content"]["providers"][number]

/** The node of a local model, where a checkpoint outside the cache lives, and the organism's params (for its truth). */
const localNodes = (model: LocalModelConfig, config: ExperimentConfig, byDataset: Record<string, Stage.Node>, field: string) => {
  if (model.kind === "checkpoint") {
    return {
      node: Stage.node(checkpoint, { params: { path: model.path, fingerprint: model.fingerprint ?? "" }, configPaths: { fingerprint: field } }),
      organism: undefined,
      runtime: { ...config.runtime, checkpoint: model.path }
    }
  }
  const params = { spec: model.spec, seed: config.seed }
  return {
    node: Stage.node(organism, { params, inputs: byDataset, configPaths: { spec: `${field}.spec`, seed: "seed" } }),
    organism: { params, specPath: `${field}.spec` },
    runtime: { ...config.runtime }
  }
}

/** A graph asks for what the configured model cannot give: refused when the graph is built, before anything runs. */
const refuse = (what: string) =>
  new ConfigError({
    file: "",
    field: "activations.model",
    reason:
      `${what} needs the model's weights in-process, and model.kind "api" serves only text; ` +
      `set activations.model to a local checkpoint of the same model, e.g. { "kind": "checkpoint", "path": "/models/Llama-3.1-8B-Instruct" }`
  })

/** Builds the nodes of an experiment from its config; report targets pick the ones they need. */
export const experimentGraph = (config: ExperimentConfig): ExperimentGraph => {
  const datasets = config.datasets.map((d, i) => tasksNode(d, i))
  const byDataset = Object.fromEntries(datasets.map((n) => [n.id, n]))
  const tasks = Stage.node(sample, { params: { perOrigin: config.sample.perOrigin, seed: config.seed }, inputs: byDataset, configPaths: { perOrigin: "sample.perOrigin", seed: "seed" } })
  const api = config.model.kind === "api" ? config.model : undefined
  const local =
    config.model.kind !== "api"
      ? localNodes(config.model, config, byDataset, "model")
      : config.activations.model === undefined
        ? undefined
        : localNodes(config.activations.model, config, byDataset, "activations.model")
  const personaIndex = personasOf(config).findIndex((p) => p.id === trainedPersona(config).id)
  const systemPathOf = (index: number) => (config.personas === undefined ? "system" : `personas.${index}.system`)
  const checks =
    api === undefined
      ? undefined
      : Stage.node(apiChecks, {
          params: { model: api, system: trainedPersona(config).system, ...(local !== undefined && "checkpoint" in local.runtime ? { checkpoint: local.runtime.checkpoint } : {}) },
          inputs: local === undefined ? {} : { local: local.node },
          configPaths: { model: "model", system: systemPathOf(personaIndex) }
        })
  const model = api === undefined ? local!.node : Stage.node(apiModel, { params: { model: api.model }, inputs: { checks: checks! }, configPaths: { model: "model.model" } })
  const runtime = api === undefined ? local!.runtime : { ...config.runtime, api }
  const failOnError = config.failOnError
  const templatePath = (t: Template) => `templates.${config.templates.indexOf(t)}`
  const { model: _model, ...layers } = config.activations
  // Without a `personas` field the one persona leaves labels as they were before personas existed.
  const personaGraph = (persona: Persona, index: number): PersonaGraph => {
    const system = persona.system
    const systemPath = systemPathOf(index)
    const label = (name: string) => (config.personas === undefined ? name : `${name}|${persona.id}`)
    const truth =
      local?.organism === undefined
        ? undefined
        : Stage.node(organismTruth, {
            ...(config.personas === undefined ? {} : { label: persona.id }),
            params: { ...local.organism.params, templates: config.templates, personas: [persona] },
            inputs: { ...byDataset, sample: tasks },
            configPaths: {
              spec: local.organism.specPath, seed: "seed", templates: "templates",
              ...(config.personas === undefined ? { "personas.0.system": "system" } : { "personas.0": `personas.${index}` })
            }
          })
    const completions = Stage.node(complete, {
      ...(config.personas === undefined ? {} : { label: persona.id }),
      params: { completion: config.completion, system, seed: config.seed, runtime, failOnError },
      inputs: { model, tasks },
      configPaths: { completion: "completion", system: systemPath, runtime: "runtime", failOnError: "failOnError" }
    })
    const elicitations = (t: Template) =>
      Stage.node(elicit, {
        label: label(t.id),
        params: { template: t, system, elicitation: config.elicitation, seed: config.seed, runtime, failOnError },
        inputs: { model, tasks, ...(t.timing === "post" ? { completions } : {}) },
        configPaths: { template: templatePath(t), elicitation: "elicitation", system: systemPath, failOnError: "failOnError" }
      })
    const scores = (t: Template) =>
      Stage.node(parse, {
        label: label(t.id),
        params: { template: t, ...(config.judge === undefined ? {} : { judge: config.judge }), failOnError },
        inputs: { elicitations: elicitations(t), tasks, ...(checks === undefined ? {} : { checks }) },
        configPaths: { template: templatePath(t), judge: "judge", failOnError: "failOnError" }
      })
    const acts = (t: Template) => {
      if (local === undefined) throw refuse(`activations[${label(t.id)}]`)
      return Stage.node(activations, {
        label: label(t.id),
        params: { template: t, system, activations: layers, runtime: local.runtime },
        inputs: { model: local.node, tasks, ...(t.timing === "post" ? { completions } : {}) },
        configPaths: { template: templatePath(t), activations: "activations", system: systemPath }
      })
    }
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
    const reliabilityOf = (t: Template) =>
      Stage.node(reliability, {
        label: label(t.id),
        params: { template_id: t.id, samples: config.elicitation.samples, resamples: config.probes.bootstrap, seed: config.seed },
        inputs: { scores: scores(t) },
        configPaths: { samples: "elicitation.samples", resamples: "probes.bootstrap", seed: "seed" }
      })
    return { persona, systemPath, label, truth, completions, elicitations, scores, activations: acts, probeEval: evaluation, reliability: reliabilityOf }
  }
  const personas = personasOf(config).map(personaGraph)
  const trained = personas[personaIndex]!
  const content = (provider: ContentProvider): Stage.Node => {
    switch (provider) {
      case "tfidf":
        return Stage.node(contentTfidf, { params: config.content.tfidf, inputs: { tasks }, configPaths: { width: "content.tfidf.width", ngrams: "content.tfidf.ngrams", minDf: "content.tfidf.minDf" } })
      case "model": {
        if (local === undefined) throw refuse("content_model (content.providers \"model\")")
        return Stage.node(contentModel, { params: "checkpoint" in local.runtime ? { checkpoint: local.runtime.checkpoint } : {}, inputs: { model: local.node, tasks } })
      }
      case "embeddings": {
        const { failOnError, ...embeddings } = config.content.embeddings!
        return Stage.node(contentEmbeddings, { params: { embeddings, failOnError }, inputs: { tasks }, configPaths: { embeddings: "content.embeddings" } })
      }
    }
  }
  const probe = (t: Template, layer: number, provider: ContentProvider) =>
    Stage.node(contentProbe, {
      label: `${trained.label(t.id)}@${layer}|${provider}`,
      params: { template_id: t.id, layer, position: config.activations.selectors[0]!, provider, probes: probesParams(config), seed: config.seed },
      inputs: { scores: trained.scores(t), activations: trained.activations(t), tasks, features: content(provider) },
      configPaths: { probes: "probes" }
    })
  return { config, tasks, model, localModel: local?.node, localRuntime: local?.runtime, personas, ...trained, content, contentProbe: probe }
}

/** The local model's node and runtime for a stage that reads weights (steering), refused as `activations` is without one. */
export const localModelOf = (g: ExperimentGraph, what: string): { readonly node: Stage.Node; readonly runtime: Record<string, unknown> } => {
  if (g.localModel === undefined || g.localRuntime === undefined) throw refuse(what)
  return { node: g.localModel, runtime: g.localRuntime }
}

/** The probe settings stages read: the config's, without the choice of training persona (which the graph applies). */
export const probesParams = (config: ExperimentConfig): Omit<ExperimentConfig["probes"], "trainPersona"> => {
  const { trainPersona: _, ...probes } = config.probes
  return probes
}

/** The templates whose answers are one score per task (not revealed pairs or rankings): the ones probes are trained on. */
export const scoredTemplates = (config: ExperimentConfig): Array<Exclude<ScoredTemplate, { kind: "revealed" }>> =>
  config.templates.flatMap((t) => (t.kind === "revealed" || t.kind === "ranking" ? [] : [t]))

/**
 * What no report of the experiment can run with, found before anything runs: layers the local model does not have
 * (none to check for a model served over HTTP without activations.model), unknown activation selectors, and `eot` (the end of the model's own turn) with a pre-task template, whose prompt has none.
 */
export const experimentProblems = (config: ExperimentConfig): ConfigProblem[] => {
  // The model whose layers are read: the answering model, or activations.model beside one served over HTTP.
  const [local, field] = config.model.kind !== "api" ? [config.model, "model"] : [config.activations.model, "activations.model"]
  const shape = local === undefined ? undefined : local.kind === "organism" ? organismShape(local.spec) : checkpointShape(local.path)
  if (shape !== undefined && Either.isLeft(shape)) return [{ field: `${field}.${local!.kind === "organism" ? "spec" : "path"}`, reason: shape.left }]
  const layers = shape === undefined ? Infinity : shape.right.layers
  const outside = (field: string, list: ReadonlyArray<number>) =>
    list.flatMap((l, i) =>
      l < layers ? [] : [{ field: `${field}.${i}`, reason: `layer ${l} does not exist: the model has ${layers} decoder blocks, so layers 0-${layers - 1}` }]
    )
  const selectors = config.activations.selectors.flatMap((selector, i) => {
    const unknown = unknownSelector(selector)
    if (unknown !== undefined) return [{ field: `activations.selectors.${i}`, reason: unknown }]
    const pre = scoredTemplates(config).filter((t) => t.timing === "pre").map((t) => t.id)
    return selector === "eot" && pre.length > 0
      ? [{ field: `activations.selectors.${i}`, reason: `eot is the end of the model's own turn, which pre-task prompts do not have (${pre.join(", ")})` }]
      : []
  })
  return [...outside("activations.layers", config.activations.layers), ...outside("steering.layers", config.steering.layers), ...selectors]
}
