/** Batched generation, option scoring, activation capture and residual norms over a compiled decoder. */
import { Effect, Either } from "effect"
import type { Dimensions } from "./Checkpoint"
import type { ChatRenderer } from "./ChatTemplate"
import { stackedLayers } from "./Compile"
import { type EncodedPrompt, encodePrompt, type Prompt, selectorIndices } from "./Prompt"
import { logProbability, sampleToken, seededRandom } from "./Sampling"
import { type DecoderSession, emptyCache, forward, selectRows } from "./Session"
import { planSteering, type Steering, type SteeringPlan, type SteeringRecord, steeringTensor } from "./Steering"
import type { TextTokenizer } from "./Tokenizer"

/** Which compiled variant a call needs. */
export interface SessionSpec {
  readonly logits: "last" | "all"
  readonly hiddenLayers: ReadonlyArray<number>
  readonly steerLayers: ReadonlyArray<number>
}

/** Everything the operations need: dimensions, tokenizer, chat renderer and a source of (cached) sessions. */
export interface Runtime {
  readonly dims: Dimensions
  readonly tokenizer: TextTokenizer
  readonly chat: ChatRenderer
  readonly session: (spec: SessionSpec) => Effect.Effect<DecoderSession, string>
}

/** A generation request; `seed` alone decides the sampled tokens, whatever else shares the batch. */
export interface GenerateRequest {
  readonly prompt: Prompt
  readonly maxTokens: number
  readonly temperature: number
  readonly topP: number
  readonly seed: number
  readonly stop?: ReadonlyArray<string>
  readonly steering?: Steering
}

/** Why generation ended. */
export type FinishReason = "stop" | "eos" | "length"

/** A generation: text (cut before any stop string), generated token ids (EOS excluded), finish reason, prompt length. */
export interface Generation {
  readonly text: string
  readonly tokenIds: ReadonlyArray<number>
  readonly promptIds: ReadonlyArray<number>
  readonly finish: FinishReason
  readonly promptTokens: number
  readonly steering?: SteeringRecord
}

/** An option-scoring request. */
export interface ScoreRequest {
  readonly prompt: Prompt
  readonly options: ReadonlyArray<string>
  readonly steering?: Steering
}

/** Probability of each option (product of its tokens' conditional probabilities) and the same renormalised over options. */
export interface OptionScores {
  readonly probs: ReadonlyArray<number>
  readonly normalized: ReadonlyArray<number>
  readonly steering?: SteeringRecord
}

/** An activation request: residual stream after each layer at each selector. */
export interface ActivationRequest {
  readonly prompt: Prompt
  readonly layers: ReadonlyArray<number>
  readonly selectors: ReadonlyArray<string>
}

/** Activations by selector, then by layer: one `hidden`-long row each. */
export type Activations = Record<string, Record<number, Float32Array>>

interface Padded {
  readonly ids: BigInt64Array
  readonly mask: BigInt64Array
  readonly positions: BigInt64Array
  readonly pads: ReadonlyArray<number>
  readonly seq: number
}

/** Left-pads sequences: pads get mask 0 and position 0; real tokens get positions from 0. */
export const leftPad = (sequences: ReadonlyArray<ReadonlyArray<number>>, padId: number): Padded => {
  const seq = Math.max(...sequences.map((s) => s.length))
  const batch = sequences.length
  const ids = new BigInt64Array(batch * seq).fill(BigInt(padId))
  const mask = new BigInt64Array(batch * seq)
  const positions = new BigInt64Array(batch * seq)
  const pads = sequences.map((s, b) => {
    const pad = seq - s.length
    for (let i = 0; i < s.length; i++) {
      ids[b * seq + pad + i] = BigInt(s[i]!)
      mask[b * seq + pad + i] = 1n
      positions[b * seq + pad + i] = BigInt(i)
    }
    return pad
  })
  return { ids, mask, positions, pads, seq }
}

const plansFor = (rt: Runtime, encoded: ReadonlyArray<EncodedPrompt>, steering: ReadonlyArray<Steering | undefined>) =>
  Effect.forEach(encoded, (e, b) => {
    const s = steering[b]
    if (s === undefined) return Effect.succeed(undefined)
    return Either.match(planSteering(s, e, rt.dims.hidden, rt.dims.layers), { onLeft: Effect.fail, onRight: Effect.succeed })
  })

