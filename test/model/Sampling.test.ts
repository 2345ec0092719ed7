import { describe, expect, it } from "@effect/vitest"
import { argmax, type Random, sampleToken, seededRandom } from "../../model/Sampling"

/** Top-p by a full sort of the vocabulary: the most probable tokens (ties by index) until their mass reaches top-p. */
const fullSortNucleus = (logits: Float32Array, temperature: number, topP: number, u: number): number => {
  const max = Math.max(...logits)
  const probs = Array.from(logits, (x) => Math.exp((x - max) / temperature))
  const sum = probs.reduce((a, b) => a + b, 0)
  const order = probs.map((_, i) => i).sort((a, b) => probs[b]! - probs[a]! || a - b)
  let kept = 0
  let mass = 0
  while (kept < order.length && (kept === 0 || mass < topP * sum)) mass += probs[order[kept++]!]!
  let left = u * mass
  for (let k = 0; k < kept; k++) {
    left -= probs[order[k]!]!
    if (left < 0) return order[k]!
  }
  return order[kept - 1]!
}

const constant = (u: number): Random => () => u

describe("sampleToken", () => {
  it("is the argmax at temperature 0", () => {
    const logits = Float32Array.of(0.1, 2, -1, 2, 0.5)
    expect(sampleToken(logits, 0, 5, 0, 0.9, constant(0.5))).toBe(argmax(logits))
    expect(argmax(logits)).toBe(1)
  })

  it("picks the token a full sort of the vocabulary picks, for any top-p and draw", () => {
    const random = seededRandom(11)
    for (let trial = 0; trial < 200; trial++) {
      const vocab = 50 + Math.floor(random() * 3000)
      const spread = 0.5 + random() * 8
      const logits = Float32Array.from({ length: vocab }, () => spread * (random() - 0.5) * 2)
      if (trial % 10 === 0) logits[7] = logits[3]!
      const topP = [0.1, 0.5, 0.9, 0.99, 0.999999, 1][trial % 6]!
      const temperature = 0.3 + random() * 1.5
      const u = random()
      expect(sampleToken(logits, 0, vocab, temperature, topP, constant(u))).toBe(fullSortNucleus(logits, temperature, topP, u))
    }
  })

  it("at top-p 1 draws every token with its softmax probability", () => {
    const logits = Float32Array.of(1, 0, -1, 2, 0.5)
    const probs = Array.from(logits, Math.exp)
    const z = probs.reduce((a, b) => a + b, 0)
    const counts = new Array(5).fill(0)
    const random = seededRandom(3)
    const draws = 40_000
    for (let n = 0; n < draws; n++) counts[sampleToken(logits, 0, 5, 1, 1, random)]++
    // Binomial standard errors are below 0.0025 here, so 0.01 is four of them.
    counts.forEach((c, i) => expect(Math.abs(c / draws - probs[i]! / z)).toBeLessThan(0.01))
  })

  it("reads one row of a batch through its offset", () => {
    const logits = Float32Array.of(5, 0, 0, 0, 0, 9)
    expect(sampleToken(logits, 3, 3, 0.5, 0.5, constant(0.5))).toBe(2)
  })
})
