/** A Hugging Face checkpoint folder: validated config, decoded weights, tokenizer files and the weights hash. */
import { FileSystem } from "@effect/platform"
import { Effect, Either, Schema } from "effect"
import { decodeIssues } from "../core/DecodeIssue"
import { formatJsonSyntaxError, parseJson } from "../core/JsonText"
import { createHash } from "node:crypto"
import * as path from "node:path"
import { type FloatTensor, readTensors } from "./Safetensors"

/** Llama-3 style frequency-dependent RoPE scaling. */
export const Llama3RopeScaling = Schema.Struct({
  rope_type: Schema.Literal("llama3"),
  factor: Schema.Number,
  low_freq_factor: Schema.Number,
  high_freq_factor: Schema.Number,
  original_max_position_embeddings: Schema.Number
})

/** The subset of `config.json` the decoder compiler supports (Llama, Mistral, Qwen2 families). */
export const ModelConfig = Schema.Struct({
  architectures: Schema.Tuple(Schema.Literal("LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM")),
  model_type: Schema.Literal("llama", "mistral", "qwen2"),
  hidden_size: Schema.Int,
  intermediate_size: Schema.Int,
  num_attention_heads: Schema.Int,
  num_key_value_heads: Schema.optionalWith(Schema.Int, { nullable: true }),
  num_hidden_layers: Schema.Int,
  head_dim: Schema.optionalWith(Schema.Int, { nullable: true }),
  vocab_size: Schema.Int,
  max_position_embeddings: Schema.Int,
  rms_norm_eps: Schema.Number,
  rope_theta: Schema.optionalWith(Schema.Number, { default: () => 10000 }),
  rope_scaling: Schema.optionalWith(Llama3RopeScaling, { nullable: true }),
  hidden_act: Schema.optionalWith(Schema.Literal("silu"), { default: () => "silu" as const }),
  attention_bias: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  mlp_bias: Schema.optionalWith(Schema.Literal(false), { default: () => false as const }),
  tie_word_embeddings: Schema.optional(Schema.Boolean),
  use_sliding_window: Schema.optionalWith(Schema.Literal(false), { default: () => false as const }),
  /**
   * Mistral's attention window. The runtime attends over every cached token, exactly Mistral's attention within
   * the window, so a Mistral model's context is capped at it. Qwen2 configs carry the field unused (use_sliding_window false).
   */
  sliding_window: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { nullable: true }),
  bos_token_id: Schema.optionalWith(Schema.Union(Schema.Int, Schema.Array(Schema.Int)), { nullable: true }),
  eos_token_id: Schema.optionalWith(Schema.Union(Schema.Int, Schema.Array(Schema.Int)), { nullable: true })
})
/** A decoded, supported model config. */
export type ModelConfig = typeof ModelConfig.Type

/** The folder could not be read as a supported checkpoint; `field` names the offending file or config field. */
export class CheckpointError extends Schema.TaggedError<CheckpointError>()("CheckpointError", {
  dir: Schema.String,
  field: Schema.String,
  reason: Schema.String
}) {
  get message() {
    return `checkpoint ${this.dir}: ${this.field}: ${this.reason}`
  }
}

/** Dimensions derived from the config that the compiler and runtime need. */
export interface Dimensions {
  readonly hidden: number
  readonly intermediate: number
  readonly heads: number
  readonly kvHeads: number
  readonly headDim: number
  readonly layers: number
  readonly vocab: number
  readonly maxPositions: number
  readonly qkvBias: boolean
}

/** A loaded checkpoint. */
export interface Checkpoint {
  readonly dir: string
  readonly config: ModelConfig
  readonly dims: Dimensions
  readonly weights: ReadonlyMap<string, FloatTensor>
  /** sha256 over the weight files' bytes, in file-name order; the model's identity for cache keys. */
  readonly weightsHash: string
  readonly tokenizerJson: unknown
  readonly tokenizerConfig: Record<string, unknown>
  readonly generationConfig: Record<string, unknown>
  readonly chatTemplate: string | undefined
  readonly eosTokenIds: ReadonlyArray<number>
}

/** Derives the compiler's dimensions from a decoded config. */
export const dimensionsOf = (config: ModelConfig): Dimensions => ({
  hidden: config.hidden_size,
  intermediate: config.intermediate_size,
  heads: config.num_attention_heads,
  kvHeads: config.num_key_value_heads ?? config.num_attention_heads,
  headDim: config.head_dim ?? config.hidden_size / config.num_attention_heads,
  layers: config.num_hidden_layers,
  vocab: config.vocab_size,
  maxPositions: Math.min(config.max_position_embeddings, config.model_type === "mistral" ? config.sliding_window ?? Infinity : Infinity),
  qkvBias: config.model_type === "qwen2" || config.attention_bias
})

/** Decodes `config.json`, failing with the first unsupported field's path. */
export const decodeConfig = (dir: string, json: unknown): Either.Either<ModelConfig, CheckpointError> =>
  Schema.decodeUnknownEither(ModelConfig)(json, { onExcessProperty: "ignore" }).pipe(
    Either.mapLeft((error) => {
      const issue = decodeIssues(error)[0]
      const field = issue === undefined || issue.field === "" ? "config.json" : issue.field
      return new CheckpointError({ dir, field, reason: `unsupported or invalid value (${issue?.reason ?? "invalid"})` })
    }),
    Either.flatMap((config) => {
      const dims = dimensionsOf(config)
      if (dims.heads % dims.kvHeads !== 0)
        return Either.left(new CheckpointError({ dir, field: "num_key_value_heads", reason: `${dims.kvHeads} does not divide ${dims.heads} heads` }))
      if (!Number.isInteger(dims.headDim) || dims.headDim % 2 !== 0)
        return Either.left(new CheckpointError({ dir, field: "head_dim", reason: `rotary embedding needs an even integer head size, got ${dims.headDim}` }))
      return Either.right(config)
    })
  )

