import { Effect, Schema } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { DatasetSpec } from "../datasets/DatasetSpec"
import { decodeTemplate, Template } from "../elicitation/Template"
import { EmbeddingsConfig } from "../model/api/Embeddings"
import { ApiModelConfig } from "../model/api/ApiModel"
import { ChatClientConfig } from "../model/ChatClient"
import { checkpointFingerprint } from "../model/Fingerprint"
import { OrganismSpec } from "../model/OrganismSpec"
import { FailOnError } from "../stages/rowFailures"
import type { ConfigSpec } from "./BuildTarget"
import { checkSecrets } from "./ConfigSecrets"
import { ConfigError } from "./Errors"
import { decodeConfig, projectRoot, readConfigFile } from "./Target"

const PositiveInt = Schema.Int.pipe(Schema.positive())
const Probability = Schema.Number.pipe(Schema.between(0, 1))
const withDefault = <A, I>(schema: Schema.Schema<A, I, never>, value: () => NoInfer<A>) =>
  Schema.optionalWith(schema, { default: value })

/**
 * The fields of the organism's spec as a config writes them: every field optional and checked with the spec's own
 * refinements, unknown fields rejected. Derived from `OrganismSpec`, so a field added there is typed here too.
 */
const OrganismSpecOverrides = Schema.encodedBoundSchema(Schema.Struct(OrganismSpec.fields))

/** A model run in-process: the planted-preference organism (built into the cache) or a Hugging Face checkpoint folder. */
export const LocalModelConfig = Schema.Union(
  Schema.Struct({
    kind: Schema.Literal("organism"),
    /** Organism spec overrides (see model/OrganismSpec.ts); omitted fields take the spec's defaults. */
    spec: withDefault(OrganismSpecOverrides, () => ({}))
  }),
  Schema.Struct({
    kind: Schema.Literal("checkpoint"),
    /** The checkpoint folder, relative to the config file or absolute; its content hash (not its path) enters keys. */
    path: Schema.NonEmptyString,
    /** Filled in when the config is loaded: the hash of the checkpoint's weights, config and tokenizer files. */
    fingerprint: Schema.optional(Schema.String)
  })
)
/** A model run in-process. */
export type LocalModelConfig = typeof LocalModelConfig.Type

/**
 * The subject model: run in-process (organism or checkpoint), or served by OpenAI-compatible servers (`api`), which
 * give text and option probabilities only; activations and steering then read `activations.model`.
 */
export const ModelConfig = Schema.Union(...LocalModelConfig.members, ApiModelConfig)

/** How the subject model runs. */
export const RuntimeConfig = Schema.Struct({
  provider: withDefault(Schema.Literal("cpu", "cuda"), () => "cpu" as const),
  dtype: withDefault(Schema.Literal("float32", "float16"), () => "float32" as const),
  batchSize: withDefault(PositiveInt, () => 32),
  /** Threads of onnxruntime and of the probes' OpenBLAS kernels (default: see the README). */
  threads: Schema.optional(PositiveInt)
})

/** Sampling of the model's task completions. */
export const CompletionConfig = Schema.Struct({
  samples: withDefault(PositiveInt, () => 1),
  maxTokens: withDefault(PositiveInt, () => 48),
  temperature: withDefault(Schema.NonNegative, () => 1),
  topP: withDefault(Probability, () => 1)
})

/** Sampling of answers to the templates' questions. */
export const ElicitationConfig = Schema.Struct({
  samples: withDefault(PositiveInt, () => 5),
  maxTokens: withDefault(PositiveInt, () => 24),
  temperature: withDefault(Schema.NonNegative, () => 1),
  topP: withDefault(Probability, () => 1),
  /** Also record each option's probability (local models only), giving an expected score without sampling noise. */
  optionProbs: withDefault(Schema.Boolean, () => true),
  /** Revealed templates: pairs per task (each asked in both orders). */
  pairsPerTask: withDefault(PositiveInt, () => 4)
})

