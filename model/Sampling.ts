/** Seeded next-token choice: a small explicit PRNG (mulberry32 over a splitmix-mixed seed), greedy, temperature and top-p. */

/** A generator of uniform numbers in [0, 1). */
export type Random = () => number

/** A mulberry32 generator seeded from any integer seed (mixed first so nearby seeds give unrelated streams). */
export const seededRandom = (seed: number): Random => {
  let state = Math.imul((seed | 0) ^ 0x9e3779b9, 0x85ebca6b) ^ Math.floor(seed / 4294967296)
  state = Math.imul(state ^ (state >>> 13), 0xc2b2ae35) ^ (state >>> 16)
  return () => {
    state = (state + 0x6d2b79f5) | 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Index of the largest logit (first on ties). */
export const argmax = (logits: Float32Array, offset = 0, length = logits.length - offset): number => {
  let best = 0
  let bestValue = -Infinity
  for (let i = 0; i < length; i++) {
    const v = logits[offset + i]!
    if (v > bestValue) {
      bestValue = v
      best = i
    }
  }
  return best
}

/**
 * Where the running mass of the tokens, taken by falling probability (ties by index), first passes `target`
 * (reaches it when `reach`): that token's rank, the ranked tokens so far and their mass (or the last token's, when
 * the total stays short). Only tokens above a threshold are ranked, the threshold falling eightfold until they pass
 * the target: with a large vocabulary that is a few passes instead of a full sort.
 */
const rankUntil = (probs: Float64Array, target: number, reach: boolean) => {
  for (let threshold = 1 / 8; ; threshold /= 8) {
    const order: number[] = []
    for (let i = 0; i < probs.length; i++) if (probs[i]! >= threshold) order.push(i)
    order.sort((a, b) => probs[b]! - probs[a]! || a - b)
    let mass = 0
    for (let k = 0; k < order.length; k++) {
      mass += probs[order[k]!]!
      if (reach ? mass >= target : mass > target) return { rank: k, order, mass }
    }
    if (order.length === probs.length || threshold === 0) return { rank: order.length - 1, order, mass }
  }
}

/**
 * Chooses the next token from one row of logits: greedy at temperature 0, otherwise softmax(logits / T) cut to top-p
 * (the most probable tokens, ties by index, until their mass reaches top-p of the total) and sampled by walking
 * them in that order.
 */
export const sampleToken = (logits: Float32Array, offset: number, vocab: number, temperature: number, topP: number, random: Random): number => {
  if (temperature <= 0) return argmax(logits, offset, vocab)
  let max = -Infinity
  for (let i = 0; i < vocab; i++) max = Math.max(max, logits[offset + i]!)
  const probs = new Float64Array(vocab)
  let sum = 0
  for (let i = 0; i < vocab; i++) sum += probs[i] = Math.exp((logits[offset + i]! - max) / temperature)
  const nucleus = topP >= 1 ? sum : rankUntil(probs, topP * sum, true).mass
  const { rank, order } = rankUntil(probs, random() * nucleus, false)
  return order[rank]!
}

/** Log-softmax of one row of logits at index `token`. */
export const logProbability = (logits: Float32Array, offset: number, vocab: number, token: number): number => {
  let max = -Infinity
  for (let i = 0; i < vocab; i++) max = Math.max(max, logits[offset + i]!)
  let sum = 0
  for (let i = 0; i < vocab; i++) sum += Math.exp(logits[offset + i]! - max)
  return logits[offset + token]! - max - Math.log(sum)
}
