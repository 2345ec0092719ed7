/**
 * Hand-set Llama weights that carry the planted preferences. Everything is first written in a basis where a few
 * residual coordinates have a meaning (`Channel`), then every residual-side vector is rotated by a seeded Hadamard
 * rotation R (every entry ±1/√d, so each channel is spread evenly over the coordinates and a probe on standardized
 * activations is not pulled towards the channels that do not vary). Norm weights are uniform (C/√d), so RMSNorm
 * commutes with R, and because every token embedding holds the large constant C (`spec.constant`), each norm is the
 * identity up to a relative error of order ‖rest‖²/2C² (about 1e-4).
 * C is a compromise: larger keeps the norms closer to the identity when `contentGain` is large, but float32 rounding
 * of C·R leaks into every channel, the keyword counts multiply what leaks from the BOS sink by SINK, and steering in
 * units of the residual norm (which C dominates) grows with C.
 *
 * Valence splits in two (see Valence.ts). Its within-dataset part (the mean of the content words' draws, plus c_o on
 * prompts marked with origin o) is what V carries, the planted direction. Its dataset part (a_o on marked prompts)
 * reaches the answers through one feature per origin (ORIGIN_o = datasetGain·a_o when marked), which every valence
 * reader adds back. So the ratings' dataset offsets are not read off the probed direction: a probe trained without a
 * dataset has never seen that dataset's feature vary and misses its offset (held-one-out mean-adjusted R² above
 * standard R²), while with equal means there are no such features. The planted block writes the content features
 * (topics, the prefix mean of the noise features) with `contentGain`; raised, directions orthogonal to valence vary
 * across tasks as much as valence does (see OrganismSpec).
 *
 * Block P−1: one head marks the prompt's origin (MARK_o = 1 when it holds one of origin o's own words); one measures
 * which planted personas are on (each one's share of the prompt's persona keywords). Its MLP multiplies presence by
 * mark into a persona's shift (×preSignal): on V for a direction persona, on BEHAVIOUR for a behaviour persona, which
 * every valence reader adds and nothing else reads; at each own word it writes the word's origin's shift into
 * TASK_SHIFT for the revealed-choice heads.
 * Planted block P: one head averages the word draws of the content words into V (×preSignal); one counts keywords
 * against a BOS sink (good/bad, neutral, rate/10, <|assistant|>, the Task A:/Task B: labels) and sums the emphasis of
 * the emphasized words (common words no task uses); one measures how many sentiment words have been said. Its MLP
 * turns the marks into the dataset parts (c_o on V, datasetGain·a_o on ORIGIN_o) and erases them, multiplies V,
 * BEHAVIOUR and the dataset parts by postSignal/preSignal once the prompt holds two assistant turns (a post-task
 * question), and switches "neutral" on when the prompt holds it.
 * Block P+1: two heads average the word draws of task A's span and of task B's into D_AB, two more add each span's
 * dataset part and persona shift; its MLP multiplies V, BEHAVIOUR and the dataset features by the question's scale
 * (1 + EMPH), and writes ≈|valence| for the end token. Output: an answer class (good/bad/neutral, 1-10, Task A:/Task
 * B:) gains 60 logits per keyword beyond 1.5, so two of its keywords switch it on; within a class the logits follow
 * `Readout`; an emitted answer token makes the end token next; otherwise sentiment words follow V and the end token
 * keeps a hazard that grows with length. Other blocks only stir the noise dimensions.
 */
import type { OrganismSpec } from "../OrganismSpec"
import { normals, randomHadamard, streamFor } from "./Random"
import { readoutOf, type Slopes } from "./Readout"
import { ASSISTANT, BOS, DIGITS, LABELS, QUALITATIVE_WORDS, RATE_WORDS, type Vocabulary } from "./Vocabulary"
import type { Dimensions } from "../Checkpoint"

