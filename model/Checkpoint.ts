/** A Hugging Face checkpoint folder: validated config, decoded weights, tokenizer files and the weights hash. */
import { FileSystem } from "@effect/platform"
import { Effect, Either, Schema, type Scope } from "effect"
import { decodeIssues } from "../core/DecodeIssue"
import { formatJsonSyntaxError, parseJson } from "../core/JsonText"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { decodeTensor, type FloatTensor, type HeaderEntry, parseHeader, readTensors, type SafetensorsDtype } from "./Safetensors"

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
export interface Checkpoint extends CheckpointFiles {
  readonly weights: ReadonlyMap<string, FloatTensor>
}

/** A checkpoint opened without decoding its weights: everything but the tensors, and the weight files to read them from. */
export interface CheckpointFiles {
  readonly dir: string
  readonly config: ModelConfig
  readonly dims: Dimensions
  /** The safetensors files, in file-name order. */
  readonly files: ReadonlyArray<string>
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

// Files are hashed in pieces of this size, so opening a checkpoint holds no weight file in memory.
const HASH_CHUNK = 16 << 20

/** The safetensors header of a file and the sha256 of all its bytes, read in pieces. */
const headerAndHash = (file: string, hash: ReturnType<typeof createHash>): Record<string, unknown> => {
  const fd = fs.openSync(file, "r")
  try {
    const size = fs.fstatSync(fd).size
    const buffer = Buffer.allocUnsafe(Math.min(HASH_CHUNK, Math.max(size, 8)))
    let header: Uint8Array | undefined
    for (let at = 0; at < size; ) {
      const read = fs.readSync(fd, buffer, 0, Math.min(buffer.length, size - at), at)
      if (read <= 0) throw new Error(`read stopped at byte ${at} of ${size}`)
      hash.update(buffer.subarray(0, read))
      if (at === 0) {
        const length = size < 8 ? 0 : Number(buffer.readBigUInt64LE(0))
        header = new Uint8Array(8 + length)
        fs.readSync(fd, header, 0, Math.min(header.length, size), 0)
      }
      at += read
    }
    return parseHeader(header ?? new Uint8Array(0)).entries
  } finally {
    fs.closeSync(fd)
  }
}

/**
 * Opens and validates a Hugging Face checkpoint folder without decoding its weights: the weight files are hashed in
 * pieces and their headers checked for every tensor the model needs (`readWeights` decodes them when a model is compiled).
 */
export const openCheckpoint = (dir: string): Effect.Effect<CheckpointFiles, CheckpointError, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const fsx = yield* FileSystem.FileSystem
    const fail = (field: string, reason: string) => new CheckpointError({ dir, field, reason })
    const readJson = jsonReader(dir)(fsx)
    const config = yield* Effect.flatMap(readJson("config.json", false), (json) => decodeConfig(dir, json))
    const dims = dimensionsOf(config)
    const index = (yield* readJson("model.safetensors.index.json", true)) as { weight_map?: Record<string, string> } | undefined
    const files = index === undefined
      ? ["model.safetensors"]
      : [...new Set(Object.values(index.weight_map ?? {}))].sort()
    if (files.length === 0) return yield* Effect.fail(fail("model.safetensors.index.json", "weight_map is empty"))
    const hash = createHash("sha256")
    const names = new Set<string>()
    for (const file of files) {
      const entries = yield* Effect.try({
        try: () => headerAndHash(path.join(dir, file), hash),
        catch: (e) => fail(file, `cannot read: ${e instanceof Error ? e.message : String(e)}`)
      })
      for (const name of Object.keys(entries)) names.add(name)
    }
    const tied = config.tie_word_embeddings ?? !names.has("lm_head.weight")
    for (const name of requiredWeights(dims, tied))
      if (!names.has(name)) return yield* Effect.fail(fail(name, "weight missing from the safetensors files"))
    const text = yield* loadTextSide(dir, config)
    return {
      dir,
      config: { ...config, tie_word_embeddings: tied },
      dims,
      files,
      weightsHash: hash.digest("hex"),
      ...text
    }
  })

/** The header of an open safetensors file. */
const fileHeader = (fd: number): ReturnType<typeof parseHeader> => {
  const length = Buffer.alloc(8)
  fs.readSync(fd, length, 0, 8, 0)
  const header = new Uint8Array(8 + Number(length.readBigUInt64LE(0)))
  fs.readSync(fd, header, 0, header.length, 0)
  return parseHeader(header)
}