/** Residual-stream activations the probes read: layers and position selectors. */
export const ActivationLayers = Schema.Struct({
  layers: withDefault(Schema.Array(Schema.Int.pipe(Schema.nonNegative())).pipe(Schema.minItems(1)), () => [0, 1, 2]),
  /** Position selectors (last, prompt_last, eot, turn_boundary:N, task_last, task_mean, mean, first); the first is probed. */
  selectors: withDefault(Schema.Array(Schema.NonEmptyString).pipe(Schema.minItems(1)), () => ["prompt_last"])
})

/**
 * Residual-stream activations the probes read, and, when the subject model is served over HTTP, the local copy of
 * its weights that reads them (and steers): it re-reads the served completions through its own chat template.
 */
export const ActivationsConfig = Schema.Struct({
  ...ActivationLayers.fields,
  model: Schema.optional(LocalModelConfig)
})

/** Ridge probes and their evaluation. */
export const ProbesConfig = Schema.Struct({
  alphas: withDefault(Schema.Array(Schema.Number.pipe(Schema.positive())).pipe(Schema.minItems(1)), () =>
    Array.from({ length: 13 }, (_, i) => 10 ** (-2 + i * 0.5))
  ),
  folds: withDefault(Schema.Int.pipe(Schema.greaterThanOrEqualTo(2)), () => 5),
  alphaSelection: withDefault(Schema.Literal("kfold", "loo"), () => "kfold" as const),
  /**
   * Which alpha of the grid: "one_se" (default) the largest whose out-of-fold squared error exceeds the lowest by at
   * most one standard error of their per-task difference, "best" the lowest. Over a flat stretch of the grid the
   * lowest is an accident of the sample and can put large raw-space weights on directions that barely vary;
   * "one_se" keeps the probe's direction stable at a cost in cross-validated R² within that standard error.
   */
  alphaRule: withDefault(Schema.Literal("best", "one_se"), () => "one_se" as const),
  /** The task column held-one-out groups by: origin (dataset) by default, or a meta field such as topic. */
  groupBy: withDefault(Schema.NonEmptyString, () => "origin"),
  /** Task columns (origin, or meta fields such as topic) whose group means are removed from the target before training. */
  demean: withDefault(Schema.Array(Schema.NonEmptyString), () => []),
  bootstrap: withDefault(PositiveInt, () => 1000),
  /** The persona whose answers and activations probes are trained on (the first persona when absent); every other persona's are the test set. */
  trainPersona: Schema.optional(Schema.NonEmptyString)
})

/** Hashed tf-idf of the task text (see stats/tfidf.ts). */
export const TfidfConfig = Schema.Struct({
  /** Hashed columns: the fixed width of every task's vector (terms beyond it share columns, signed). */
  width: withDefault(PositiveInt, () => 4096),
  /** Longest n-gram: 1 words, 2 words and adjacent word pairs. */
  ngrams: withDefault(Schema.Int.pipe(Schema.between(1, 3)), () => 2),
  /**
   * Terms found in fewer sampled tasks are left out. A term of one task cannot carry anything from one task to another;
   * it only dilutes that task's vector (rows are unit length), so the default is 2.
   */
  minDf: withDefault(PositiveInt, () => 2)
})

/** An OpenAI-compatible embeddings model for content features, and how many of the tasks may fail to embed. */
export const ContentEmbeddingsConfig = Schema.Struct({
  ...EmbeddingsConfig.fields,
  /** Share of tasks that may fail to embed (left out of the content probes, named in the stage's info) before the stage fails. */
  failOnError: withDefault(Probability, () => 0.1)
})

/** Content features: what a task is about, probed beside every activation probe as a baseline. */
export const ContentConfig = Schema.Struct({
  /**
   * Feature sets, each giving a content-only and a content-orthogonal probe beside every activation probe: `tfidf`
   * (the task text's hashed tf-idf), `model` (the subject model's input embeddings of the task's tokens,
   * mean-pooled) and `embeddings` (an OpenAI-compatible /v1/embeddings model, set in `embeddings`). An empty list
   * turns the baselines off.
   */
  providers: withDefault(
    Schema.Array(Schema.Literal("tfidf", "model", "embeddings")).pipe(
      Schema.filter((ps) => new Set(ps).size === ps.length || `lists a provider twice: ${ps.join(", ")}`)
    ),
    () => ["tfidf" as const]
  ),
  tfidf: withDefault(TfidfConfig, () => Schema.decodeSync(TfidfConfig)({})),
  embeddings: Schema.optional(ContentEmbeddingsConfig)
}).pipe(
  Schema.filter((c) =>
    c.providers.includes("embeddings") && c.embeddings === undefined
      ? { path: ["embeddings"], message: "providers lists \"embeddings\": set content.embeddings (model and endpoints: [{ baseUrl, apiKeyEnv }])" }
      : undefined
  )
)

