/** The subject-model port the stages use, its error, and its layer over a Hugging Face checkpoint compiled to ONNX. */
import { FileSystem } from "@effect/platform"
import { Context, Effect, Layer, Schema } from "effect"
import * as os from "node:os"
import { type Dimensions, openCheckpoint } from "./Checkpoint"
import { makeChatRenderer } from "./ChatTemplate"
import { allFusions, compileCached, type Fusion } from "./Compile"
import {
  type ActivationRequest,
  type Activations,
  activationsBatch,
  type GenerateRequest,
  generateBatch,
  type Generation,
  type OptionScores,
  residualNormBatch,
  type Runtime,
  scoreBatch,
  type ScoreRequest,
  type SessionSpec
} from "./Generate"
import type { Prompt } from "./Prompt"
import { type DecoderSession, openSession, type Provider } from "./Session"
import { seededRandom } from "./Sampling"
import { makeTokenizer } from "./Tokenizer"

/** A subject-model operation failed; `model` names the checkpoint or served model, `failure` is the short reason failed rows are counted by. */
export class ModelError extends Schema.TaggedError<ModelError>()("ModelError", {
  model: Schema.String,
  reason: Schema.String,
  failure: Schema.optional(Schema.String)
}) {
  get message() {
    return `${this.model}: ${this.reason}`
  }
}

/** What the model is; a model served over HTTP knows only its name (the sizes are 0, the weights hash empty). */
export interface SubjectModelInfo {
  /** What row memos are namespaced by: the weights hash of a local model, `api:<name>` for a served one. */
  readonly id: string
  readonly weightsHash: string
  readonly architecture: string
  readonly numLayers: number
  readonly hiddenSize: number
  readonly vocabSize: number
  readonly hasChatTemplate: boolean
}

/**
 * Intra-op threads when none are configured: one below a hidden size of 512, where each operator's work is a few
 * microseconds and handing it to another thread costs more than it saves (stories260K, hidden 64, decodes 20-45%
 * faster on one thread than on two here), and every core from there up (SmolLM2-135M's shape, hidden 576, decodes
 * 1.3× faster on two threads than on one at batch 1 and at batch 32).
 */
export const defaultThreads = (dims: Pick<Dimensions, "hidden">): number => (dims.hidden < 512 ? 1 : os.availableParallelism())

/** Options of the checkpoint layer. */
export interface CheckpointModelOptions {
  /** Hugging Face checkpoint folder. */
  readonly dir: string
  /** Where compiled `.onnx` files are cached (keyed by weights hash and compile options). */
  readonly cacheDir: string
  /** The cache root whose `quarantine/` receives damaged compiled graphs (default: `cacheDir`). */
  readonly quarantineRoot?: string
  readonly provider?: Provider
  /** Weight storage in the compiled graph; float16 is meant for CUDA and runs (cast to float32) on CPU too. */
  readonly dtype?: "float32" | "float16"
  /** Requests per forward batch. */
  readonly batchSize?: number
  /** onnxruntime fusions to compile in (default: all; none gives the plain-operator reference graph). */
  readonly fusions?: ReadonlyArray<Fusion>
  /** onnxruntime intra-op threads (default `defaultThreads` of the checkpoint). */
  readonly threads?: number
  /** Let idle onnxruntime threads spin (lower latency on an otherwise idle machine; default off). */
  readonly spin?: boolean
}

/** What a model can be asked besides text: a model served over HTTP can give neither activations nor steering. */
export interface ModelCapabilities {
  readonly activations: boolean
  readonly steering: boolean
}

/** How stages should feed a model: requests per call, and calls at once. */
export interface Parallelism {
  readonly batchSize: number
  readonly concurrency: number
}

/**
 * The subject model: every operation takes many requests (a local model runs them in batches of `batchSize`). Text
 * generation, with option probabilities when a request names options, is what every implementation gives; the rest
 * is what `capabilities` says.
 */
export class SubjectModel extends Context.Tag("prefpipe/SubjectModel")<SubjectModel, {
  readonly info: SubjectModelInfo
  readonly capabilities: ModelCapabilities
  readonly parallelism: Parallelism
  readonly generate: (requests: ReadonlyArray<GenerateRequest>) => Effect.Effect<Generation[], ModelError>
  readonly scoreOptions: (requests: ReadonlyArray<ScoreRequest>) => Effect.Effect<OptionScores[], ModelError>
  readonly activations: (requests: ReadonlyArray<ActivationRequest>) => Effect.Effect<Activations[], ModelError>
  /** Mean residual L2 norm after `layer` over the prompts' tokens (first token excluded): the unit of `residual_norm` steering. */
  readonly residualNorm: (prompts: ReadonlyArray<Prompt>, layer: number) => Effect.Effect<number, ModelError>
}>() {}