/** Reads and decodes one tensor's own bytes from an open file. */
const readEntry = (fd: number, name: string, entry: HeaderEntry, dataStart: number): FloatTensor => {
  const [begin, end] = entry.data_offsets
  const raw = new Uint8Array(end - begin)
  if (fs.readSync(fd, raw, 0, raw.length, dataStart + begin) !== raw.length) throw new Error(`tensor ${name} runs past the end of the file`)
  const data = decodeTensor(entry.dtype, raw, entry.shape.reduce((a, b) => a * b, 1))
  return { dtype: entry.dtype as SafetensorsDtype, shape: entry.shape, data }
}

/** One tensor of an opened checkpoint decoded to float32, reading only its header and its own bytes; undefined when no file holds it. */
export const readTensor = (checkpoint: CheckpointFiles, name: string): Effect.Effect<FloatTensor | undefined, CheckpointError> =>
  Effect.forEach(checkpoint.files, (file) =>
    Effect.try({
      try: () => {
        const fd = fs.openSync(path.join(checkpoint.dir, file), "r")
        try {
          const { entries, dataStart } = fileHeader(fd)
          const entry = entries[name]
          return entry === undefined ? undefined : readEntry(fd, name, entry, dataStart)
        } finally {
          fs.closeSync(fd)
        }
      },
      catch: (e) => new CheckpointError({ dir: checkpoint.dir, field: file, reason: `cannot read ${name}: ${e instanceof Error ? e.message : String(e)}` })
    })).pipe(Effect.map((found) => found.find((t) => t !== undefined)))

/** Tensors looked up by name; a `Map` of decoded weights is one. */
export interface TensorSource {
  readonly get: (name: string) => FloatTensor | undefined
}

/**
 * The tensors of an opened checkpoint, each read from its file when asked for and held by nobody but the caller, so
 * compiling holds one tensor at a time rather than the whole checkpoint. The files stay open for the scope; a read
 * that fails throws.
 */
export const openTensors = (checkpoint: CheckpointFiles): Effect.Effect<TensorSource, CheckpointError, Scope.Scope> =>
  Effect.gen(function* () {
    const located = new Map<string, { fd: number; entry: HeaderEntry; dataStart: number }>()
    for (const file of checkpoint.files) {
      const fd = yield* Effect.acquireRelease(
        Effect.try({
          try: () => fs.openSync(path.join(checkpoint.dir, file), "r"),
          catch: (e) => new CheckpointError({ dir: checkpoint.dir, field: file, reason: `cannot open: ${e instanceof Error ? e.message : String(e)}` })
        }),
        (fd) => Effect.sync(() => fs.closeSync(fd))
      )
      const { entries, dataStart } = yield* Effect.try({
        try: () => fileHeader(fd),
        catch: (e) => new CheckpointError({ dir: checkpoint.dir, field: file, reason: e instanceof Error ? e.message : String(e) })
      })
      for (const [name, entry] of Object.entries(entries)) located.set(name, { fd, entry, dataStart })
    }
    return {
      get: (name) => {
        const at = located.get(name)
        return at === undefined ? undefined : readEntry(at.fd, name, at.entry, at.dataStart)
      }
    }
  })

/** Decodes every tensor of an opened checkpoint's weight files to float32 (each file read once). */
export const readWeights = (checkpoint: CheckpointFiles): Effect.Effect<ReadonlyMap<string, FloatTensor>, CheckpointError, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const fsx = yield* FileSystem.FileSystem
    const weights = new Map<string, FloatTensor>()
    for (const file of checkpoint.files) {
      const fail = (reason: string) => new CheckpointError({ dir: checkpoint.dir, field: file, reason })
      const bytes = yield* fsx.readFile(path.join(checkpoint.dir, file)).pipe(Effect.mapError((e) => fail(`cannot read: ${e.message}`)))
      const tensors = yield* Effect.try({ try: () => readTensors(bytes), catch: (e) => fail(e instanceof Error ? e.message : String(e)) })
      for (const [name, tensor] of tensors) weights.set(name, tensor)
    }
    return weights
  })

/** Loads and validates a Hugging Face checkpoint folder, weights decoded. */
export const loadCheckpoint = (dir: string): Effect.Effect<Checkpoint, CheckpointError, FileSystem.FileSystem> =>
  Effect.flatMap(openCheckpoint(dir), (checkpoint) => Effect.map(readWeights(checkpoint), (weights) => ({ ...checkpoint, weights })))