/** The steering experiment (reports/steering): what is steered, along which probe, where, and how hard. */
export const SteeringConfig = Schema.Struct({
  /** The steered template: a qualitative template with two options, or a revealed one; the first such template by default. */
  template: Schema.optional(Schema.NonEmptyString),
  /** The template whose probe (and mean-difference direction) is steered along; the steered template by default (the first non-revealed template when that is revealed). */
  probeTemplate: Schema.optional(Schema.NonEmptyString),
  /** Layers steered after (each must be among activations.layers, where the probes are). */
  layers: withDefault(Schema.Array(Schema.Int.pipe(Schema.nonNegative())).pipe(Schema.minItems(1)), () => [1]),
  /**
   * Coefficients in units of the normalization (multiples of the mean residual norm by default); 0 is the unsteered
   * baseline. Unset, they are calibrated on the model: ±c and ±c/2 for c half the largest magnitude at which steering
   * along every direction, either way, still leaves 80% of the answers parseable that parse unsteered.
   */
  coefficients: Schema.optional(Schema.Array(Schema.Number).pipe(Schema.minItems(2))),
  /** Samples per task (or per ordered pair) and coefficient. */
  samples: withDefault(PositiveInt, () => 4),
  /** A seeded subset of the sampled tasks. */
  tasks: withDefault(PositiveInt, () => 20),
  /** Steered positions: every token, the last prompt token and generated tokens, the task's span, or +c on Task A's span and −c on Task B's. */
  positions: withDefault(Schema.Literal("all", "autoregressive", "task", "differential"), () => "all" as const),
  /** `unit`: the coefficient is the vector's norm; `residual_norm`: its norm in mean residual norms at the layer. */
  normalization: withDefault(Schema.Literal("unit", "residual_norm"), () => "residual_norm" as const),
  /** Prompts the mean residual norm is measured on. */
  calibration: withDefault(PositiveInt, () => 16),
  /** Seed of the random control direction. */
  controlSeed: withDefault(Schema.Int, () => 1)
})

/** The id of the one persona of a config without `personas`. */
export const defaultPersonaId = "default"

/** A persona: the system prompt every conversation of its column of the graph starts with ("" for none). */
export const Persona = Schema.Struct({
  /** Names the persona in node labels (`elicit[qualitative_post_v1|villain]`), tables and file names. */
  id: Schema.String.pipe(
    Schema.pattern(/^[A-Za-z0-9_.-]+$/, { message: () => "a persona id is one or more of A-Z a-z 0-9 _ . - (it names graph nodes and files)" })
  ),
  system: Schema.String
})

/** A decoded persona. */
export type Persona = typeof Persona.Type

const PersonaList = Schema.Array(Persona).pipe(
  Schema.minItems(1, { message: () => "needs at least one persona (omit the field for one persona made of `system`)" }),
  Schema.filter((personas) => {
    const ids = personas.map((p) => p.id)
    const twice = ids.findIndex((id, i) => ids.indexOf(id) !== i)
    return twice < 0 || { path: [twice, "id"], message: `persona "${ids[twice]}" is listed twice; persona ids must be unique` }
  })
)

