/**
 * The planted-preference model organism: a deterministic generator of a Hugging Face Llama checkpoint whose
 * preferences are constructed, not trained, together with the ground truth every analysis can be checked against.
 * How the weights work is described in `organism/Weights.ts`; the closed forms and their approximation in
 * `organism/Truth.ts`.
 */
import { FileSystem } from "@effect/platform"
import type { PlatformError } from "@effect/platform/Error"
import { Effect, Schema } from "effect"
import * as path from "node:path"
import { defaultOrganismSpec, OrganismSpec } from "./OrganismSpec"
import { endAbsFor, endBiasFor, type Slopes } from "./organism/Readout"
import {
  answerMoments,
  calibrateBeta,
  type ExpectedAnswer,
  isPostTask,
  type OrganismTemplate,
  reliabilityOf,
  templateMode,
  templateScale
} from "./organism/Truth"
import { normals, streamFor } from "./organism/Random"
import { plantValences } from "./organism/Valence"
import {
  BOS,
  buildVocabulary,
  END,
  PAD,
  splitWords,
  tokenizerConfig,
  tokenizerJson,
  UNK
} from "./organism/Vocabulary"
import { ABS_SHARPNESS, buildWeights } from "./organism/Weights"
import { writeTensors } from "./Safetensors"

export type { OrganismTemplate, ExpectedAnswer } from "./organism/Truth"

/** A task the organism is built over. */
export interface OrganismTask {
  readonly task_id: string
  readonly origin: string
  readonly prompt: string
}

/** What the generator needs. */
export interface OrganismInput {
  /** Defaults to every default of `OrganismSpec`. */
  readonly spec?: OrganismSpec
  /** Overrides `spec.seed`. */
  readonly seed?: number
  /** The tasks whose words become content words; their valences are planted over exactly these tasks. */
  readonly tasks: ReadonlyArray<OrganismTask>
  /** Templates: their words enter the vocabulary without valence, and each gets expected answers and a scale. */
  readonly templates: ReadonlyArray<OrganismTemplate>
  /** Further text (system prompts, say) whose words the tokenizer must know; they carry no valence. */
  readonly extraWords?: ReadonlyArray<string>
}

/** The planted truth: task valences, expected answers, the planted direction per layer, reliabilities and slopes. */
export interface OrganismGroundTruth {
  /**
   * `valence` is what answers read; `within` is its within-dataset part, the part the planted direction carries. The
   * rest, valence − within, is the dataset part: a constant a_o for every task of origin o that holds one of its own
   * words (content words found in no other origin's tasks), 0 otherwise. It reaches the answers through per-dataset
   * features orthogonal to the direction (see organism/Weights.ts and organism/Valence.ts).
   */
  readonly tasks: ReadonlyArray<{ task_id: string; origin: string; valence: number; within: number }>
  readonly expected: ReadonlyArray<ExpectedAnswer>
  /**
   * Unit vector carrying the within-dataset part of valence in the residual after block `layer` (0-based): ×signal
   * after the first planted block, ×signal × the template's scale after the later ones.
   */
  readonly directions: ReadonlyArray<{ layer: number; vector: number[] }>
  readonly reliability: {
    /** The spec's target, met on average by the good/bad templates at `timing` (or by a scale-1 question if none). */
    readonly target: number
    readonly timing: "pre" | "post"
    /**
     * Per template: the answer mode its keywords switch on, its scale (answers read valence × signal × scale; 1 for
     * revealed templates, whose choices read the valence difference directly) and the single-sample cross-seed
     * reliability of its answers (null for revealed templates).
     */
    readonly templates: ReadonlyArray<{ template_id: string; mode: string; scale: number; reliability: number | null }>
  }
  /** Readout slopes: P(good | good or bad) = σ(beta·signal·valence); P(Task A) = σ(revealed·(valence A − valence B)). */
  readonly slopes: Slopes
  /** Valence gain on the planted direction after pre- and post-task prompts. */
  readonly signal: { readonly pre: number; readonly post: number }
  /** Realised mean task valence per origin. */
  readonly originMeans: Readonly<Record<string, number>>
  readonly seed: number
}

/** A generated organism: the checkpoint folder's files and its ground truth. */
export interface OrganismResult {
  readonly files: Readonly<Record<string, Uint8Array>>
  readonly groundTruth: OrganismGroundTruth
}

/** The organism could not be built from these inputs. */
export class OrganismError extends Schema.TaggedError<OrganismError>()("OrganismError", {
  reason: Schema.String
}) {
  get message() {
    return `organism: ${this.reason}`
  }
}

const json = (value: unknown) => new TextEncoder().encode(`${JSON.stringify(value, null, 2)}\n`)

