/** Batched generation, option scoring, activation capture and residual norms over a compiled decoder. */
import { Effect, Either } from "effect"
import type { Dimensions } from "./Checkpoint"
import type { ChatRenderer } from "./ChatTemplate"
import { stackedLayers } from "./Compile"
import { type EncodedPrompt, encodePrompt, type Prompt, selectorIndices } from "./Prompt"
import { logProbability, sampleToken, seededRandom } from "./Sampling"
import { type DecoderSession, emptyCache, forward, type KvCache, selectRows, sequenceInput, stackCaches } from "./Session"
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
  /** Option labels whose probabilities (renormalised over the options) come back with the generation. */
  readonly options?: ReadonlyArray<string>
  /** Log-probabilities of each generated token (EOS included) and of the `logprobs` most likely tokens at its step. */
  readonly logprobs?: number
}

/** Why generation ended: a stop string, the end-of-sequence token, the token limit, or a server's content filter. */
export type FinishReason = "stop" | "eos" | "length" | "filtered"

/** One generated token's log-probability and the most likely tokens at its step, all from the unscaled logits. */
export interface TokenLogprob {
  readonly token: number
  readonly logprob: number
  readonly top: ReadonlyArray<{ readonly token: number; readonly logprob: number }>
}

/**
 * A generation: text (cut before any stop string), generated token ids (EOS excluded; empty from an API model),
 * finish reason, prompt and completion lengths in tokens, and what the request asked for besides.
 */
