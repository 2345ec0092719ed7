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

/** A random orthogonal n×n matrix (row-major): Gram-Schmidt on a Gaussian matrix, so its distribution is Haar. */
export const randomOrthogonal = (prng: Prng, n: number): Float64Array => {
  const q = normals(prng, n * n)
  for (let i = 0; i < n; i++) {
    for (let pass = 0; pass < 2; pass++) {
      for (let j = 0; j < i; j++) {
        let dot = 0
        for (let k = 0; k < n; k++) dot += q[i * n + k]! * q[j * n + k]!
        for (let k = 0; k < n; k++) q[i * n + k] = q[i * n + k]! - dot * q[j * n + k]!
      }
    }
    let norm = 0
    for (let k = 0; k < n; k++) norm += q[i * n + k]! ** 2
    norm = Math.sqrt(norm)
    for (let k = 0; k < n; k++) q[i * n + k] = q[i * n + k]! / norm
  }
  return q
}
