/** The parameters of the planted-preference model organism, with documented defaults. */
import { Schema } from "effect"
import { reservedWords, splitWords } from "./organism/Vocabulary"

const positive = (field: string) => Schema.Number.pipe(Schema.positive({ message: () => `${field} must be positive` }))

/** At most this many planted personas (each takes a residual channel of its own). */
export const MAX_PERSONAS = 4

const reserved = reservedWords()

/**
 * A planted persona: a keyword that switches it on, and how much it shifts the valence of each origin's tasks.
 */
export const PlantedPersona = Schema.Struct({
  /**
   * One word (any case). The persona is on for every prompt that holds it, in practice through a system prompt; when
   * keywords of several personas appear, each is on in proportion to its share of their occurrences. Keywords carry
   * no valence and no emphasis.
   */
  keyword: Schema.String.pipe(
    Schema.filter((k) => {
      if (k.trim() === "") return "keyword must not be empty"
      const words = splitWords(k)
      if (words.length !== 1 || words[0] !== k.toLowerCase()) return `keyword "${k}" must be one word without punctuation or spaces`
      if (reserved.has(words[0]!)) return `keyword "${k}" is an answer or mode word of the organism`
      return true
    })
  ),
  /**
   * `direction`: the shift moves valence along the planted direction itself (a probe trained under another persona
   * tracks it). `behaviour`: it moves every answer (good/bad, ratings, revealed choices, open words) exactly as the
   * same valence shift would, through a channel of its own, leaving the planted direction and everything else a probe
   * reads unchanged (so an open answer's end-of-turn hazard follows valence without the shift).
   */
  channel: Schema.Literal("direction", "behaviour"),
  /**
   * Valence added to every task of an origin while the persona is on (origins not listed: 0). As with `originMeans`,
   * it is given to the tasks the organism can tell apart as that origin's (those holding one of its own words), divided
   * by their share, so that the origin's mean shift over its tasks is exactly this.
   */
  shifts: Schema.optionalWith(Schema.Record({ key: Schema.String, value: Schema.Number }), { default: () => ({}) })
})
/** A planted persona. */
export type PlantedPersona = typeof PlantedPersona.Type

const Personas = Schema.Array(PlantedPersona).pipe(
  Schema.filter((ps) => {
    if (ps.length > MAX_PERSONAS) return `at most ${MAX_PERSONAS} personas, got ${ps.length}`
    const keys = ps.map((p) => p.keyword.toLowerCase())
    const twice = keys.find((k, i) => keys.indexOf(k) !== i)
    return twice === undefined ? true : `keyword "${twice}" is listed twice`
  })
)

/**
 * What the organism plants. Valences are in the organism's own units: a task's latent valence is the mean valence of
 * its content words (its task-specific words: found in no other task of the task sets; common words carry none) plus
 * its dataset part; `originMeans` and `spread` fix the dataset means and the pooled within-dataset standard deviation
 * of those task valences over the tasks it is built from. The planted direction carries the within-dataset part of
 * valence; the dataset means reach the answers through per-dataset features (see organism/Weights.ts), at most five
 * origins.
 */