/** Residual coordinates (before rotation). */
export const Channel = {
  CONST: 0,
  /** a content word's valence divided by W_SCALE */
  W: 1,
  /** 1 on content words: what the valence head attends to */
  CONTENT: 2,
  /** attention score of the keyword head: 1 on keywords, more on BOS (the sink) */
  KSCORE: 3,
  KW_Q: 4,
  KW_N: 5,
  KW_S: 6,
  KW_A: 7,
  /** +1 on "Task B:", −1 on "Task A:" */
  KW_SPAN: 8,
  KW_LAB: 9,
  /** 1 on answer tokens: once one is emitted the next token is the end token */
  ANSWERED: 10,
  /** the planted valence channel */
  V: 11,
  N_Q: 12,
  N_N: 13,
  N_S: 14,
  N_A: 15,
  /** count of "Task B:" minus count of "Task A:" so far: −1 inside task A's span and 0 inside task B's */
  N_SPAN: 16,
  N_LAB: 17,
  /** valence of task A minus valence of task B (revealed choice) */
  D_AB: 18,
  /**
   * ≈ READOUT_GAIN·|total valence × signal| (x·tanh(ABS_SHARPNESS·x/2)), so the end token can keep pace with the
   * sentiment words' logits; written after the planted layer, where a probe would read it as a second valence feature
   */
  ABS: 19,
  /** attention score of the length head: 1 on sentiment words, more on BOS */
  SSCORE: 20,
  /** 1 on sentiment words */
  SENT: 21,
  /** n/(n + LENGTH_SINK) for n sentiment words so far: the end token's logit grows with it */
  LENGTH: 22,
  /** emphasis of an emphasized word, a common word no task uses (keyed like a keyword, so the keyword head sums it) */
  EMPH_W: 23,
  /** the question's scale minus 1: the sum of the prompt's emphasis */
  EMPH: 24,
  /** first of a content word's own-origin flags: 1 at the origin (sorted) whose tasks alone hold the word */
  OWN: 25,
  /** at most this many origins */
  ORIGIN_COUNT: 5,
  /** first of the dataset features: datasetGain × the origin's dataset part, on prompts marked with that origin */
  ORIGIN: 30,
  /**
   * first of the marks: 1 when the prompt holds one of the origin's own words. Written by the block before the
   * planted one and removed by the planted block's MLP, so no probe at a planted layer sees a dataset-identity
   * feature that a held-out dataset alone would switch on.
   */
  MARK: 35,
  /** attention score of the marking heads: 1 on own words, half that on BOS */
  OSCORE: 40,
  /** STORE when the prompt holds "neutral" (a step on its count), else 0: what switches neutral on */
  TERNARY: 41,
  /** first of the topic features the valence head averages over content words */
  TOPIC: 42,
  TOPIC_COUNT: 3,
  /**
   * the behaviour channel: READOUT_GAIN × a behaviour persona's valence shift (×signal), which every answer reader
   * adds to valence and nothing else reads
   */
  BEHAVIOUR: 45,
  /**
   * on an own word, the shift of its origin under the personas that are on (valence units): the revealed-choice span
   * heads average it over each span. Written by the block before the planted one, erased by the block after it.
   */
  TASK_SHIFT: 46,
  /** first of the persona keyword flags: 1 on the keyword of persona p */
  PERSONA: 47,
  PERSONA_COUNT: 4,
  /**
   * first of the persona presences (the share of the prompt's persona keywords that are persona p's): written by the
   * block before the planted one into the count channels, which only the planted block fills, and erased by its MLP
   */
  PRESENCE: 12,
  /** first of the noise features, averaged over the whole prefix by the mixing heads */
  NOISE: 51
} as const


// Word valences are stored small so that they barely change a token's norm: the matching heads' scores are λ·(norm
// factor), and a norm factor that tracked the valence would weight the averages by valence.
const W_SCALE = 10
const HEAD_DIM = 16
// The lowest-frequency rotary pair of a 16-wide head is (7, 15); matching features sit there so scores barely
// depend on distance (angle ≤ 4096·θ^(-7/8) ≈ 0.02 rad at θ = 1e6).
const MATCH_A = 7
const MATCH_B = 15
const LAMBDA = 20
/** Weight of the BOS sink relative to one keyword: the keyword head's outputs are counts ×SINK/(SINK + keywords). */
export const SINK = 1e3
const MARGIN = 20
// The span heads that read each task's dataset part: own words score λ + OWN_BONUS above a span's other words (so
// ≥ 300 other words shift the mark by < 1e-4), and the other span sits OWN_MARGIN lower.
const OWN_BONUS = 15
const OWN_MARGIN = 40
const MODE_GAIN = 60
const OTHER_PENALTY = 30
const TERNARY_GAIN = 40
const ANSWERED_END = 40
const ANSWERED_BLOCK = 200
// The post-task gate is silu(G) − silu(G − STEP_WIDTH) with G = STEP_SLOPE·(assistant count − 1.5): ≈ 0 for one
// assistant turn and ≈ STEP_WIDTH for two or more.
const STEP_SLOPE = 100
const STEP_WIDTH = 20
const NOISE_UNITS = 16
// silu is linear to within e^-20 above this offset, so silu(G + x) − silu(G) = x for the template-scale units.
const SCALE_OFFSET = 20
// silu(SCALE_OFFSET): a unit whose gate is held at SCALE_OFFSET is linear in its up projection with this slope.
const LINEAR = SCALE_OFFSET / (1 + Math.exp(-SCALE_OFFSET))
// The length head weighs BOS like LENGTH_SINK sentiment words; the end logit gains LENGTH_GAIN·n/(n + LENGTH_SINK),
// so an answer of a few dozen words almost surely ends.
const LENGTH_SINK = 10
const LENGTH_GAIN = 3
// LENGTH, ABS and BEHAVIOUR track valence: written this much larger (and read back divided by it), they get small
// raw-space weights in a probe, as content does, and a push along them (a random steering control's share of them)
// moves the answers that much less.
const READOUT_GAIN = 10
// Switch-like channels (the answered flag, keyword counts, emphasis, the revealed difference) are stored
// this many times larger and read back as much smaller, so a push of a fraction of a unit along a random direction
// (a steering control) moves their readouts' logits by a few tenths instead of tens.
const STORE = 10
/** Sharpness a of the |V| units: silu(aV) + silu(−aV) = aV·tanh(aV/2). */
export const ABS_SHARPNESS = 10

