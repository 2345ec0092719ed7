/**
 * The planted-preference model organism: a deterministic generator of a Hugging Face Llama checkpoint whose
 * preferences are constructed, not trained, and the ground truth every analysis can be checked against. The checkpoint
 * depends on its spec, seed and task sets only; the ground truth is computed for an experiment's questions and
 * personas from the words of the prompts they render. How the weights work is described in `organism/Weights.ts`; the
 * closed forms and their approximation in `organism/Truth.ts`.
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
  conversationWords,
  type ExpectedAnswer,
  type Message,
  type OrganismTemplate,
  type PlantedWords,
  readPrompt,
  reliabilityOf
} from "./organism/Truth"
import { normals, streamFor } from "./organism/Random"
import { plantValences, type PlantedValences } from "./organism/Valence"
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
import { ABS_SHARPNESS, buildWeights, type OrganismDims } from "./organism/Weights"
import { writeTensors } from "./Safetensors"

export type { OrganismTemplate, ExpectedAnswer, Message } from "./organism/Truth"

/** A task the organism is built over. */
export interface OrganismTask {
  readonly task_id: string
  readonly origin: string
  readonly prompt: string
}

/** What the generator needs: the organism depends on its spec, its seed and its task sets, nothing else. */
export interface OrganismInput {
  /** Defaults to every default of `OrganismSpec`. */
  readonly spec?: OrganismSpec
  /** Overrides `spec.seed`. */
  readonly seed?: number
  /** The task sets: their words enter the vocabulary, and valences are planted over exactly these tasks. */
  readonly tasks: ReadonlyArray<OrganismTask>
}

/** A built organism: the checkpoint folder's files and what the ground truth is computed from. */
export interface BuiltOrganism {
  readonly files: Readonly<Record<string, Uint8Array>>
  readonly spec: OrganismSpec
  readonly tasks: ReadonlyArray<OrganismTask>
  readonly planted: PlantedWords
  readonly valences: PlantedValences
  readonly slopes: Slopes
  readonly dims: OrganismDims
  /** R·e_V: the planted direction in the residual. */
  readonly direction: Float64Array
}

/** An experiment persona: its id and the system prompt its conversations start with. */
export interface PersonaPrompt {
  readonly id: string
  readonly system: string
}

/** What the ground truth is computed for: the experiment's templates and personas, and how it renders a question. */
export interface TruthInput<T extends OrganismTemplate> {
  readonly templates: ReadonlyArray<T>
  readonly personas: ReadonlyArray<PersonaPrompt>
  /**
   * The messages that ask `template` about `task` under a system prompt, as the elicitation renders them (a post-task
   * question after an empty completion; a revealed template with the task in both places).
   */
  readonly conversation: (template: T, task: OrganismTask, system: string) => ReadonlyArray<Message>
  /** The tasks `contentShare` is computed over (the experiment's sample); every task when absent. */
  readonly sample?: ReadonlyArray<string>
}