export interface Generation {
  readonly text: string
  readonly tokenIds: ReadonlyArray<number>
  readonly promptIds: ReadonlyArray<number>
  readonly finish: FinishReason
  readonly promptTokens: number
  readonly completionTokens: number
  readonly steering?: SteeringRecord
  /** Each requested option's probability renormalised over the options; null when the model could not give them. */
  readonly optionProbs?: ReadonlyArray<number> | null
  /** Why `optionProbs` is null (`no logprobs in the reply`). */
  readonly optionNote?: string
  /** The model name the server says answered (API models). */
  readonly servedModel?: string
  readonly logprobs?: ReadonlyArray<TokenLogprob>
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

/** Log-softmax of one row of logits at `token`, and the `k` most likely tokens (highest first, ties by id). */
export const tokenLogprobs = (logits: Float32Array, offset: number, vocab: number, token: number, k: number): TokenLogprob => {
  let max = -Infinity
  for (let i = 0; i < vocab; i++) max = Math.max(max, logits[offset + i]!)
  let sum = 0
  for (let i = 0; i < vocab; i++) sum += Math.exp(logits[offset + i]! - max)
  const logZ = max + Math.log(sum)
  const top: number[] = []
  for (let i = 0; i < vocab && k > 0; i++) {
    const v = logits[offset + i]!
    if (top.length === k && v <= logits[offset + top[k - 1]!]!) continue
    let at = top.length
    while (at > 0 && logits[offset + top[at - 1]!]! < v) at--
    top.splice(at, 0, i)
    if (top.length > k) top.pop()
  }
  return { token, logprob: logits[offset + token]! - logZ, top: top.map((t) => ({ token: t, logprob: logits[offset + t]! - logZ })) }
}

const firstStop = (text: string, stops: ReadonlyArray<string>): number => {
  let cut = -1
  for (const s of stops) {
    const at = s.length === 0 ? -1 : text.indexOf(s)
    if (at >= 0 && (cut < 0 || at < cut)) cut = at
  }
  return cut
}

/** Each prompt's encoding, a prompt that an earlier one repeats (the samples of one question) encoded once. */
const encodeEach = (rt: Runtime, prompts: ReadonlyArray<Prompt>): EncodedPrompt[] => {
  const seen = new Map<string, EncodedPrompt>()
  return prompts.map((p) => {
    const key = JSON.stringify(p)
    const known = seen.get(key)
    if (known !== undefined) return known
    const e = encodePrompt(rt.tokenizer, rt.chat, p)
    seen.set(key, e)
    return e
  })
}

/** What a batch computed per prompt and steering plan, for the requests that repeat an earlier one of the batch. */
const repeats = <V>() => {
  const kept = new Map<string, Array<{ readonly plan: SteeringPlan | undefined; readonly value: V }>>()
  return {
    get: (key: string, plan: SteeringPlan | undefined): V | undefined => kept.get(key)?.find((e) => e.plan === plan)?.value,
    set: (key: string, plan: SteeringPlan | undefined, value: V) => void kept.set(key, [...(kept.get(key) ?? []), { plan, value }])
  }
}

/**
 * Runs each prompt alone (batch 1, its own length) and returns the logits at each prompt's last token, one row per
 * prompt, and one cache holding every prompt. Alone, a prompt's logits do not depend on what shares its batch: float32
 * kernels sum in an order that depends on the batch's shape, which moves the log-probabilities of a model with large
 * activations (the organism) by up to 1e-3 between batch compositions; the prompt's own length already gives the
 * prefill's matrix products their rows, so running it alone costs one call per prompt, not throughput. A prompt that
 * an earlier one in the batch repeats under the same steering (the samples of one question) is run once: alone, its
 * logits and cache are the same whichever copy runs.
 */
const prefillAlone = (rt: Runtime, session: DecoderSession, prompts: ReadonlyArray<ReadonlyArray<number>>, plans: ReadonlyArray<SteeringPlan | undefined>, steerLayers: ReadonlyArray<number>) =>
  Effect.gen(function* () {
    const { dims } = rt
    const logits = new Float32Array(prompts.length * dims.vocab)
    const earlier = repeats<{ readonly row: number; readonly cache: KvCache }>()
    const caches = yield* Effect.forEach(prompts, (ids, b) => {
      const key = ids.join(",")
      const same = earlier.get(key, plans[b])
      if (same !== undefined) {
        logits.copyWithin(b * dims.vocab, same.row * dims.vocab, (same.row + 1) * dims.vocab)
        return Effect.succeed(same.cache)
      }
      return Effect.map(
        forward(session, { ...sequenceInput(dims, ids), steer: steerFeeds([plans[b]], steerLayers, ids.length, dims.hidden, [0]) }, []),
        (out) => {
          logits.set(out.logits.subarray(0, dims.vocab), b * dims.vocab)
          earlier.set(key, plans[b], { row: b, cache: out.cache })
          return out.cache
        }
      )
    })
    return { logits, cache: stackCaches(dims, caches) }
  })

/** Generates for one batch: each prompt prefilled alone (see `prefillAlone`), then decoded together with the KV cache. */
export const generateBatch = (rt: Runtime, requests: ReadonlyArray<GenerateRequest>): Effect.Effect<Generation[], string> =>
  Effect.gen(function* () {
    const { dims, tokenizer: tok } = rt
    const encoded = encodeEach(rt, requests.map((r) => r.prompt))
    const tooLong = encoded.findIndex((e) => e.ids.length >= dims.maxPositions)
    if (tooLong >= 0) return yield* Effect.fail(`prompt ${tooLong} has ${encoded[tooLong]!.ids.length} tokens, the context holds ${dims.maxPositions}`)
    const limits = requests.map((r, b) => Math.min(r.maxTokens, dims.maxPositions - encoded[b]!.ids.length))
    const plans = yield* plansFor(rt, encoded, requests.map((r) => r.steering))
    const steerLayers = layersOf(plans)
    const session = yield* rt.session({ logits: "last", hiddenLayers: [], steerLayers })
    const batch = requests.length
    const randoms = requests.map((r) => seededRandom(r.seed))
    const generated: number[][] = requests.map(() => [])
    const logprobs: TokenLogprob[][] = requests.map(() => [])
    const finish: Array<FinishReason | undefined> = limits.map((n) => (n <= 0 ? "length" : undefined))
    const texts: Array<string | undefined> = requests.map(() => undefined)
    const decoded = new Map<EncodedPrompt, string>()
    const promptTexts = encoded.map((e) => {
      if (!decoded.has(e)) decoded.set(e, tok.decode(e.ids))
      return decoded.get(e)!
    })
    // Decoding the whole sequence keeps spaces that decoders strip from a sequence's first token.
    const textOf = (b: number) => {
      const full = tok.decode([...encoded[b]!.ids, ...generated[b]!])
      return full.startsWith(promptTexts[b]!) ? full.slice(promptTexts[b]!.length) : tok.decode(generated[b]!)
    }
    const decodeMask = new BigInt64Array(batch).fill(1n)
    let step: { readonly logits: Float32Array; readonly cache: KvCache } = yield* prefillAlone(rt, session, encoded.map((e) => e.ids), plans, steerLayers)
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
        if (r.logprobs !== undefined) logprobs[b]!.push(tokenLogprobs(step.logits, b * dims.vocab, dims.vocab, token, r.logprobs))
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
      completionTokens: generated[b]!.length,
      ...(plans[b] === undefined ? {} : { steering: plans[b]!.record }),
      ...(requests[b]!.logprobs === undefined ? {} : { logprobs: logprobs[b]! })
    }))
  })

const commonPrefix = (a: ReadonlyArray<number>, b: ReadonlyArray<number>): number => {
  let n = 0
  while (n < a.length && n < b.length && a[n] === b[n]) n++
  return n
}

/**
 * Scores each request's options. A request's prompt runs once, alone (see `prefillAlone`: its scores do not depend on
 * what else is scored with it): the tokens its options share with it (every option is tokenized together with the
 * prompt, so a boundary that merges differently still scores right) are prefilled, and every option row continues
 * from a copy of that cache with only its own tokens, right-padded.
 */