const steerFeeds = (plans: ReadonlyArray<SteeringPlan | undefined>, layers: ReadonlyArray<number>, seq: number, hidden: number, firstIndex: ReadonlyArray<number>) =>
  new Map(layers.map((l) => [l, steeringTensor(plans, l, seq, hidden, firstIndex)]))

const layersOf = (plans: ReadonlyArray<SteeringPlan | undefined>) => [...new Set(plans.flatMap((p) => (p === undefined ? [] : [p.layer])))].sort((a, b) => a - b)

const firstStop = (text: string, stops: ReadonlyArray<string>): number => {
  let cut = -1
  for (const s of stops) {
    const at = s.length === 0 ? -1 : text.indexOf(s)
    if (at >= 0 && (cut < 0 || at < cut)) cut = at
  }
  return cut
}

/** Generates for one batch with left padding and the KV cache. */
export const generateBatch = (rt: Runtime, requests: ReadonlyArray<GenerateRequest>): Effect.Effect<Generation[], string> =>
  Effect.gen(function* () {
    const { dims, tokenizer: tok } = rt
    const encoded = requests.map((r) => encodePrompt(tok, rt.chat, r.prompt))
    const tooLong = encoded.findIndex((e) => e.ids.length >= dims.maxPositions)
    if (tooLong >= 0) return yield* Effect.fail(`prompt ${tooLong} has ${encoded[tooLong]!.ids.length} tokens, the context holds ${dims.maxPositions}`)
    const limits = requests.map((r, b) => Math.min(r.maxTokens, dims.maxPositions - encoded[b]!.ids.length))
    const plans = yield* plansFor(rt, encoded, requests.map((r) => r.steering))
    const steerLayers = layersOf(plans)
    const session = yield* rt.session({ logits: "last", hiddenLayers: [], steerLayers })
    const batch = requests.length
    const padded = leftPad(encoded.map((e) => e.ids), tok.padId)
    const randoms = requests.map((r) => seededRandom(r.seed))
    const generated: number[][] = requests.map(() => [])
    const finish: Array<FinishReason | undefined> = limits.map((n) => (n <= 0 ? "length" : undefined))
    const texts: Array<string | undefined> = requests.map(() => undefined)
    const promptTexts = encoded.map((e) => tok.decode(e.ids))
    // Decoding the whole sequence keeps spaces that decoders strip from a sequence's first token.
    const textOf = (b: number) => {
      const full = tok.decode([...encoded[b]!.ids, ...generated[b]!])
      return full.startsWith(promptTexts[b]!) ? full.slice(promptTexts[b]!.length) : tok.decode(generated[b]!)
    }
    const decodeMask = new BigInt64Array(batch).fill(1n)
    let step = yield* forward(session, {
      batch,
      seq: padded.seq,
      inputIds: padded.ids,
      positionIds: padded.positions,
      attentionMask: padded.mask,
      cache: emptyCache(dims, batch, padded.seq),
      steer: steerFeeds(plans, steerLayers, padded.seq, dims.hidden, padded.pads.map((p) => -p))
    }, [])
    const maxSteps = Math.max(0, ...limits)
    for (let t = 0; t < maxSteps; t++) {
      const next = new BigInt64Array(batch)
      for (let b = 0; b < batch; b++) {
        if (finish[b] !== undefined) {
          next[b] = BigInt(tok.padId)
          continue
        }
        const r = requests[b]!
        const token = sampleToken(step.logits, b * dims.vocab, dims.vocab, r.temperature, r.topP, randoms[b]!)
        next[b] = BigInt(token)
        if (tok.eosIds.includes(token)) {
          finish[b] = "eos"
          continue
        }
        generated[b]!.push(token)
        const cut = r.stop === undefined || r.stop.length === 0 ? -1 : firstStop(textOf(b), r.stop)
        if (cut >= 0) {
          texts[b] = textOf(b).slice(0, cut)
          finish[b] = "stop"
        } else if (generated[b]!.length >= limits[b]!) finish[b] = "length"
      }
      if (finish.every((f) => f !== undefined)) break
      const lengths = encoded.map((e, b) => Math.min(dims.maxPositions, e.ids.length + generated[b]!.length))
      step = yield* forward(session, {
        batch,
        seq: 1,
        inputIds: next,
        positionIds: BigInt64Array.from(lengths, (n) => BigInt(n - 1)),
        attentionMask: decodeMask,
        cache: step.cache,
        steer: steerFeeds(plans, steerLayers, 1, dims.hidden, lengths.map((n) => n - 1))
      }, [])
    }
    return requests.map((_, b): Generation => ({
      text: texts[b] ?? textOf(b),
      tokenIds: generated[b]!,
      promptIds: encoded[b]!.ids,
      finish: finish[b] ?? "length",
      promptTokens: encoded[b]!.ids.length,
      ...(plans[b] === undefined ? {} : { steering: plans[b]!.record })
    }))
  })