const chunks = <A>(items: ReadonlyArray<A>, size: number): A[][] => {
  const out: A[][] = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}

/** Loads a checkpoint and builds the runtime (sessions compiled and opened on first use, then reused). */
export const makeRuntime = (options: CheckpointModelOptions) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const checkpoint = yield* openCheckpoint(options.dir)
    const tokenizer = makeTokenizer(checkpoint.tokenizerJson, checkpoint.tokenizerConfig, checkpoint.eosTokenIds)
    const chat = makeChatRenderer(checkpoint.chatTemplate, tokenizer.bosToken, tokenizer.eosToken)
    const sessions = new Map<string, Effect.Effect<DecoderSession, string>>()
    const session = (spec: SessionSpec) =>
      Effect.gen(function* () {
        const key = JSON.stringify(spec)
        const existing = sessions.get(key)
        if (existing !== undefined) return yield* existing
        const compileOptions = { ...spec, fusions: options.fusions ?? allFusions, dtype: options.dtype ?? "float32" } as const
        const open = yield* Effect.cached(
          compileCached(checkpoint, compileOptions, options.cacheDir, options.quarantineRoot).pipe(
            Effect.mapError((e) => `compile: ${e.message}`),
            Effect.flatMap((compiled) =>
              openSession(compiled.path, checkpoint.dims, options.provider ?? "cpu", options.threads ?? defaultThreads(checkpoint.dims), options.spin)
            ),
            Effect.provideService(FileSystem.FileSystem, fs)
          )
        )
        sessions.set(key, open)
        return yield* open
      })
    const runtime: Runtime = { dims: checkpoint.dims, tokenizer, chat, session }
    return { checkpoint, runtime }
  })

/** The service over a checkpoint folder. */
export const layerCheckpoint = (options: CheckpointModelOptions): Layer.Layer<SubjectModel, ModelError, FileSystem.FileSystem> =>
  Layer.effect(
    SubjectModel,
    Effect.gen(function* () {
      const { checkpoint, runtime } = yield* makeRuntime(options).pipe(
        Effect.mapError((e) => new ModelError({ model: options.dir, reason: e.message }))
      )
      const size = Math.max(1, options.batchSize ?? 16)
      const fail = (reason: string) => new ModelError({ model: options.dir, reason })
      const batched = <A, B>(run: (rt: Runtime, batch: ReadonlyArray<A>) => Effect.Effect<B[], string>) => (requests: ReadonlyArray<A>) =>
        Effect.forEach(chunks(requests, size), (batch) => run(runtime, batch)).pipe(Effect.map((r) => r.flat()), Effect.mapError(fail))
      return {
        info: {
          id: checkpoint.weightsHash,
          weightsHash: checkpoint.weightsHash,
          architecture: checkpoint.config.architectures[0],
          numLayers: checkpoint.dims.layers,
          hiddenSize: checkpoint.dims.hidden,
          vocabSize: checkpoint.dims.vocab,
          hasChatTemplate: runtime.chat.hasTemplate
        },
        capabilities: { activations: true, steering: true },
        parallelism: { batchSize: size, concurrency: 1 },
        generate: batched(withOptionProbs(generateBatch, scoreBatch)),
        scoreOptions: batched(scoreBatch),
        activations: batched(activationsBatch),
        residualNorm: (prompts, layer) =>
          Effect.forEach(chunks(prompts, size), (batch) => residualNormBatch(runtime, batch, layer)).pipe(
            Effect.mapError(fail),
            Effect.flatMap((parts) => {
              const sum = parts.reduce((a, p) => a + p.sum, 0)
              const count = parts.reduce((a, p) => a + p.count, 0)
              return count === 0 ? Effect.fail(fail("residualNorm needs prompts with at least two tokens")) : Effect.succeed(sum / count)
            })
          )
      }
    })
  )

/**
 * Generation that also answers the requests naming options: their options are scored on the same prompt and the
 * probabilities, renormalised over the options, come back with the generation.
 */