/** The planted truth: task valences, expected answers, the planted direction per layer, reliabilities and slopes. */
export interface OrganismGroundTruth {
  /**
   * `valence` is what answers read; `within` is its within-dataset part, the part the planted direction carries. The
   * rest, valence − within, is the dataset part: a constant a_o for every task of origin o that is `marked` (holds one
   * of its own words: topical words found in no other origin's tasks), 0 otherwise. It reaches the answers through
   * per-dataset features orthogonal to the direction (see organism/Weights.ts and organism/Valence.ts).
   */
  readonly tasks: ReadonlyArray<{ task_id: string; origin: string; valence: number; within: number; marked: boolean }>
  /** One row per task, template (revealed included, ranking not) and experiment persona. */
  readonly expected: ReadonlyArray<ExpectedAnswer>
  /**
   * Unit vector carrying the within-dataset part of valence (and a direction persona's shift) in the residual after
   * block `layer` (0-based): ×signal after the first planted block, ×signal × the question's scale after the later ones.
   */
  readonly directions: ReadonlyArray<{ layer: number; vector: number[] }>
  readonly reliability: {
    /** The spec's target, met exactly by the spec's calibration question asked at `timing` with no system prompt. */
    readonly target: number
    readonly timing: "pre" | "post"
    readonly question: string
  }
  /**
   * Per template and experiment persona: the answer mode the question's keywords switch on, its scale (answers read
   * valence × signal × scale, the scale being 1 plus the emphasis of the prompt's words, averaged over tasks; 1 for
   * revealed templates, whose choices read the valence difference directly), the single-sample cross-seed reliability
   * of its answers over every task (null for revealed templates), and `contentShare`.
   * `contentShare` is the fraction of the variance of the expected answers (utilities for revealed templates) over the
   * sampled tasks that their content part explains: 1 − Σ(y − c)² / Σ(y − ȳ)², where c is the mean expected answer of
   * the task's cell (its origin, and whether it is marked) over every task of the task sets. The cell is all that the
   * words of a task shared with other tasks tell about its valence: within a cell, valence varies only through the
   * task's own content words, found in no other task. So it is the ceiling of any content-only model under folds
   * grouped by task: on the expected answers (option probabilities) a model that tells each task's origin and mark
   * from its words reaches it; on targets averaging m sampled answers, contentShare × their reliability
   * Var(E)/(Var(E) + E[Var]/m); a bag-of-words model falls short of it by as much as it misreads origins.
   */
  readonly templates: ReadonlyArray<{
    template_id: string
    persona_id: string
    mode: string
    scale: number
    reliability: number | null
    contentShare: number
  }>
  /** Per experiment persona, the planted persona its system prompt switches on (null and {} when none). */
  readonly personas: ReadonlyArray<{
    id: string
    keyword: string | null
    channel: "direction" | "behaviour" | null
    shifts: Readonly<Record<string, number>>
  }>
  /** Readout slopes: P(good | good or bad) = σ(beta·signal·valence); P(Task A) = σ(revealed·(valence A − valence B)). */
  readonly slopes: Slopes
  /** Valence gain on the planted direction after pre- and post-task prompts. */
  readonly signal: { readonly pre: number; readonly post: number }
  /** Realised mean task valence per origin. */
  readonly originMeans: Readonly<Record<string, number>>
  readonly seed: number
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

/** The calibration question's messages for a task. */
const calibrationMessages = (spec: OrganismSpec, task: OrganismTask): Message[] =>
  spec.calibrationTiming === "post"
    ? [{ role: "user", content: task.prompt }, { role: "assistant", content: "" }, { role: "user", content: spec.calibrationQuestion }]
    : [{ role: "user", content: `${spec.calibrationQuestion}\n\n${task.prompt}` }]

/** Builds the organism synchronously; throws on invalid input (see `generateOrganism`). */
export const buildOrganism = (input: OrganismInput): BuiltOrganism => {
  const base = input.spec ?? defaultOrganismSpec()
  const spec = input.seed === undefined ? base : OrganismSpec.make({ ...base, seed: input.seed })
  if (input.tasks.length === 0) throw new Error("buildOrganism: tasks is empty")
  const vocab = buildVocabulary(input.tasks.map((t) => t.prompt), spec.personas.map((p) => p.keyword))
  const taskWords = input.tasks.map((t) => ({ origin: t.origin, words: splitWords(t.prompt) }))
  const valences = plantValences(spec.seed, taskWords, vocab.content, vocab.topical, spec.originMeans, spec.spread, spec.personas.map((p) => p.shifts))
  const emphasis = new Map(
    [...vocab.emphasized].sort().map((w) => [w, (spec.templateSpread * normals(streamFor(spec.seed, `emphasis:${w}`), 1)[0]!) / Math.sqrt(8)])
  )
  const planted: PlantedWords = {
    vocab,
    wordValence: valences.word,
    emphasis,
    own: valences.own,
    centre: valences.centre,
    shift: valences.shift,
    personaShift: valences.personaShift,
    personaChannel: spec.personas.map((p) => p.channel),
    preSignal: spec.preSignal,
    postSignal: spec.postSignal
  }
  const calibration = input.tasks.map((t) => readPrompt(planted, conversationWords(calibrationMessages(spec, t))))
  if (calibration[0]!.mode !== "qualitative")
    throw new Error(`buildOrganism: calibrationQuestion must ask for good or bad (it switches on ${calibration[0]!.mode} answers)`)
  const beta = calibrateBeta(calibration.map((r) => r.value), spec.targetReliability)
  const slopes: Slopes = {
    beta,
    stated: spec.statedBeta * beta,
    concentration: spec.statedConcentration,
    revealed: spec.revealedBeta * beta,
    open: spec.openBeta * beta,
    neutralBias: spec.neutralBias,
    endBias: endBiasFor(spec.endHazard),
    endAbs: endAbsFor(spec.openBeta * beta, valences.task.map((v) => v * spec.preSignal), ABS_SHARPNESS)
  }
  const weights = buildWeights(spec, vocab, valences.word, emphasis, slopes, valences)
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
  return { files, spec, tasks: input.tasks, planted, valences, slopes, dims, direction: weights.direction }
}

const mean = (xs: ReadonlyArray<number>) => xs.reduce((a, b) => a + b, 0) / xs.length

/** 1 − Σ(y − c)²/Σ(y − ȳ)² over `rows`, c the mean of y over every task of the same cell. */
const contentShareOf = (y: ReadonlyArray<number>, cells: ReadonlyArray<string>, rows: ReadonlyArray<number>): number => {
  const sums = new Map<string, { sum: number; n: number }>()
  y.forEach((v, i) => {
    const c = sums.get(cells[i]!) ?? { sum: 0, n: 0 }
    sums.set(cells[i]!, { sum: c.sum + v, n: c.n + 1 })
  })
  const grand = mean(rows.map((i) => y[i]!))
  let residual = 0
  let total = 0
  for (const i of rows) {
    const c = sums.get(cells[i]!)!
    residual += (y[i]! - c.sum / c.n) ** 2
    total += (y[i]! - grand) ** 2
  }
  return total === 0 ? 0 : 1 - residual / total
}

/**
 * The ground truth of a built organism for an experiment's templates and personas: every expected answer is computed
 * from the words of the very prompt the elicitation renders. Throws on a system prompt that switches on several
 * planted personas.
 */
export const groundTruthOf = <T extends OrganismTemplate>(built: BuiltOrganism, input: TruthInput<T>): OrganismGroundTruth => {
  const { spec, tasks, planted, valences, slopes } = built
  const originIndex = new Map(valences.origins.map((o, i) => [o, i]))
  const cells = tasks.map((t, i) => `${t.origin}\u0000${valences.marked[i]}`)
  const sampled = new Set(input.sample ?? tasks.map((t) => t.task_id))
  const rows = tasks.flatMap((t, i) => (sampled.has(t.task_id) ? [i] : []))
  if (rows.length === 0) throw new Error("groundTruthOf: none of the sampled tasks is among the organism's tasks")
  const personas = input.personas.map((persona) => {
    const words = new Set(splitWords(persona.system))
    const on = spec.personas.filter((p) => words.has(p.keyword.toLowerCase()))
    if (on.length > 1)
      throw new Error(`groundTruthOf: the system prompt of persona "${persona.id}" holds the keywords of ${on.length} planted personas (${on.map((p) => p.keyword).join(", ")}); plant one per system prompt`)
    const p = on[0]
    return { id: persona.id, keyword: p?.keyword ?? null, channel: p?.channel ?? null, shifts: p?.shifts ?? {} }
  })
  const expected: ExpectedAnswer[] = []
  const templates: Array<OrganismGroundTruth["templates"][number]> = []
  for (const t of input.templates) {
    if (t.kind === "ranking") continue
    for (const persona of input.personas) {
      const readings = tasks.map((task) => readPrompt(planted, conversationWords(input.conversation(t, task, persona.system))))
      if (t.kind === "revealed") {
        // Choices read each span's own valence and its origin's persona shifts, not the rest of the prompt.
        const utilities = tasks.map((task, i) => {
          const o = originIndex.get(task.origin)!
          const personaShift = valences.marked[i]
            ? readings[i]!.presence.reduce((a, on, p) => a + on * valences.personaShift[p]![o]!, 0)
            : 0
          return slopes.revealed * (valences.task[i]! + personaShift)
        })
        utilities.forEach((u, i) =>
          expected.push({ task_id: tasks[i]!.task_id, template_id: t.id, persona_id: persona.id, expected_value: u, p_top: null })
        )
        templates.push({ template_id: t.id, persona_id: persona.id, mode: "revealed", scale: 1, reliability: null, contentShare: contentShareOf(utilities, cells, rows) })
        continue
      }
      const moments = readings.map((r) => answerMoments(r.mode, r.value, t, slopes))
      moments.forEach((m, i) =>
        expected.push({ task_id: tasks[i]!.task_id, template_id: t.id, persona_id: persona.id, expected_value: m.mean, p_top: m.pTop })
      )
      templates.push({
        template_id: t.id,
        persona_id: persona.id,
        mode: readings[0]!.mode,
        scale: mean(readings.map((r) => r.scale)),
        reliability: reliabilityOf(moments),
        contentShare: contentShareOf(moments.map((m) => m.mean), cells, rows)
      })
    }
  }
  const originMeans: Record<string, number> = {}
  for (const o of valences.origins) originMeans[o] = mean(tasks.flatMap((t, i) => (t.origin === o ? [valences.task[i]!] : [])))
  const vector = Array.from(built.direction)
  return {
    tasks: tasks.map((t, i) => ({ task_id: t.task_id, origin: t.origin, valence: valences.task[i]!, within: valences.within[i]!, marked: valences.marked[i]! })),
    expected,
    directions: Array.from({ length: built.dims.layers - spec.plantedLayer }, (_, i) => ({ layer: spec.plantedLayer + i, vector })),
    reliability: { target: spec.targetReliability, timing: spec.calibrationTiming, question: spec.calibrationQuestion },
    templates,
    personas,
    slopes,
    signal: { pre: spec.preSignal, post: spec.postSignal },
    originMeans,
    seed: spec.seed
  }
}

/** Generates the organism checkpoint; invalid inputs fail with `OrganismError`. */
export const generateOrganism = (input: OrganismInput): Effect.Effect<BuiltOrganism, OrganismError> =>
  Effect.try({
    try: () => buildOrganism(input),
    catch: (e) => new OrganismError({ reason: e instanceof Error ? e.message : String(e) })
  })

/** Computes the ground truth of a built organism; invalid inputs fail with `OrganismError`. */
export const generateGroundTruth = <T extends OrganismTemplate>(
  built: BuiltOrganism,
  input: TruthInput<T>
): Effect.Effect<OrganismGroundTruth, OrganismError> =>
  Effect.try({
    try: () => groundTruthOf(built, input),
    catch: (e) => new OrganismError({ reason: e instanceof Error ? e.message : String(e) })
  })

/** Name of the ground-truth file `writeOrganism` puts beside the checkpoint. */
export const GROUND_TRUTH_FILE = "ground_truth.json"

/** Writes the checkpoint files and, given one, `ground_truth.json` into `dir` (created if missing). */
export const writeOrganism = (
  dir: string,
  files: Readonly<Record<string, Uint8Array>>,
  truth?: OrganismGroundTruth
): Effect.Effect<void, PlatformError, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    yield* fs.makeDirectory(dir, { recursive: true })
    for (const name of Object.keys(files).sort()) yield* fs.writeFile(path.join(dir, name), files[name]!)
    if (truth !== undefined) yield* fs.writeFile(path.join(dir, GROUND_TRUTH_FILE), json(truth))
  })