/** Builds the organism synchronously; throws on invalid input (see `generateOrganism`). */
export const buildOrganism = (input: OrganismInput): OrganismResult => {
  const base = input.spec ?? defaultOrganismSpec()
  const spec = input.seed === undefined ? base : OrganismSpec.make({ ...base, seed: input.seed })
  if (input.tasks.length === 0) throw new Error("buildOrganism: tasks is empty")
  const vocab = buildVocabulary(
    input.tasks.map((t) => t.prompt),
    input.templates.map((t) => t.text),
    input.extraWords ?? []
  )
  const taskWords = input.tasks.map((t) => ({ origin: t.origin, words: splitWords(t.prompt) }))
  const planted = plantValences(spec.seed, taskWords, vocab.content, spec.originMeans, spec.spread)
  const emphasis = new Map(
    [...vocab.templateOnly].sort().map((w) => [w, (spec.templateSpread * normals(streamFor(spec.seed, `emphasis:${w}`), 1)[0]!) / Math.sqrt(8)])
  )
  const calibrationSignal = spec.calibrationTiming === "post" ? spec.postSignal : spec.preSignal
  const calibrationGains = input.templates
    .filter((t) => templateMode(t) === "qualitative" && isPostTask(t) === (spec.calibrationTiming === "post"))
    .map((t) => calibrationSignal * templateScale(t, emphasis))
  const beta = calibrateBeta(
    planted.task,
    calibrationGains.length > 0 ? calibrationGains : [calibrationSignal],
    spec.targetReliability
  )
  const slopes: Slopes = {
    beta,
    stated: spec.statedBeta * beta,
    concentration: spec.statedConcentration,
    revealed: spec.revealedBeta * beta,
    open: spec.openBeta * beta,
    neutralBias: spec.neutralBias,
    endBias: endBiasFor(spec.endHazard),
    endAbs: endAbsFor(spec.openBeta * beta, planted.task.map((v) => v * spec.preSignal), ABS_SHARPNESS)
  }
  const weights = buildWeights(spec, vocab, planted.word, emphasis, slopes, planted)
  const { dims } = weights
  const id = (token: string) => vocab.ids.get(token)!
  const config = {
    architectures: ["LlamaForCausalLM"],
    model_type: "llama",
    hidden_size: dims.hidden,
    intermediate_size: dims.intermediate,
    num_attention_heads: dims.heads,
    num_key_value_heads: dims.kvHeads,
    num_hidden_layers: dims.layers,
    head_dim: dims.headDim,
    vocab_size: dims.vocab,
    max_position_embeddings: spec.maxPositions,
    rms_norm_eps: 1e-5,
    rope_theta: spec.ropeTheta,
    rope_scaling: null,
    hidden_act: "silu",
    attention_bias: false,
    attention_dropout: 0,
    mlp_bias: false,
    tie_word_embeddings: false,
    bos_token_id: id(BOS),
    eos_token_id: id(END),
    pad_token_id: id(PAD),
    torch_dtype: "float32",
    use_cache: true
  }
  const files: Record<string, Uint8Array> = {
    "config.json": json(config),
    "generation_config.json": json({ bos_token_id: id(BOS), eos_token_id: id(END), pad_token_id: id(PAD), do_sample: true, temperature: 1 }),
    "model.safetensors": writeTensors(weights.tensors, "F32"),
    "special_tokens_map.json": json({ bos_token: BOS, eos_token: END, unk_token: UNK, pad_token: PAD }),
    "tokenizer.json": json(tokenizerJson(vocab)),
    "tokenizer_config.json": json(tokenizerConfig(vocab, spec.maxPositions))
  }

  const gain = (t: OrganismTemplate) => (isPostTask(t) ? spec.postSignal : spec.preSignal)
  const expected: ExpectedAnswer[] = []
  const reliability = input.templates.map((t) => {
    const mode = templateMode(t)
    if (mode === "revealed") {
      input.tasks.forEach((task, i) =>
        expected.push({ task_id: task.task_id, template_id: t.id, expected_value: slopes.revealed * planted.task[i]!, p_top: null })
      )
      return { template_id: t.id, mode, scale: 1, reliability: null }
    }
    const scale = templateScale(t, emphasis)
    const moments = Array.from(planted.task, (val) => answerMoments(mode, gain(t) * scale * val, t, slopes))
    moments.forEach((m, i) =>
      expected.push({ task_id: input.tasks[i]!.task_id, template_id: t.id, expected_value: m.mean, p_top: m.pTop })
    )
    return { template_id: t.id, mode, scale, reliability: reliabilityOf(moments) }
  })
  const originMeans: Record<string, number> = {}
  for (const o of [...new Set(input.tasks.map((t) => t.origin))].sort()) {
    const vals = input.tasks.flatMap((t, i) => (t.origin === o ? [planted.task[i]!] : []))
    originMeans[o] = vals.reduce((a, b) => a + b, 0) / vals.length
  }
  const vector = Array.from(weights.direction)
  const groundTruth: OrganismGroundTruth = {
    tasks: input.tasks.map((t, i) => ({ task_id: t.task_id, origin: t.origin, valence: planted.task[i]!, within: planted.within[i]! })),
    expected,
    directions: Array.from({ length: dims.layers - spec.plantedLayer }, (_, i) => ({ layer: spec.plantedLayer + i, vector })),
    reliability: { target: spec.targetReliability, timing: spec.calibrationTiming, templates: reliability },
    slopes,
    signal: { pre: spec.preSignal, post: spec.postSignal },
    originMeans,
    seed: spec.seed
  }
  return { files, groundTruth }
}

/** Generates the organism checkpoint and its ground truth; invalid inputs fail with `OrganismError`. */
export const generateOrganism = (input: OrganismInput): Effect.Effect<OrganismResult, OrganismError> =>
  Effect.try({
    try: () => buildOrganism(input),
    catch: (e) => new OrganismError({ reason: e instanceof Error ? e.message : String(e) })
  })

/** Name of the ground-truth file `writeOrganism` puts beside the checkpoint. */
export const GROUND_TRUTH_FILE = "ground_truth.json"

/** Writes the checkpoint files and `ground_truth.json` into `dir` (created if missing). */
export const writeOrganism = (dir: string, result: OrganismResult): Effect.Effect<void, PlatformError, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    yield* fs.makeDirectory(dir, { recursive: true })
    for (const name of Object.keys(result.files).sort()) yield* fs.writeFile(path.join(dir, name), result.files[name]!)
    yield* fs.writeFile(path.join(dir, GROUND_TRUTH_FILE), json(result.groundTruth))
  })
