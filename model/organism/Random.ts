/** Seeded draws keyed by name, so a word's random values do not depend on which other words exist or their order. */
import { makePrng, type Prng } from "../../stats/prng"

// FNV-1a over UTF-16 code units, then an avalanche step: a stable 32-bit key for (seed, name).
const hashKey = (seed: number, name: string): number => {
  let h = (0x811c9dc5 ^ seed) >>> 0
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i)
    h = Math.imul(h, 0x01000193) >>> 0
  }
  h ^= h >>> 16
  h = Math.imul(h, 0x7feb352d) >>> 0
  h ^= h >>> 15
  return h | 0
}

/** A pseudo-random stream for `name` under `seed`. */
export const streamFor = (seed: number, name: string): Prng => makePrng(hashKey(seed, name))

/** `n` standard normal draws (Box-Muller) from a stream. */
export const normals = (prng: Prng, n: number): Float64Array => {
  const out = new Float64Array(n)
  for (let i = 0; i < n; i += 2) {
    const u = 1 - prng.next()
    const r = Math.sqrt(-2 * Math.log(u))
    const t = 2 * Math.PI * prng.next()
    out[i] = r * Math.cos(t)
    if (i + 1 < n) out[i + 1] = r * Math.sin(t)
  }
  return out
}

// Paley's construction for q = 11 (q ≡ 3 mod 4): I + [[0, 1ᵀ], [−1, Q]] with Q_ij = χ(j − i), χ the quadratic character.
const paley12 = (): Int8Array => {
  const q = 11
  const residues = new Set(Array.from({ length: q - 1 }, (_, x) => ((x + 1) * (x + 1)) % q))
  const chi = (x: number) => (x % q === 0 ? 0 : residues.has(((x % q) + q) % q) ? 1 : -1)
  const h = new Int8Array(144)
  for (let i = 0; i < 12; i++) {
    for (let j = 0; j < 12; j++) {
      const skew = i === 0 ? (j === 0 ? 0 : 1) : j === 0 ? -1 : chi(j - i)
      h[i * 12 + j] = (i === j ? 1 : 0) + skew
    }
  }
  return h
}

/** A Hadamard matrix of order n (entries ±1, H·Hᵀ = n·I) for n = 2^k or 12·2^k: Sylvester doubling of 1 or of Paley's 12. */
export const hadamard = (n: number): Int8Array => {
  let order = n
  while (order % 2 === 0 && order > 1 && order !== 12) order /= 2
  if (order !== 1 && order !== 12) throw new Error(`hadamard: n must be 2^k or 12·2^k, got ${n}`)
  let h = order === 1 ? Int8Array.of(1) : paley12()
  for (; order < n; order *= 2) {
    const next = new Int8Array(4 * order * order)
    for (let i = 0; i < order; i++) {
      for (let j = 0; j < order; j++) {
        const v = h[i * order + j]!
        next[i * 2 * order + j] = v
        next[i * 2 * order + order + j] = v
        next[(order + i) * 2 * order + j] = v
        next[(order + i) * 2 * order + order + j] = -v
      }
    }
    h = next
  }
  return h
}

/**
 * A random orthogonal n×n matrix (row-major) whose entries all have magnitude 1/√n: a Hadamard matrix with seeded row
 * order and column signs. Every basis vector is spread evenly over every coordinate, so the per-coordinate variance of
 * rotated activations is the same in every coordinate when the channels are uncorrelated.
 */
export const randomHadamard = (prng: Prng, n: number): Float64Array => {
  const h = hadamard(n)
  const order = Array.from({ length: n }, (_, i) => i)
  for (let i = n - 1; i > 0; i--) {
    const j = prng.int(i + 1)
    ;[order[i], order[j]] = [order[j]!, order[i]!]
  }
  const signs = Array.from({ length: n }, () => (prng.next() < 0.5 ? -1 : 1))
  const scale = 1 / Math.sqrt(n)
  return Float64Array.from({ length: n * n }, (_, k) => h[order[Math.floor(k / n)]! * n + (k % n)]! * signs[k % n]! * scale)
}