export const withOptionProbs =
  (generate: (rt: Runtime, batch: ReadonlyArray<GenerateRequest>) => Effect.Effect<Generation[], string>, score: (rt: Runtime, batch: ReadonlyArray<ScoreRequest>) => Effect.Effect<OptionScores[], string>) =>
  (rt: Runtime, batch: ReadonlyArray<GenerateRequest>): Effect.Effect<Generation[], string> =>
    Effect.gen(function* () {
      const generations = yield* generate(rt, batch)
      const asking = batch.flatMap((r, i) => (r.options === undefined || r.options.length === 0 ? [] : [i]))
      if (asking.length === 0) return generations
      const scores = yield* score(rt, asking.map((i) => ({ prompt: batch[i]!.prompt, options: batch[i]!.options!, ...(batch[i]!.steering === undefined ? {} : { steering: batch[i]!.steering! }) })))
      const out = [...generations]
      asking.forEach((i, k) => (out[i] = { ...out[i]!, optionProbs: scores[k]!.normalized }))
      return out
    })

const promptKey = (prompt: Prompt): string =>
  prompt.kind === "text" ? prompt.text : prompt.messages.map((m) => `${m.role}: ${m.content}`).join("\n") + (prompt.addGenerationPrompt ? "\nassistant:" : "")

const hashSeed = (text: string): number => {
  let h = 2166136261
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619)
  return h >>> 0
}

/**
 * A deterministic stand-in for tests of code that uses the port: outputs depend only on each request (prompt, seed,
 * options, selectors), never on batch composition. Text is words drawn from a seeded generator; activations are
 * seeded vectors; steering is ignored; option probabilities are seeded and sum to at most 1/2.
 */
export const layerTest = (options: { readonly numLayers?: number; readonly hiddenSize?: number } = {}): Layer.Layer<SubjectModel> => {
  const numLayers = options.numLayers ?? 4
  const hiddenSize = options.hiddenSize ?? 16
  const words = ["the", "a", "task", "answer", "yes", "no", "because", "I", "would", "prefer", "this", "one"]
  const fail = (reason: string) => new ModelError({ model: "test", reason })
  const vector = (key: string) => {
    const random = seededRandom(hashSeed(key))
    return Float32Array.from({ length: hiddenSize }, () => random() * 2 - 1)
  }
  const scoreOne = (r: ScoreRequest) => {
    const raw = r.options.map((o) => 0.5 * seededRandom(hashSeed(`${promptKey(r.prompt)}\u0000${o}`))() / Math.max(1, r.options.length))
    const sum = raw.reduce((a, b) => a + b, 0)
    return { probs: raw, normalized: raw.map((p) => (sum > 0 ? p / sum : 0)) }
  }
  return Layer.succeed(SubjectModel, {
    info: { id: "0".repeat(64), weightsHash: "0".repeat(64), architecture: "TestModel", numLayers, hiddenSize, vocabSize: words.length + 1, hasChatTemplate: false },
    capabilities: { activations: true, steering: true },
    parallelism: { batchSize: 8, concurrency: 1 },
    generate: (requests) =>
      Effect.succeed(requests.map((r): Generation => {
        const random = seededRandom(hashSeed(`${promptKey(r.prompt)}\u0000${r.seed}`))
        const tokenIds = Array.from({ length: Math.max(0, r.maxTokens) }, () => 1 + Math.floor(random() * words.length))
        const full = tokenIds.map((t) => words[t - 1]).join(" ")
        const cut = Math.min(...(r.stop ?? []).map((s) => (s === "" ? -1 : full.indexOf(s))).filter((i) => i >= 0), Infinity)
        const text = Number.isFinite(cut) ? full.slice(0, cut) : full
        return {
          text, tokenIds, promptIds: [0], finish: Number.isFinite(cut) ? "stop" : "length", promptTokens: 1, completionTokens: tokenIds.length,
          ...(r.options === undefined || r.options.length === 0 ? {} : { optionProbs: scoreOne({ prompt: r.prompt, options: r.options }).normalized })
        }
      })),
    scoreOptions: (requests) => Effect.succeed(requests.map(scoreOne)),
    activations: (requests) =>
      Effect.forEach(requests, (r) => {
        const bad = r.layers.find((l) => !Number.isInteger(l) || l < 0 || l >= numLayers)
        if (bad !== undefined) return Effect.fail(fail(`layer ${bad} outside 0..${numLayers - 1}`))
        const out: Activations = {}
        for (const s of r.selectors) out[s] = Object.fromEntries(r.layers.map((l) => [l, vector(`${promptKey(r.prompt)}\u0000${s}\u0000${l}`)]))
        return Effect.succeed(out)
      }),
    residualNorm: (prompts, layer) =>
      prompts.length === 0 ? Effect.fail(fail("residualNorm needs prompts")) : Effect.succeed(Math.sqrt(hiddenSize / 3) * (1 + layer / numLayers))
  })
}