const commonPrefix = (a: ReadonlyArray<number>, b: ReadonlyArray<number>): number => {
  let n = 0
  while (n < a.length && n < b.length && a[n] === b[n]) n++
  return n
}

/**
 * Scores each request's options. A request's prompt runs once: the tokens its options share with it (every option is
 * tokenized together with the prompt, so a boundary that merges differently still scores right) are prefilled, and
 * every option row continues from a copy of that cache with only its own tokens, right-padded.
 */
export const scoreBatch = (rt: Runtime, requests: ReadonlyArray<ScoreRequest>): Effect.Effect<OptionScores[], string> =>
  Effect.gen(function* () {
    const { dims, tokenizer: tok } = rt
    const encoded = requests.map((r) => encodePrompt(tok, rt.chat, r.prompt))
    const plans = yield* plansFor(rt, encoded, requests.map((r) => r.steering))
    const rows: Array<{ request: number; ids: number[]; start: number }> = []
    requests.forEach((r, q) => {
      const e = encoded[q]!
      for (const option of r.options) {
        const ids = tok.encode(e.text + option, e.addSpecialTokens)
        rows.push({ request: q, ids, start: Math.max(1, Math.min(commonPrefix(ids, e.ids), ids.length - 1)) })
      }
    })
    if (rows.length === 0) return requests.map(() => ({ probs: [], normalized: [] }))
    const active = [...new Set(rows.map((r) => r.request))]
    const slot = new Map(active.map((q, i) => [q, i]))
    // The prompt tokens every option row repeats, leaving each row at least the tokens it scores.
    const shared = active.map((q) => Math.min(...rows.filter((r) => r.request === q).map((r) => Math.min(r.start, commonPrefix(r.ids, encoded[q]!.ids)))))
    const unshared = shared.findIndex((n) => n === 0)
    if (unshared >= 0) return yield* Effect.fail(`score: an option of request ${active[unshared]} shares no token with its prompt (a prompt is expected to start with BOS or a fixed template prefix)`)
    const prefixOf = (q: number) => shared[slot.get(q)!]!
    const steerLayers = layersOf(plans)
    const prompts = leftPad(active.map((q, i) => encoded[q]!.ids.slice(0, shared[i])), tok.padId)
    const prefill = yield* forward(yield* rt.session({ logits: "last", hiddenLayers: [], steerLayers }), {
      batch: active.length,
      seq: prompts.seq,
      inputIds: prompts.ids,
      positionIds: prompts.positions,
      attentionMask: prompts.mask,
      cache: emptyCache(dims, active.length, prompts.seq),
      steer: steerFeeds(active.map((q) => plans[q]), steerLayers, prompts.seq, dims.hidden, prompts.pads.map((p) => -p))
    }, [])
    const rests = rows.map((r) => r.ids.slice(prefixOf(r.request)))
    const width = Math.max(...rests.map((x) => x.length))
    const ids = new BigInt64Array(rows.length * width).fill(BigInt(tok.padId))
    const mask = new BigInt64Array(rows.length * width)
    const positions = new BigInt64Array(rows.length * width)
    rests.forEach((rest, b) => {
      const first = prefixOf(rows[b]!.request)
      for (let j = 0; j < width; j++) positions[b * width + j] = BigInt(first + j)
      rest.forEach((id, j) => {
        ids[b * width + j] = BigInt(id)
        mask[b * width + j] = 1n
      })
    })
    const rowPlans = rows.map((row) => plans[row.request])
    const out = yield* forward(yield* rt.session({ logits: "all", hiddenLayers: [], steerLayers }), {
      batch: rows.length,
      seq: width,
      inputIds: ids,
      positionIds: positions,
      attentionMask: mask,
      cache: selectRows(dims, prefill.cache, rows.map((r) => slot.get(r.request)!), prefill.cache.length + width),
      steer: steerFeeds(rowPlans, steerLayers, width, dims.hidden, rows.map((r) => prefixOf(r.request)))
    }, [])
    const probs = rows.map((row, b) => {
      const first = prefixOf(row.request)
      let logp = 0
      for (let i = row.start; i < row.ids.length; i++) {
        // Token i follows position i − 1: the prefill's last position, or column i − 1 − first of the continuation.
        logp += i === first
          ? logProbability(prefill.logits, slot.get(row.request)! * dims.vocab, dims.vocab, row.ids[i]!)
          : logProbability(out.logits, (b * width + i - 1 - first) * dims.vocab, dims.vocab, row.ids[i]!)
      }
      return Math.exp(logp)
    })
    let at = 0
    return requests.map((r, q) => {
      const p = probs.slice(at, at + r.options.length)
      at += r.options.length
      const sum = p.reduce((a, b) => a + b, 0)
      return { probs: p, normalized: p.map((x) => (sum > 0 ? x / sum : 0)), ...(plans[q] === undefined ? {} : { steering: plans[q]!.record }) }
    })
  })

