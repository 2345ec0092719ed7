/**
 * NumPy's default generator, bit for bit: `numpy.random.default_rng(seed)` is a SeedSequence that
 * fills the 128-bit state and increment of a PCG64 (XSL-RR output), and `Generator.permutation(n)`
 * is a Fisher–Yates shuffle of `arange(n)` that draws each index with NumPy's masked-rejection
 * bounded integer (`random_interval`). Reproducing it exactly lets splits defined with NumPy (e.g. held-out pairs) be rebuilt here.
 */

const MASK32 = 0xffffffffn
const MASK64 = (1n << 64n) - 1n
const MASK128 = (1n << 128n) - 1n
const PCG_MULTIPLIER = (2549297995355413924n << 64n) + 4865540595714422341n

// SeedSequence hashing constants (numpy/random/bit_generator.pyx).
const INIT_A = 0x43b0d7e5
const MULT_A = 0x931e8875
const INIT_B = 0x8b51f9dd
const MULT_B = 0x58f38ded
const MIX_MULT_L = 0xca01f9dd
const MIX_MULT_R = 0x4973f715
const POOL_SIZE = 4

/** A PCG64 stream; `nextUint32` hands out the two halves of one 64-bit draw, low half first, as NumPy does. */
export interface Pcg64 {
  readonly nextUint64: () => bigint
  readonly nextUint32: () => number
  /** A double in [0, 1) from the top 53 bits of a 64-bit draw (NumPy's `Generator.random()`). */
  readonly nextDouble: () => number
}

const hashMix = (value: number, hashConst: { h: number }): number => {
  let v = (value ^ hashConst.h) >>> 0
  hashConst.h = Math.imul(hashConst.h, MULT_A) >>> 0
  v = Math.imul(v, hashConst.h) >>> 0
  return (v ^ (v >>> 16)) >>> 0
}

const mix = (x: number, y: number): number => {
  const r = (Math.imul(MIX_MULT_L, x) - Math.imul(MIX_MULT_R, y)) >>> 0
  return (r ^ (r >>> 16)) >>> 0
}

const seedWords = (seed: bigint): number[] => {
  if (seed < 0n) throw new RangeError(`seedSequenceState: seed must be non-negative, got ${seed}`)
  const words: number[] = []
  let rest = seed
  do {
    words.push(Number(rest & MASK32))
    rest >>= 32n
  } while (rest > 0n)
  return words
}

/** `SeedSequence(seed).generate_state(nWords, uint32)`: NumPy's seed hashing, for a non-negative integer seed. */
export const seedSequenceState = (seed: number | bigint, nWords: number): Uint32Array => {
  if (!Number.isInteger(nWords) || nWords < 0) throw new RangeError(`seedSequenceState: nWords must be a non-negative integer, got ${nWords}`)
  const entropy = seedWords(BigInt(seed))
  const pool = new Array<number>(POOL_SIZE).fill(0)
  const hashConst = { h: INIT_A }
  for (let i = 0; i < POOL_SIZE; i++) pool[i] = hashMix(i < entropy.length ? entropy[i]! : 0, hashConst)
  for (let src = 0; src < POOL_SIZE; src++) {
    for (let dst = 0; dst < POOL_SIZE; dst++) {
      if (src !== dst) pool[dst] = mix(pool[dst]!, hashMix(pool[src]!, hashConst))
    }
  }
  for (let src = POOL_SIZE; src < entropy.length; src++) {
    for (let dst = 0; dst < POOL_SIZE; dst++) pool[dst] = mix(pool[dst]!, hashMix(entropy[src]!, hashConst))
  }
  const out = new Uint32Array(nWords)
  let h = INIT_B
  for (let i = 0; i < nWords; i++) {
    let v = (pool[i % POOL_SIZE]! ^ h) >>> 0
    h = Math.imul(h, MULT_B) >>> 0
    v = Math.imul(v, h) >>> 0
    out[i] = (v ^ (v >>> 16)) >>> 0
  }
  return out
}

/** The PCG64 stream of `numpy.random.default_rng(seed)`, for a non-negative integer seed. */
export const pcg64 = (seed: number | bigint): Pcg64 => {
  const words = seedSequenceState(seed, 8)
  // generate_state(4, uint64) views pairs of little-endian uint32 words as uint64.
  const u64 = (k: number): bigint => (BigInt(words[2 * k + 1]!) << 32n) | BigInt(words[2 * k]!)
  const initState = (u64(0) << 64n) | u64(1)
  const inc = (((u64(2) << 64n) | u64(3)) << 1n | 1n) & MASK128
  let state = 0n
  const step = () => {
    state = (state * PCG_MULTIPLIER + inc) & MASK128
  }
  step()
  state = (state + initState) & MASK128
  step()
  let spare: number | undefined
  const nextUint64 = (): bigint => {
    step()
    const x = ((state >> 64n) ^ state) & MASK64
    const rot = state >> 122n
    return ((x >> rot) | (x << ((64n - rot) & 63n))) & MASK64
  }
  const nextUint32 = (): number => {
    if (spare !== undefined) {
      const s = spare
      spare = undefined
      return s
    }
    const next = nextUint64()
    spare = Number(next >> 32n)
    return Number(next & MASK32)
  }
  const nextDouble = (): number => Number(nextUint64() >> 11n) / 9007199254740992
  return { nextUint64, nextUint32, nextDouble }
}

/** A uniform integer in [0, max] (max < 2^32) by masked rejection, as NumPy's `random_interval` (used by `shuffle`) does. */
export const randomInterval = (rng: Pcg64, max: number): number => {
  if (!Number.isInteger(max) || max < 0 || max > 0xffffffff) throw new RangeError(`randomInterval: max must be an integer in [0, 2^32), got ${max}`)
  if (max === 0) return 0
  let mask = max
  mask |= mask >>> 1
  mask |= mask >>> 2
  mask |= mask >>> 4
  mask |= mask >>> 8
  mask |= mask >>> 16
  let value: number
  do value = (rng.nextUint32() & mask) >>> 0
  while (value > max)
  return value
}

/** Shuffles `values` in place exactly as NumPy's `Generator.shuffle` does for a 1-d array. */
export const shuffleInPlace = <T extends { length: number; [i: number]: unknown }>(rng: Pcg64, values: T): T => {
  for (let i = values.length - 1; i >= 1; i--) {
    const j = randomInterval(rng, i)
    const tmp = values[i]
    values[i] = values[j]
    values[j] = tmp
  }
  return values
}

/** `numpy.random.default_rng(seed).permutation(n)`. */
export const permutation = (seed: number | bigint, n: number): Int32Array => {
  if (!Number.isInteger(n) || n < 0 || n > 0x7fffffff) throw new RangeError(`permutation: n must be an integer in [0, 2^31), got ${n}`)
  const out = new Int32Array(n)
  for (let i = 0; i < n; i++) out[i] = i
  return shuffleInPlace(pcg64(seed), out)
}