/** The experiment config: every field has a default, so `{}` is the embedded default experiment. */
const ExperimentFields = Schema.Struct({
  name: withDefault(Schema.NonEmptyString, () => "default"),
  /** Every seed is derived from this and the row's identity. */
  seed: withDefault(Schema.Int, () => 20251127),
  datasets: withDefault(Schema.Array(DatasetSpec).pipe(Schema.minItems(1)), () =>
    (["alpaca", "bailbench", "math", "wildchat"] as const).map((name) => ({ name, builtin: name }))
  ),
  sample: withDefault(Schema.Struct({ perOrigin: withDefault(PositiveInt, () => 50) }), () => ({ perOrigin: 50 })),
  model: withDefault(ModelConfig, () => ({ kind: "organism" as const, spec: {} })),
  runtime: withDefault(RuntimeConfig, () => ({ provider: "cpu" as const, dtype: "float32" as const, batchSize: 32 })),
  /** The system prompt of every conversation when `personas` is absent (one persona, id "default"); part of every key it affects. */
  system: withDefault(Schema.String, () => ""),
  /**
   * Personas as an axis of the experiment: completion, elicitation, parsing, activations and revealed choices run once
   * per persona, each with its own system prompt. Absent: one persona "default" whose system prompt is `system`, with
   * node ids and keys as without the axis.
   */
  personas: Schema.optional(PersonaList),
  completion: withDefault(CompletionConfig, () => ({ samples: 1, maxTokens: 48, temperature: 1, topP: 1 })),
  /** Templates by id (read from templates/<id>.json) or inline; a recorded snapshot holds their full content. */
  templates: Schema.Array(Template).pipe(Schema.minItems(1)),
  elicitation: withDefault(ElicitationConfig, () => Schema.decodeSync(ElicitationConfig)({})),
  activations: withDefault(ActivationsConfig, () => Schema.decodeSync(ActivationsConfig)({})),
  probes: withDefault(ProbesConfig, () => Schema.decodeSync(ProbesConfig)({})),
  steering: withDefault(SteeringConfig, () => Schema.decodeSync(SteeringConfig)({})),
  content: withDefault(ContentConfig, () => Schema.decodeSync(ContentConfig)({})),
  /** An OpenAI-compatible judge and parsing model; without one, parsing uses patterns and documented heuristics. */
  judge: Schema.optional(ChatClientConfig),
  /**
   * The share of a stage's rows whose requests may still fail after their retries (each then a failed row, tier
   * `failed`, with its reason) before the stage fails, as inspect_ai's `fail_on_error`.
   */
  failOnError: withDefault(FailOnError, () => 0.1),
  /** Environment variables an `apiKeyEnv` may name besides those ending in `_API_KEY` or `_TOKEN`. */
  apiKeyEnvAllowed: Schema.optional(Schema.Array(Schema.String.pipe(Schema.pattern(/^[A-Za-z_][A-Za-z0-9_]*$/))))
})

/** The experiment config: every field has a default, so `{}` is the embedded default experiment. */
export const ExperimentConfig = ExperimentFields.pipe(
  Schema.filter((c) => {
    const ids = (c.personas ?? [{ id: defaultPersonaId }]).map((p) => p.id)
    const train = c.probes.trainPersona
    return train === undefined || ids.includes(train) || {
      path: ["probes", "trainPersona"],
      message: `no persona "${train}"; the personas are ${ids.map((id) => `"${id}"`).join(", ")}`
    }
  })
)

/** A decoded experiment config. */
export type ExperimentConfig = typeof ExperimentConfig.Type

/** The personas of an experiment, in config order: `personas`, or one persona "default" made of `system`. */
export const personasOf = (config: ExperimentConfig): ReadonlyArray<Persona> => config.personas ?? [{ id: defaultPersonaId, system: config.system }]

/** The persona probes are trained under: `probes.trainPersona`, else the first persona. */
export const trainedPersona = (config: ExperimentConfig): Persona => {
  const personas = personasOf(config)
  return personas.find((p) => p.id === config.probes.trainPersona) ?? personas[0]!
}

/** The templates an experiment uses when its config names none. */
export const defaultTemplateIds = ["qualitative_post_v1", "stated_pre_v1"] as const