export const scoreBatch = (rt: Runtime, requests: ReadonlyArray<ScoreRequest>): Effect.Effect<OptionScores[], string> =>
  Effect.gen(function* () {
    const { dims, tokenizer: tok } = rt
    const encoded = encodeEach(rt, requests.map((r) => r.prompt))
    const plans = yield* plansFor(rt, encoded, requests.map((r) => r.steering))
    const steerLayers = layersOf(plans)
    const prefillSession = yield* rt.session({ logits: "last", hiddenLayers: [], steerLayers })
    const continueSession = yield* rt.session({ logits: "all", hiddenLayers: [], steerLayers })
    const scoreOne = (r: ScoreRequest, q: number, e: (typeof encoded)[number]): Effect.Effect<OptionScores, string> =>
      Effect.gen(function* () {
        const plan = plans[q]
        const record = plan === undefined ? {} : { steering: plan.record }
        if (r.options.length === 0) return { probs: [], normalized: [], ...record }
        const rows = r.options.map((option) => {
          const ids = tok.encode(e.text + option, e.addSpecialTokens)
          return { ids, start: Math.max(1, Math.min(commonPrefix(ids, e.ids), ids.length - 1)) }
        })
        // The prompt tokens every option row repeats, leaving each row at least the tokens it scores.
        const first = Math.min(...rows.map((row) => Math.min(row.start, commonPrefix(row.ids, e.ids))))
        if (first === 0) return yield* Effect.fail(`score: an option of request ${q} shares no token with its prompt (a prompt is expected to start with BOS or a fixed template prefix)`)
        const prefill = yield* prefillAlone(rt, prefillSession, [e.ids.slice(0, first)], [plan], steerLayers)
        const rests = rows.map((row) => row.ids.slice(first))
        const width = Math.max(...rests.map((x) => x.length))
        const ids = new BigInt64Array(rows.length * width).fill(BigInt(tok.padId))
        const mask = new BigInt64Array(rows.length * width)
        const positions = new BigInt64Array(rows.length * width)
        rests.forEach((rest, b) => {
          for (let j = 0; j < width; j++) positions[b * width + j] = BigInt(first + j)
          rest.forEach((id, j) => {
            ids[b * width + j] = BigInt(id)
            mask[b * width + j] = 1n
          })
        })
        // Single-token options are scored from the prefill alone; longer ones continue from copies of its cache.
        const out = width <= 1 ? undefined : yield* forward(continueSession, {
          batch: rows.length,
          seq: width,
          inputIds: ids,
          positionIds: positions,
          attentionMask: mask,
          cache: selectRows(dims, prefill.cache, rows.map(() => 0), prefill.cache.length + width),
          steer: steerFeeds(rows.map(() => plan), steerLayers, width, dims.hidden, rows.map(() => first))
        }, [])
        const probs = rows.map((row, b) => {
          let logp = 0
          for (let i = row.start; i < row.ids.length; i++) {
            // Token i follows position i − 1: the prefill's last position, or column i − 1 − first of the continuation.
            logp += i === first
              ? logProbability(prefill.logits, 0, dims.vocab, row.ids[i]!)
              : logProbability(out!.logits, (b * width + i - 1 - first) * dims.vocab, dims.vocab, row.ids[i]!)
          }
          return Math.exp(logp)
        })
        const sum = probs.reduce((a, b) => a + b, 0)
        return { probs, normalized: probs.map((x) => (sum > 0 ? x / sum : 0)), ...record }
      })
    // A request that an earlier one repeats (prompt, options and steering: the samples of one question) has its scores.
    const earlier = repeats<OptionScores>()
    return yield* Effect.forEach(requests, (r, q) => {
      const e = encoded[q]!
      const key = JSON.stringify([e.addSpecialTokens, e.text, r.options])
      const same = earlier.get(key, plans[q])
      if (same !== undefined) return Effect.succeed({ ...same, probs: [...same.probs], normalized: [...same.normalized] })
      return Effect.tap(scoreOne(r, q, e), (scores) => earlier.set(key, plans[q], scores))
    })
  })

/** Runs prompts once (no steering) and returns the encodings and the residual after each layer. */
const hiddenStates = (rt: Runtime, prompts: ReadonlyArray<Prompt>, layers: ReadonlyArray<number>) =>
  Effect.gen(function* () {
    const bad = layers.find((l) => !Number.isInteger(l) || l < 0 || l >= rt.dims.layers)
    if (bad !== undefined) return yield* Effect.fail(`layer ${bad} outside 0..${rt.dims.layers - 1}`)
    const encoded = encodeEach(rt, prompts)
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