export class OrganismSpec extends Schema.Class<OrganismSpec>("OrganismSpec")({
  /** Seed of every random draw (word valences, token features, rotation, noise weights). */
  seed: Schema.optionalWith(Schema.Int, { default: () => 0 }),
  /** Dataset-level mean valence per task origin; origins not listed have mean 0. All zero plants no dataset shift. */
  originMeans: Schema.optionalWith(Schema.Record({ key: Schema.String, value: Schema.Number }), {
    default: () => ({ alpaca: 0.4, wildchat: 0.2, math: -0.2, bailbench: -0.8, hh_rlhf_harmless: -0.6 })
  }),
  /** Pooled within-origin standard deviation of the word-determined part of task valence. */
  spread: Schema.optionalWith(Schema.NonNegative, { default: () => 0.5 }),
  /** Gain of valence along the planted direction after a pre-task prompt (and in plain completion mode). */
  preSignal: Schema.optionalWith(positive("preSignal"), { default: () => 1 }),
  /** Gain after a post-task prompt (the model's own completion precedes the question). */
  postSignal: Schema.optionalWith(positive("postSignal"), { default: () => 1.6 }),
  /**
   * Single-sample cross-seed correlation of good/bad answers at temperature 1, on average over the good/bad templates
   * at `calibrationTiming` (a question of scale 1 when there are none); sets β.
   */
  targetReliability: Schema.optionalWith(
    Schema.Number.pipe(Schema.greaterThan(0), Schema.lessThan(1)),
    { default: () => 0.37 }
  ),
  /** Which good/bad question has exactly the target reliability: pre-task, or post-task (the default experiment's). */
  calibrationTiming: Schema.optionalWith(Schema.Literal("pre", "post"), { default: () => "post" as const }),
  /**
   * The reference good/bad question β is calibrated on, asked at `calibrationTiming` with no system prompt (a pre-task
   * question is followed by the task). A question of any other wording reads valence at the scale its own words give
   * it, so its reliability differs from the target by as much.
   */
  calibrationQuestion: Schema.optionalWith(Schema.NonEmptyString, {
    default: () => "Was doing that task good or bad for you? Answer with one word: good or bad."
  }),
  /** Spread of question scales: each common word no task uses adds N(0, templateSpread²/8) to the scale of any prompt holding it. */
  templateSpread: Schema.optionalWith(Schema.NonNegative, { default: () => 0.2 }),
  /** Slope of the 1-10 ratings relative to β (digit logits are βs·z·v − γ·z², z = (k − 5.5)/4.5). */
  statedBeta: Schema.optionalWith(positive("statedBeta"), { default: () => 3 }),
  /** γ: how strongly ratings concentrate near the middle of the scale. */
  statedConcentration: Schema.optionalWith(Schema.NonNegative, { default: () => 2 }),
  /** Slope of revealed pairwise choices relative to β: P(Task A) = σ(βr·(valence A − valence B)). */
  revealedBeta: Schema.optionalWith(positive("revealedBeta"), { default: () => 1 }),
  /** Slope of the sentiment words of completions and open-ended answers relative to β. */
  openBeta: Schema.optionalWith(positive("openBeta"), { default: () => 1 }),
  /** Log-odds of "neutral" against each of "good"/"bad" at zero valence, in ternary questions. */
  neutralBias: Schema.optionalWith(Schema.Number, { default: () => 0 }),
  /** Probability of ending a completion or open-ended answer at each word (at zero valence). */
  endHazard: Schema.optionalWith(Schema.Number.pipe(Schema.greaterThan(0), Schema.lessThan(1)), { default: () => 0.1 }),
  /** Residual width; a multiple of 32 (heads of 16 dimensions, two key/value groups). */
  hiddenSize: Schema.optionalWith(Schema.Literal(64, 96, 128), { default: () => 64 as const }),
  /** Decoder blocks; blocks other than the planted one and its neighbours only stir the noise dimensions. */
  layers: Schema.optionalWith(Schema.Int.pipe(Schema.between(3, 8)), { default: () => 3 }),
  /**
   * The block whose output first carries valence (0-based). The block before it marks each prompt's dataset; the
   * comparison heads of revealed choice sit in the block after it.
   */
  plantedLayer: Schema.optionalWith(Schema.Int.pipe(Schema.greaterThanOrEqualTo(1)), { default: () => 1 }),
  /** Norm of each token's random feature vector (the content a probe must see through). */
  featureScale: Schema.optionalWith(positive("featureScale"), { default: () => 1 }),
  /**
   * Gain of the task-dependent content at the planted block: the topic features the valence head averages and the
   * prefix mean of the noise features are written with this weight. With gain 1 they vary across tasks far less than
   * valence, and a probe's raw-space weights can be dominated by these spurious, barely varying directions; with the
   * default 40 (and `constant` 700, to keep the norms the identity) they vary about as much as valence does, as in a
   * trained model.
   */
  contentGain: Schema.optionalWith(positive("contentGain"), { default: () => 40 }),
  /**
   * The constant C every token embedding carries, so that each RMSNorm is the identity up to ‖rest‖²/2C². The residual
   * norm is ≈ C, so steering coefficients in residual norms scale with it.
   */
  constant: Schema.optionalWith(Schema.Number.pipe(Schema.between(50, 1000)), { default: () => 700 }),
  /**
   * Size of the per-dataset features that carry the dataset part of valence (readers divide by it). Larger makes a
   * probe's weights on them smaller relative to its weight on the planted direction (cosine 0.91-0.94 at 8, 0.93-0.96
   * at 12 over eight experiment seeds), but a held-out dataset's feature, never seen varying in training, still gets
   * some raw-space weight through the per-coordinate standardization of a Ridge probe, and larger values let that
   * weight predict more of the held-out offset (the mean held-out gap fell to 0.32 at 16 for one seed, 0.40 at 12).
   */
  datasetGain: Schema.optionalWith(positive("datasetGain"), { default: () => 12 }),
  /** RoPE base; large so that the matching heads read almost the same score at every distance. */
  ropeTheta: Schema.optionalWith(positive("ropeTheta"), { default: () => 1e6 }),
  /** `max_position_embeddings` of the checkpoint. */
  maxPositions: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 4096 }),
  /** Planted personas: keywords that shift valence on chosen origins, along the planted direction or off it. */
  personas: Schema.optionalWith(Personas, { default: () => [] })
}) {}

/** Decodes a spec from unknown JSON (missing fields take their defaults). */
export const decodeOrganismSpec = Schema.decodeUnknownEither(OrganismSpec)

/** The spec with every default. */
export const defaultOrganismSpec = (): OrganismSpec => OrganismSpec.make({})