/** Runs prompts once (no steering) and returns the encodings and the residual after each layer. */
const hiddenStates = (rt: Runtime, prompts: ReadonlyArray<Prompt>, layers: ReadonlyArray<number>) =>
  Effect.gen(function* () {
    const bad = layers.find((l) => !Number.isInteger(l) || l < 0 || l >= rt.dims.layers)
    if (bad !== undefined) return yield* Effect.fail(`layer ${bad} outside 0..${rt.dims.layers - 1}`)
    const encoded = prompts.map((p) => encodePrompt(rt.tokenizer, rt.chat, p))
    const sorted = stackedLayers(layers)
    const session = yield* rt.session({ logits: "last", hiddenLayers: sorted, steerLayers: [] })
    const padded = leftPad(encoded.map((e) => e.ids), rt.tokenizer.padId)
    const out = yield* forward(session, {
      batch: prompts.length,
      seq: padded.seq,
      inputIds: padded.ids,
      positionIds: padded.positions,
      attentionMask: padded.mask,
      cache: emptyCache(rt.dims, prompts.length, padded.seq)
    }, sorted)
    return { encoded, padded, hidden: out.hidden }
  })

/** Residual stream after each requested layer at each selector (mean over the selector's tokens), for one batch. */
export const activationsBatch = (rt: Runtime, requests: ReadonlyArray<ActivationRequest>): Effect.Effect<Activations[], string> =>
  Effect.gen(function* () {
    const H = rt.dims.hidden
    const { encoded, padded, hidden } = yield* hiddenStates(rt, requests.map((r) => r.prompt), requests.flatMap((r) => r.layers))
    return yield* Effect.forEach(requests, (r, b) =>
      Effect.gen(function* () {
        const result: Activations = {}
        for (const selector of r.selectors) {
          const indices = yield* Either.match(selectorIndices(encoded[b]!, selector), { onLeft: Effect.fail, onRight: Effect.succeed })
          const byLayer: Record<number, Float32Array> = {}
          for (const l of r.layers) {
            const h = hidden.get(l)!
            const row = new Float32Array(H)
            for (const i of indices) {
              const base = (b * padded.seq + padded.pads[b]! + i) * H
              for (let k = 0; k < H; k++) row[k]! += h[base + k]! / indices.length
            }
            byLayer[l] = row
          }
          result[selector] = byLayer
        }
        return result
      }))
  })

/** Sum and count of residual L2 norms after `layer` over every token but the first of each prompt (the first is an outlier sink). */
export const residualNormBatch = (rt: Runtime, prompts: ReadonlyArray<Prompt>, layer: number): Effect.Effect<{ sum: number; count: number }, string> =>
  Effect.map(hiddenStates(rt, prompts, [layer]), ({ encoded, padded, hidden }) => {
    const H = rt.dims.hidden
    const h = hidden.get(layer)!
    let sum = 0
    let count = 0
    encoded.forEach((e, b) => {
      for (let i = 1; i < e.ids.length; i++) {
        const base = (b * padded.seq + padded.pads[b]! + i) * H
        let sq = 0
        for (let k = 0; k < H; k++) sq += h[base + k]! ** 2
        sum += Math.sqrt(sq)
        count++
      }
    })
    return { sum, count }
  })