/** One float32 tensor in Hugging Face layout ([out, in] for linear weights). */
export interface NamedTensor {
  readonly name: string
  readonly shape: ReadonlyArray<number>
  readonly data: Float32Array
}

/** Dimensions of the built model (those of a loaded checkpoint, less what the checkpoint config decides). */
export type OrganismDims = Omit<Dimensions, "maxPositions" | "qkvBias">

/** Built weights, the rotation and the planted direction (R·e_V). */
export interface OrganismWeights {
  readonly dims: OrganismDims
  readonly tensors: ReadonlyArray<NamedTensor>
  readonly direction: Float64Array
}

/**
 * The dataset parts (see organism/Valence.ts): each own word's origin, per origin c_o and a_o, and per persona and
 * origin the shift of a marked task.
 */
export interface DatasetParts {
  readonly own: ReadonlyMap<string, number>
  readonly centre: ReadonlyArray<number>
  readonly shift: ReadonlyArray<number>
  readonly personaShift: ReadonlyArray<ReadonlyArray<number>>
}

/** Dimensions implied by a spec and a vocabulary size. */
export const dimsOf = (spec: OrganismSpec, vocab: number): OrganismDims => ({
  hidden: spec.hiddenSize,
  intermediate: 2 * spec.hiddenSize,
  heads: spec.hiddenSize / HEAD_DIM,
  kvHeads: 2,
  headDim: HEAD_DIM,
  layers: spec.layers,
  vocab
})

// A dense row-major matrix in the basis; `rotateRows` / `rotateCols` map its residual side through R.
interface Mat {
  readonly rows: number
  readonly cols: number
  readonly a: Float64Array
}
const mat = (rows: number, cols: number): Mat => ({ rows, cols, a: new Float64Array(rows * cols) })
const set = (m: Mat, r: number, c: number, v: number) => {
  m.a[r * m.cols + c] = v
}

// Each row is a residual-space vector (embedding, reader rows): row ← R·row.
const rotateRows = (m: Mat, rot: Float64Array): Float32Array => {
  const d = m.cols
  const out = new Float32Array(m.rows * d)
  for (let r = 0; r < m.rows; r++) {
    for (let i = 0; i < d; i++) {
      let s = 0
      for (let k = 0; k < d; k++) s += rot[i * d + k]! * m.a[r * d + k]!
      out[r * d + i] = s
    }
  }
  return out
}

// Each column is a residual-space vector (writer matrices of shape [d, n]): W ← R·W.
const rotateCols = (m: Mat, rot: Float64Array): Float32Array => {
  const d = m.rows
  const out = new Float32Array(d * m.cols)
  for (let i = 0; i < d; i++) {
    for (let c = 0; c < m.cols; c++) {
      let s = 0
      for (let k = 0; k < d; k++) s += rot[i * d + k]! * m.a[k * m.cols + c]!
      out[i * m.cols + c] = s
    }
  }
  return out
}

/**
 * Builds every tensor of the checkpoint. `wordValence` holds the valence of each content word, `emphasis` that of
 * each emphasized word.
 */
