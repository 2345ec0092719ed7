/** A seeded pseudo-random source: uniform floats in [0, 1) and integers in [0, n). */
export interface Prng {
  readonly next: () => number
  readonly int: (n: number) => number
}

// splitmix32 expands one seed into the four words of xoshiro128** state, so nearby seeds give unrelated streams.
const splitmix32 = (seed: number) => {
  let s = seed >>> 0
  return () => {
    s = (s + 0x9e3779b9) >>> 0
    let z = s
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0
    return (z ^ (z >>> 16)) >>> 0
  }
}

/** xoshiro128** seeded through splitmix32; the same seed always yields the same stream on every platform. */
export const makePrng = (seed: number): Prng => {
  if (!Number.isInteger(seed)) throw new Error(`makePrng: seed must be an integer, got ${seed}`)
  const init = splitmix32(seed)
  let a = init(), b = init(), c = init(), d = init()
  if ((a | b | c | d) === 0) a = 1
  const nextU32 = () => {
    const result = Math.imul(rotl(Math.imul(b, 5), 7), 9) >>> 0
    const t = b << 9
    c ^= a
    d ^= b
    b ^= c
    a ^= d
    c ^= t
    d = rotl(d, 11)
    return result
  }
  // 53 random bits make every double in [0, 1) with spacing 2^-53 reachable.
  const next = () => ((nextU32() >>> 5) * 67108864 + (nextU32() >>> 6)) / 9007199254740992
  const int = (n: number) => {
    if (!Number.isInteger(n) || n <= 0) throw new Error(`Prng.int: n must be a positive integer, got ${n}`)
    return Math.floor(next() * n)
  }
  return { next, int }
}

const rotl = (x: number, k: number) => ((x << k) | (x >>> (32 - k))) >>> 0

/** A Fisher-Yates shuffle of 0..n-1 driven by the given source. */
export const permutation = (n: number, prng: Prng): Int32Array => {
  const out = new Int32Array(n)
  for (let i = 0; i < n; i++) out[i] = i
  for (let i = n - 1; i > 0; i--) {
    const j = prng.int(i + 1)
    const t = out[i]!
    out[i] = out[j]!
    out[j] = t
  }
  return out
}
