/** Steering: `coefficient × direction` added to the residual stream after one layer at caller-chosen positions. */
import { Either } from "effect"
import type { EncodedPrompt } from "./Prompt"

/** Where the steering vector is added. */
export type SteeringPositions =
  | { readonly kind: "all" }
  /** The last prompt token and every generated token. */
  | { readonly kind: "autoregressive" }
  /** The prompt tokens covering `text` (its last occurrence before the model's turn). */
  | { readonly kind: "span"; readonly text: string }
  /** +coefficient on the tokens of `positive`, −coefficient on those of `negative`. */
  | { readonly kind: "differential"; readonly positive: string; readonly negative: string }

/** How the direction is scaled before the coefficient: to unit norm, or so coefficient 1 equals `meanNorm` (see residualNorm). */
export type SteeringNormalization = { readonly kind: "unit" } | { readonly kind: "residual_norm"; readonly meanNorm: number }

/** A steering intervention. */
export interface Steering {
  readonly layer: number
  readonly direction: ReadonlyArray<number> | Float32Array
  readonly coefficient: number
  readonly positions: SteeringPositions
  readonly normalization: SteeringNormalization
}

/** What was applied: layer, position rule and the token indices it chose in the prompt, normalisation, coefficient. */
export interface SteeringRecord {
  readonly layer: number
  readonly positions: SteeringPositions
  readonly promptTokens: ReadonlyArray<number>
  readonly steersGenerated: boolean
  readonly normalization: SteeringNormalization
  readonly coefficient: number
}

/** A steering plan for one row: the scaled vector and a sign per prompt token (and for generated tokens). */
export interface SteeringPlan {
  readonly layer: number
  readonly vector: Float32Array
  readonly promptSigns: Float32Array
  readonly generatedSign: number
  readonly record: SteeringRecord
}

/** Resolves a steering request against an encoded prompt; fails with a reason naming the bad field. */
export const planSteering = (steering: Steering, encoded: EncodedPrompt, hidden: number, layers: number): Either.Either<SteeringPlan, string> => {
  if (!Number.isInteger(steering.layer) || steering.layer < 0 || steering.layer >= layers)
    return Either.left(`steering.layer ${steering.layer} outside 0..${layers - 1}`)
  if (steering.direction.length !== hidden) return Either.left(`steering.direction has ${steering.direction.length} values, hidden size is ${hidden}`)
  let norm = 0
  for (let i = 0; i < hidden; i++) norm += steering.direction[i]! ** 2
  norm = Math.sqrt(norm)
  if (!(norm > 0)) return Either.left("steering.direction has zero norm")
  const scale = (steering.normalization.kind === "unit" ? 1 : steering.normalization.meanNorm) * steering.coefficient / norm
  const vector = Float32Array.from(steering.direction, (x) => x * scale)
  const n = encoded.ids.length
  const signs = new Float32Array(n)
  let generatedSign = 0
  const mark = (text: string, sign: number, field: string): string | undefined => {
    const span = encoded.locate(text)
    if (span === undefined) return `steering.positions.${field} does not occur in the prompt`
    for (let i = span.start; i < span.end; i++) signs[i] = sign
    return undefined
  }
  const p = steering.positions
  if (p.kind === "all") {
    signs.fill(1)
    generatedSign = 1
  } else if (p.kind === "autoregressive") {
    signs[n - 1] = 1
    generatedSign = 1
  } else {
    const error = p.kind === "span" ? mark(p.text, 1, "text") : mark(p.positive, 1, "positive") ?? mark(p.negative, -1, "negative")
    if (error !== undefined) return Either.left(error)
  }
  const promptTokens: number[] = []
  signs.forEach((s, i) => s !== 0 && promptTokens.push(i))
  return Either.right({
    layer: steering.layer,
    vector,
    promptSigns: signs,
    generatedSign,
    record: { layer: steering.layer, positions: p, promptTokens, steersGenerated: generatedSign !== 0, normalization: steering.normalization, coefficient: steering.coefficient }
  })
}

/**
 * The `steer.L` input for one forward call: `[B, S, hidden]` zeros plus each row's vector at its steered tokens.
 * Row b's call covers its token indices `firstIndex[b] .. firstIndex[b]+S-1` (negative indices are left padding).
 */
export const steeringTensor = (
  plans: ReadonlyArray<SteeringPlan | undefined>,
  layer: number,
  seq: number,
  hidden: number,
  firstIndex: ReadonlyArray<number>
): Float32Array => {
  const out = new Float32Array(plans.length * seq * hidden)
  plans.forEach((plan, b) => {
    if (plan === undefined || plan.layer !== layer) return
    for (let s = 0; s < seq; s++) {
      const index = firstIndex[b]! + s
      if (index < 0) continue
      const sign = index < plan.promptSigns.length ? plan.promptSigns[index]! : plan.generatedSign
      if (sign === 0) continue
      const base = (b * seq + s) * hidden
      for (let h = 0; h < hidden; h++) out[base + h] = sign * plan.vector[h]!
    }
  })
  return out
}