export const buildWeights = (
  spec: OrganismSpec,
  vocab: Vocabulary,
  wordValence: ReadonlyMap<string, number>,
  emphasis: ReadonlyMap<string, number>,
  slopes: Slopes,
  origins: DatasetParts
): OrganismWeights => {
  if (origins.shift.length > Channel.ORIGIN_COUNT)
    throw new Error(`buildWeights: the organism holds at most ${Channel.ORIGIN_COUNT} task origins, got ${origins.shift.length}`)
  if (spec.personas.length > Channel.PERSONA_COUNT)
    throw new Error(`buildWeights: the organism holds at most ${Channel.PERSONA_COUNT} personas, got ${spec.personas.length}`)
  const dims = dimsOf(spec, vocab.tokens.length)
  const { hidden: d, intermediate: ff, heads, headDim: hd, layers } = dims
  if (spec.plantedLayer < 1 || spec.plantedLayer > layers - 2)
    throw new Error(`buildWeights: plantedLayer ${spec.plantedLayer} needs a block before it (which marks the prompt's dataset) and one after it, but layers is ${layers}`)
  const group = heads / dims.kvHeads
  const C = spec.constant
  const sqrtHd = Math.sqrt(hd)
  const noiseDims = d - Channel.NOISE
  // The mixing heads carry one value dimension per noise feature (the last one is the length head's). The noise MLPs
  // write only those, so any other noise dimensions hold the last token's own features and do not vary with the task.
  const mixedDims = Math.min(hd - 1, noiseDims)
  // A token's random features: the topic channels, then the noise channels.
  const featureDims = Channel.TOPIC_COUNT + noiseDims
  const featureChannel = (i: number) => (i < Channel.TOPIC_COUNT ? Channel.TOPIC + i : Channel.NOISE + i - Channel.TOPIC_COUNT)
  const rot = randomHadamard(streamFor(spec.seed, "rotation"), d)
  const tensors: NamedTensor[] = []
  const push = (name: string, m: Mat, side: "rows" | "cols") =>
    tensors.push({ name, shape: [m.rows, m.cols], data: side === "rows" ? rotateRows(m, rot) : rotateCols(m, rot) })
  const uniformNorm = () => Float32Array.from({ length: d }, () => C / Math.sqrt(d))
  // After the planted block, total valence (×signal) = V + preSignal·Σ_o ORIGIN_o/datasetGain + BEHAVIOUR/READOUT_GAIN:
  // V holds the within-dataset part (and a direction persona's shift) only.
  const readValence = (m: Mat, row: number, coefficient: number, behaviour = true) => {
    set(m, row, Channel.V, coefficient)
    if (behaviour) set(m, row, Channel.BEHAVIOUR, coefficient / READOUT_GAIN)
    origins.shift.forEach((a, o) => set(m, row, Channel.ORIGIN + o, a === 0 ? 0 : (coefficient * spec.preSignal) / spec.datasetGain))
  }
  const personaIndex = new Map(vocab.keywords.map((k, p) => [k, p]))

  const embed = mat(dims.vocab, d)
  vocab.tokens.forEach((token, t) => {
    set(embed, t, Channel.CONST, C)
    const feats = normals(streamFor(spec.seed, `token:${token}`), featureDims)
    for (let i = 0; i < featureDims; i++) set(embed, t, featureChannel(i), (spec.featureScale * feats[i]!) / Math.sqrt(featureDims))
    if (vocab.content.has(token)) {
      set(embed, t, Channel.CONTENT, 1)
      set(embed, t, Channel.W, (wordValence.get(token) ?? 0) / W_SCALE)
    }
    const o = origins.own.get(token)
    if (o !== undefined) {
      set(embed, t, Channel.OWN + o, 1)
      set(embed, t, Channel.OSCORE, 1)
    }
    const persona = personaIndex.get(token)
    if (persona !== undefined) set(embed, t, Channel.PERSONA + persona, 1)
    const keyword = (channel: number) => {
      set(embed, t, Channel.KSCORE, 1)
      set(embed, t, channel, 1)
    }
    if (token === QUALITATIVE_WORDS.good || token === QUALITATIVE_WORDS.bad) keyword(Channel.KW_Q)
    if (token === QUALITATIVE_WORDS.neutral) keyword(Channel.KW_N)
    if ((RATE_WORDS as ReadonlyArray<string>).includes(token) || token === "10") keyword(Channel.KW_S)
    if (token === ASSISTANT) keyword(Channel.KW_A)
    if (token === LABELS[0] || token === LABELS[1]) keyword(Channel.KW_LAB)
    if (token === LABELS[0]) set(embed, t, Channel.KW_SPAN, -1)
    if (token === LABELS[1]) set(embed, t, Channel.KW_SPAN, 1)
    const e = emphasis.get(token)
    if (e !== undefined) {
      set(embed, t, Channel.KSCORE, 1)
      set(embed, t, Channel.EMPH_W, e)
    }
    if (token === BOS) {
      set(embed, t, Channel.OSCORE, 0.5)
      set(embed, t, Channel.KSCORE, 1 + Math.log(SINK) / LAMBDA)
      set(embed, t, Channel.SSCORE, 1 + Math.log(LENGTH_SINK) / LAMBDA)
    }
    if (readoutOf(token, slopes).mode === "open") {
      set(embed, t, Channel.SSCORE, 1)
      set(embed, t, Channel.SENT, 1)
    }
    if (Object.values(QUALITATIVE_WORDS).includes(token as never) || DIGITS.includes(token) || (LABELS as ReadonlyArray<string>).includes(token))
      set(embed, t, Channel.ANSWERED, STORE)
  })
  push("model.embed_tokens.weight", embed, "rows")

  // Head h of group g reads key/value head g; heads 0 and 1 share key/value head 0, head `group` reads head 1.
  const qRow = (head: number, i: number) => head * hd + i
  const kvRow = (kv: number, i: number) => kv * hd + i
  const noiseMixer = (v: Mat, o: Mat, gain: number) => {
    // q = k = 0 gives uniform attention: the prefix mean of the noise features, added back onto them.
    for (let i = 0; i < mixedDims; i++) {
      set(v, kvRow(1, i), Channel.NOISE + i, 1)
      set(o, Channel.NOISE + i, qRow(group, i), gain)
    }
  }
  const noiseMlp = (layer: number, gate: Mat, up: Mat, down: Mat, first: number) => {
    const prng = streamFor(spec.seed, `mlp:${layer}`)
    // From the planted block on, the noise features are about contentGain times larger: read and write them to scale.
    const scale = layer >= spec.plantedLayer ? spec.featureScale * spec.contentGain : spec.featureScale
    for (let u = first; u < first + NOISE_UNITS; u++) {
      const g = normals(prng, noiseDims)
      const h = normals(prng, noiseDims)
      const o = normals(prng, noiseDims)
      for (let i = 0; i < noiseDims; i++) {
        set(gate, u, Channel.NOISE + i, (g[i]! * Math.sqrt(featureDims)) / (scale * Math.sqrt(noiseDims)))
        set(up, u, Channel.NOISE + i, (h[i]! * Math.sqrt(featureDims)) / (scale * Math.sqrt(noiseDims)))
        if (i < mixedDims) set(down, Channel.NOISE + i, u, (0.3 * scale * o[i]!) / Math.sqrt(NOISE_UNITS * noiseDims))
      }
    }
  }

  for (let layer = 0; layer < layers; layer++) {
    const p = `model.layers.${layer}.`
    const q = mat(heads * hd, d)
    const k = mat(dims.kvHeads * hd, d)
    const v = mat(dims.kvHeads * hd, d)
    const o = mat(d, heads * hd)
    const gate = mat(ff, d)
    const up = mat(ff, d)
    const down = mat(d, ff)
    if (layer !== spec.plantedLayer + 1) noiseMixer(v, o, layer === spec.plantedLayer ? spec.contentGain : 1)
    let firstNoiseUnit = 0
    if (layer === spec.plantedLayer) {
      // Head 0 averages content words: score λ on content words, 0 elsewhere.
      set(q, qRow(0, MATCH_A), Channel.CONST, (LAMBDA * sqrtHd) / C)
      set(k, kvRow(0, MATCH_A), Channel.CONTENT, 1)
      // Head 1 counts keywords against the BOS sink.
      set(q, qRow(1, MATCH_B), Channel.CONST, (LAMBDA * sqrtHd) / C)
      set(k, kvRow(0, MATCH_B), Channel.KSCORE, 1)
      const values = [Channel.W, Channel.KW_Q, Channel.KW_N, Channel.KW_S, Channel.KW_A, Channel.KW_SPAN, Channel.KW_LAB]
      set(v, kvRow(0, hd - 1), Channel.EMPH_W, 1)
      set(o, Channel.EMPH, qRow(1, hd - 1), SINK * STORE)
      values.forEach((ch, i) => set(v, kvRow(0, i), ch, 1))
      for (let i = 0; i < Channel.TOPIC_COUNT; i++) {
        const dim = values.length + i
        set(v, kvRow(0, dim), Channel.TOPIC + i, 1)
        set(o, Channel.TOPIC + i, qRow(0, dim), spec.contentGain)
      }
      set(o, Channel.V, qRow(0, 0), W_SCALE * spec.preSignal)
      // Head `group + 1` (on key/value head 1, whose last dimension the noise mixer leaves free) measures length.
      set(q, qRow(group + 1, MATCH_B), Channel.CONST, (LAMBDA * sqrtHd) / C)
      set(k, kvRow(1, MATCH_B), Channel.SSCORE, 1)
      set(v, kvRow(1, hd - 1), Channel.SENT, 1)
      set(o, Channel.LENGTH, qRow(group + 1, hd - 1), READOUT_GAIN)
      const counts = [Channel.N_Q, Channel.N_N, Channel.N_S, Channel.N_A, Channel.N_SPAN, Channel.N_LAB]
      counts.forEach((ch, i) => set(o, ch, qRow(1, i + 1), SINK * STORE))
      // Post-task gate: V and BEHAVIOUR ← ×postSignal/preSignal once two assistant turns are in the prompt.
      const gain = spec.postSignal / spec.preSignal - 1
      // A step pair on a keyword count: silu(G) − silu(G − STEP_WIDTH), G = STEP_SLOPE·(count − threshold).
      const countStep = (unit: number, count: number, threshold: number, shift: number) => {
        set(gate, unit, count, STEP_SLOPE / STORE)
        set(gate, unit, Channel.CONST, (-threshold * STEP_SLOPE - shift) / C)
      }
      const postStep = (unit: number, shift: number) => countStep(unit, Channel.N_A, 1.5, shift)
      ;[Channel.V, Channel.BEHAVIOUR].forEach((channel, c) => {
        for (const [unit, shift, sign] of [[2 * c, 0, 1], [2 * c + 1, STEP_WIDTH, -1]] as const) {
          postStep(unit, shift)
          set(up, unit, channel, 1)
          set(down, channel, unit, (sign * gain) / STEP_WIDTH)
        }
      })
      // A marked prompt gains its origin's dataset part: c_o on V (×preSignal), datasetGain·a_o on ORIGIN_o, both
      // ×(1 + gain) after a post-task prompt. One unit with a constant gate is linear in the mark (silu(20)·mark) and
      // also erases the mark; a step pair adds the post-task gain.
      origins.shift.forEach((a, origin) => {
        const first = 4 + 3 * origin
        const write = (unit: number, factor: number) => {
          set(up, unit, Channel.MARK + origin, 1)
          set(down, Channel.V, unit, factor * spec.preSignal * origins.centre[origin]!)
          set(down, Channel.ORIGIN + origin, unit, factor * spec.datasetGain * a)
        }
        set(gate, first, Channel.CONST, SCALE_OFFSET / C)
        write(first, 1 / LINEAR)
        set(down, Channel.MARK + origin, first, -1 / LINEAR)
        for (const [unit, shift, sign] of [[first + 1, 0, 1], [first + 2, STEP_WIDTH, -1]] as const) {
          postStep(unit, shift)
          write(unit, (sign * gain) / STEP_WIDTH)
        }
      })
      const ternaryUnit = 4 + 3 * Channel.ORIGIN_COUNT
      for (const [unit, shift, sign] of [[ternaryUnit, 0, 1], [ternaryUnit + 1, STEP_WIDTH, -1]] as const) {
        countStep(unit, Channel.N_N, 0.5, shift)
        set(up, unit, Channel.CONST, 1 / C)
        set(down, Channel.TERNARY, unit, (sign * STORE) / STEP_WIDTH)
      }
      firstNoiseUnit = ternaryUnit + 2
    }
    if (layer === spec.plantedLayer - 1) {
      // Head 0 marks the prompt's origin: own words score 2λ, BOS λ, everything else 0, so it averages the own-origin
      // flags of the own words (one origin's, in a prompt holding one task) or, with none, reads BOS's zeros.
      set(q, qRow(0, MATCH_A), Channel.CONST, (2 * LAMBDA * sqrtHd) / C)
      set(k, kvRow(0, MATCH_A), Channel.OSCORE, 1)
      for (let i = 0; i < Channel.ORIGIN_COUNT; i++) {
        set(v, kvRow(0, i), Channel.OWN + i, 1)
        set(o, Channel.MARK + i, qRow(0, i), 1)
      }
      // Head 1 measures which personas are on: persona keywords score 2λ and everything else 0, so it averages their
      // flags (each persona's share of the keywords) or, with none, reads the zeros of every token.
      set(q, qRow(1, MATCH_B), Channel.CONST, (2 * LAMBDA * sqrtHd) / C)
      for (let p = 0; p < Channel.PERSONA_COUNT; p++) {
        set(k, kvRow(0, MATCH_B), Channel.PERSONA + p, 1)
        set(v, kvRow(0, Channel.ORIGIN_COUNT + p), Channel.PERSONA + p, 1)
        set(o, Channel.PRESENCE + p, qRow(1, Channel.ORIGIN_COUNT + p), 1)
      }
      // Its MLP multiplies presence by origin with pairs silu(G + presence)·x − silu(G)·x = presence·x (silu is linear
      // above G): by the prompt's marks into V (direction personas) or BEHAVIOUR (×preSignal, so the planted block's
      // post-task gate and the next block's question scale apply to the shift as to valence), and by each own word's
      // flag into TASK_SHIFT for the revealed-choice heads. Then it erases the presences.
      let unit = 0
      const product = (persona: number, reads: number, writes: number, weight: number) => {
        for (const [withPresence, sign] of [[1, 1], [0, -1]] as const) {
          set(gate, unit, Channel.CONST, SCALE_OFFSET / C)
          set(gate, unit, Channel.PRESENCE + persona, withPresence)
          set(up, unit, reads, 1)
          set(down, writes, unit, sign * weight)
          unit++
        }
      }
      spec.personas.forEach((persona, p) => {
        origins.personaShift[p]!.forEach((shift, origin) => {
          if (shift === 0) return
          if (persona.channel === "direction") product(p, Channel.MARK + origin, Channel.V, shift * spec.preSignal)
          else product(p, Channel.MARK + origin, Channel.BEHAVIOUR, READOUT_GAIN * shift * spec.preSignal)
          product(p, Channel.OWN + origin, Channel.TASK_SHIFT, shift)
        })
      })
      for (let p = 0; p < Channel.PERSONA_COUNT; p++, unit++) {
        set(gate, unit, Channel.CONST, SCALE_OFFSET / C)
        set(up, unit, Channel.PRESENCE + p, 1)
        set(down, Channel.PRESENCE + p, unit, -1 / LINEAR)
      }
      firstNoiseUnit = unit
    }
    if (layer === spec.plantedLayer + 1) {
      // V, BEHAVIOUR and each dataset feature gain (silu(G + EMPH) − silu(G))·x ≈ EMPH·x, so everything after this
      // block reads valence × the question's scale off the same channels.
      const scaled = [Channel.V, Channel.BEHAVIOUR, ...origins.shift.flatMap((a, o) => (a === 0 ? [] : [Channel.ORIGIN + o]))]
      scaled.forEach((channel, c) => {
        for (const [unit, reads, sign] of [[2 + 2 * c, 1, 1], [3 + 2 * c, 0, -1]] as const) {
          set(gate, unit, Channel.CONST, SCALE_OFFSET / C)
          set(gate, unit, Channel.EMPH, reads / STORE)
          set(up, unit, channel, 1)
          set(down, channel, unit, sign)
        }
      })
      // |valence| leaves the behaviour channel out: a probe past this block could read a behaviour persona's shift
      // off it, so the end token's hazard keeps the pace of the valence without that shift.
      for (const [unit, sign] of [[0, 1], [1, -1]] as const) {
        readValence(gate, unit, sign * ABS_SHARPNESS, false)
        set(up, unit, Channel.CONST, 1 / C)
        set(down, Channel.ABS, unit, READOUT_GAIN / ABS_SHARPNESS)
      }
      // Erase TASK_SHIFT once the span heads have read it.
      const eraseUnit = 2 + 2 * (2 + Channel.ORIGIN_COUNT)
      set(gate, eraseUnit, Channel.CONST, SCALE_OFFSET / C)
      set(up, eraseUnit, Channel.TASK_SHIFT, 1)
      set(down, Channel.TASK_SHIFT, eraseUnit, -1 / LINEAR)
      firstNoiseUnit = eraseUnit + 1
      // Heads 0 and 1 average the content words of task A's span (span count −1) and of task B's (span count 0), so
      // instructions that name both labels before or after the tasks do not move the spans.
      set(k, kvRow(0, MATCH_A), Channel.CONTENT, 1)
      set(k, kvRow(0, MATCH_B), Channel.N_SPAN, 1 / STORE)
      set(v, kvRow(0, 0), Channel.W, 1)
      for (const [head, sign] of [[0, -1], [1, 1]] as const) {
        set(q, qRow(head, MATCH_A), Channel.CONST, (LAMBDA * sqrtHd) / C)
        set(q, qRow(head, MATCH_B), Channel.CONST, (sign * MARGIN * sqrtHd) / C)
        set(o, Channel.D_AB, qRow(head, 0), -sign * W_SCALE * STORE)
      }
      // Heads `group` and `group + 1` (on key/value head 1) add each span's dataset part and persona shift: own words
      // score λ + OWN_BONUS, so a span holding one reads its origin's flag and its TASK_SHIFT, and one without reads 0s.
      set(k, kvRow(1, MATCH_A), Channel.OSCORE, 1 + OWN_BONUS / LAMBDA)
      set(k, kvRow(1, MATCH_B), Channel.N_SPAN, 1 / STORE)
      for (let i = 0; i < Channel.ORIGIN_COUNT; i++) set(v, kvRow(1, i), Channel.OWN + i, 1)
      set(v, kvRow(1, Channel.ORIGIN_COUNT), Channel.TASK_SHIFT, 1)
      for (const [head, sign] of [[group, -1], [group + 1, 1]] as const) {
        set(q, qRow(head, MATCH_A), Channel.CONST, (LAMBDA * sqrtHd) / C)
        set(q, qRow(head, MATCH_B), Channel.CONST, (sign * OWN_MARGIN * sqrtHd) / C)
        origins.shift.forEach((a, origin) => set(o, Channel.D_AB, qRow(head, origin), -sign * STORE * (a + origins.centre[origin]!)))
        set(o, Channel.D_AB, qRow(head, Channel.ORIGIN_COUNT), -sign * STORE)
      }
    }
    if (firstNoiseUnit + NOISE_UNITS > ff)
      throw new Error(`buildWeights: block ${layer} needs ${firstNoiseUnit + NOISE_UNITS} MLP units, the width holds ${ff}; plant fewer persona shifts or widen the model`)
    noiseMlp(layer, gate, up, down, firstNoiseUnit)
    push(`${p}self_attn.q_proj.weight`, q, "rows")
    push(`${p}self_attn.k_proj.weight`, k, "rows")
    push(`${p}self_attn.v_proj.weight`, v, "rows")
    push(`${p}self_attn.o_proj.weight`, o, "cols")
    push(`${p}mlp.gate_proj.weight`, gate, "rows")
    push(`${p}mlp.up_proj.weight`, up, "rows")
    push(`${p}mlp.down_proj.weight`, down, "cols")
    tensors.push({ name: `${p}input_layernorm.weight`, shape: [d], data: uniformNorm() })
    tensors.push({ name: `${p}post_attention_layernorm.weight`, shape: [d], data: uniformNorm() })
  }
  tensors.push({ name: "model.norm.weight", shape: [d], data: uniformNorm() })

  const head = mat(dims.vocab, d)
  vocab.tokens.forEach((token, t) => {
    const r = readoutOf(token, slopes)
    const constant = (bias: number) => set(head, t, Channel.CONST, bias / C)
    readValence(head, t, r.v)
    set(head, t, Channel.D_AB, r.d / STORE)
    set(head, t, Channel.ABS, r.abs / READOUT_GAIN)
    if (r.mode === undefined) constant(-OTHER_PENALTY)
    else if (r.mode === "end") {
      constant(r.bias)
      set(head, t, Channel.ANSWERED, ANSWERED_END / STORE)
      set(head, t, Channel.LENGTH, LENGTH_GAIN / READOUT_GAIN)
    } else if (r.mode === "open") constant(r.bias)
    else {
      const modeCount = r.mode === "stated" ? Channel.N_S : r.mode === "revealed" ? Channel.N_LAB : Channel.N_Q
      set(head, t, modeCount, MODE_GAIN / STORE)
      set(head, t, Channel.ANSWERED, -ANSWERED_BLOCK / STORE)
      // Neutral shares good/bad's switch and is held TERNARY_GAIN lower unless the prompt holds "neutral": a step,
      // so that no error of the counts (which the sink multiplies by SINK) moves neutral against good and bad.
      const ternary = r.mode === "ternary"
      if (ternary) set(head, t, Channel.TERNARY, TERNARY_GAIN / STORE)
      constant(r.bias - 1.5 * MODE_GAIN - (ternary ? TERNARY_GAIN : 0))
    }
  })
  push("lm_head.weight", head, "rows")

  const direction = new Float64Array(d)
  for (let i = 0; i < d; i++) direction[i] = rot[i * d + Channel.V]!
  return { dims, tensors, direction }
}