/** Resolves a checkpoint model's path against the config's folder and fingerprints its files; `field` names it in errors. */
const resolveCheckpoint = (model: unknown, file: string, field = "model"): Effect.Effect<unknown, ConfigError> => {
  if (typeof model !== "object" || model === null || (model as { kind?: unknown }).kind !== "checkpoint") return Effect.succeed(model)
  const raw = (model as { path?: unknown }).path
  if (typeof raw !== "string") return Effect.succeed(model)
  const dir = path.resolve(path.dirname(file), raw)
  return Effect.try({
    try: () => ({ ...model, path: dir, fingerprint: checkpointFingerprint(dir) }),
    catch: (e) => new ConfigError({ file, field: `${field}.path`, reason: e instanceof Error ? e.message : String(e) })
  })
}

/**
 * Replaces template ids by the content of `templates/<id>.json`, so the config (and its snapshot) holds the templates
 * themselves, and resolves dataset paths against the config file's folder.
 */
const expandTemplates = (raw: unknown, file: string, templatesDir: string): Effect.Effect<unknown, ConfigError> =>
  Effect.gen(function* () {
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
      return yield* new ConfigError({ file, field: "", reason: "the config must be a JSON object" })
    }
    const record = raw as Record<string, unknown>
    const listed = record.templates ?? defaultTemplateIds
    if (!Array.isArray(listed)) return yield* new ConfigError({ file, field: "templates", reason: "must be a list of template ids or objects" })
    const templates: unknown[] = []
    for (const [i, entry] of listed.entries()) {
      if (typeof entry !== "string") {
        templates.push(entry)
        continue
      }
      const templateFile = path.join(templatesDir, `${entry}.json`)
      if (!/^[A-Za-z0-9_.-]+$/.test(entry) || !fs.existsSync(templateFile)) {
        return yield* new ConfigError({ file, field: `templates.${i}`, reason: `no template "${entry}" in ${path.relative(process.cwd(), templatesDir) || "."}` })
      }
      const json = yield* readConfigFile(templateFile)
      templates.push(
        yield* decodeTemplate(templateFile, json).pipe(
          Effect.mapError((e) => new ConfigError({ file, field: `templates.${i}`, reason: e.message }))
        )
      )
    }
    const ids = templates.map((t) => (t as { id?: unknown }).id)
    const duplicate = ids.find((id, i) => ids.indexOf(id) !== i)
    if (duplicate !== undefined) return yield* new ConfigError({ file, field: "templates", reason: `template "${String(duplicate)}" is listed twice` })
    if (record.personas !== undefined && record.system !== undefined) {
      return yield* new ConfigError({
        file,
        field: "system",
        reason: "is given together with personas; with personas, each persona's system prompt is its `system` (personas[].system), so drop the top-level `system`"
      })
    }
    const datasets = Array.isArray(record.datasets)
      ? record.datasets.map((d: unknown) =>
          typeof d === "object" && d !== null && typeof (d as { path?: unknown }).path === "string"
            ? { ...d, path: path.resolve(path.dirname(file), (d as { path: string }).path) }
            : d
        )
      : record.datasets
    const model = yield* resolveCheckpoint(record.model, file)
    const activations = record.activations as Record<string, unknown> | undefined
    const activationModel = typeof activations === "object" && activations !== null ? yield* resolveCheckpoint(activations.model, file, "activations.model") : undefined
    return {
      ...record,
      templates,
      ...(datasets === undefined ? {} : { datasets }),
      ...(model === undefined ? {} : { model }),
      ...(activationModel === undefined ? {} : { activations: { ...activations, model: activationModel } })
    }
  })

/** Loads experiment configs from JSON files; the snapshot is the fully decoded config (templates included) in encoded form. */
export const experimentConfig: ConfigSpec<ExperimentConfig> = {
  load: (file) =>
    Effect.gen(function* () {
      const raw = yield* readConfigFile(file)
      yield* checkSecrets(raw, file)
      const expanded = yield* expandTemplates(raw, file, path.join(projectRoot, "templates"))
      const config = yield* decodeConfig(ExperimentConfig, expanded, file)
      return { config, snapshot: Schema.encodeSync(ExperimentConfig)(config) }
    }),
  fromSnapshot: (snapshot) =>
    Effect.zipRight(checkSecrets(snapshot, "(recorded snapshot)"), decodeConfig(ExperimentConfig, snapshot, "(recorded snapshot)"))
}