const requiredWeights = (dims: Dimensions, tied: boolean): string[] => {
  const names = ["model.embed_tokens.weight", "model.norm.weight"]
  if (!tied) names.push("lm_head.weight")
  for (let l = 0; l < dims.layers; l++) {
    const p = `model.layers.${l}.`
    for (const n of ["q", "k", "v", "o"]) names.push(`${p}self_attn.${n}_proj.weight`)
    if (dims.qkvBias) for (const n of ["q", "k", "v"]) names.push(`${p}self_attn.${n}_proj.bias`)
    for (const n of ["gate", "up", "down"]) names.push(`${p}mlp.${n}_proj.weight`)
    names.push(`${p}input_layernorm.weight`, `${p}post_attention_layernorm.weight`)
  }
  return names
}

/** The text side of a checkpoint: tokenizer, chat template and end-of-sequence ids, read without touching the weights. */
export interface TextSide {
  readonly tokenizerJson: unknown
  readonly tokenizerConfig: Record<string, unknown>
  readonly generationConfig: Record<string, unknown>
  readonly chatTemplate: string | undefined
  readonly eosTokenIds: ReadonlyArray<number>
}

const jsonReader = (dir: string) => (fs: FileSystem.FileSystem) => (name: string, optional: boolean) =>
  fs.exists(path.join(dir, name)).pipe(
    Effect.orElseSucceed(() => false),
    Effect.flatMap((exists) =>
      !exists
        ? optional ? Effect.succeed(undefined) : Effect.fail(new CheckpointError({ dir, field: name, reason: "file missing" }))
        : fs.readFileString(path.join(dir, name)).pipe(
          Effect.mapError((e) => new CheckpointError({ dir, field: name, reason: `cannot read: ${e.message}` })),
          Effect.flatMap((text) =>
            Either.match(parseJson(text), {
              onLeft: (e) => Effect.fail(new CheckpointError({ dir, field: name, reason: formatJsonSyntaxError(e) })),
              onRight: Effect.succeed
            })
          )
        )
    )
  )

/**
 * Reads a checkpoint's tokenizer files and chat template (`tokenizer_config.json`'s `chat_template`, or the
 * `chat_template.jinja` file newer exports write beside it) without loading its weights.
 */
export const loadTextSide = (dir: string, config?: ModelConfig): Effect.Effect<TextSide, CheckpointError, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const readJson = jsonReader(dir)(fs)
    const modelConfig = config ?? (yield* Effect.flatMap(readJson("config.json", false), (json) => decodeConfig(dir, json)))
    const tokenizerJson = yield* readJson("tokenizer.json", false)
    const tokenizerConfig = ((yield* readJson("tokenizer_config.json", true)) ?? {}) as Record<string, unknown>
    const generationConfig = ((yield* readJson("generation_config.json", true)) ?? {}) as Record<string, unknown>
    const template = tokenizerConfig.chat_template
    const inline = typeof template === "string"
      ? template
      : Array.isArray(template)
      ? (template as Array<{ name: string; template: string }>).find((t) => t.name === "default")?.template
      : undefined
    const jinja = path.join(dir, "chat_template.jinja")
    const chatTemplate = inline ?? ((yield* fs.exists(jinja).pipe(Effect.orElseSucceed(() => false)))
      ? yield* fs.readFileString(jinja).pipe(Effect.mapError((e) => new CheckpointError({ dir, field: "chat_template.jinja", reason: `cannot read: ${e.message}` })))
      : undefined)
    const eosSource = generationConfig.eos_token_id ?? modelConfig.eos_token_id
    const eosTokenIds = eosSource === undefined || eosSource === null ? [] : Array.isArray(eosSource) ? eosSource as number[] : [eosSource as number]
    return { tokenizerJson, tokenizerConfig, generationConfig, chatTemplate, eosTokenIds }
  })

/** Loads and validates a Hugging Face checkpoint folder. */
export const loadCheckpoint = (dir: string): Effect.Effect<Checkpoint, CheckpointError, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const fail = (field: string, reason: string) => new CheckpointError({ dir, field, reason })
    const readJson = jsonReader(dir)(fs)
    const config = yield* Effect.flatMap(readJson("config.json", false), (json) => decodeConfig(dir, json))
    const dims = dimensionsOf(config)
    const index = (yield* readJson("model.safetensors.index.json", true)) as { weight_map?: Record<string, string> } | undefined
    const files = index === undefined
      ? ["model.safetensors"]
      : [...new Set(Object.values(index.weight_map ?? {}))].sort()
    if (files.length === 0) return yield* Effect.fail(fail("model.safetensors.index.json", "weight_map is empty"))
    const hash = createHash("sha256")
    const weights = new Map<string, FloatTensor>()
    for (const file of files) {
      const bytes = yield* fs.readFile(path.join(dir, file)).pipe(Effect.mapError((e) => fail(file, `cannot read: ${e.message}`)))
      hash.update(bytes)
      const tensors = yield* Effect.try({ try: () => readTensors(bytes), catch: (e) => fail(file, e instanceof Error ? e.message : String(e)) })
      for (const [name, tensor] of tensors) weights.set(name, tensor)
    }
    const tied = config.tie_word_embeddings ?? !weights.has("lm_head.weight")
    for (const name of requiredWeights(dims, tied))
      if (!weights.has(name)) return yield* Effect.fail(fail(name, "weight missing from the safetensors files"))
    const text = yield* loadTextSide(dir, config)
    return {
      dir,
      config: { ...config, tie_word_embeddings: tied },
      dims,
      weights,
      weightsHash: hash.digest("hex"),
      ...text
    }
  })
