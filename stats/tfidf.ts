import type { Dense } from "./dense"

/** How texts become hashed tf-idf vectors. */
export interface TfidfOptions {
  /** Number of hashed columns: every term lands in column |h| mod width with sign sign(h). */
  readonly width: number
  /** Longest n-gram counted (1: words only, 2: words and adjacent word pairs). */
  readonly maxN?: number
  /** Terms found in fewer texts are left out (scikit-learn's min_df); 1 keeps every term. */
  readonly minDf?: number
}

/** Hashed tf-idf rows of a collection and what the hashing did to its terms. */
export interface HashedTfidf {
  readonly matrix: Dense
  /** Distinct terms (n-grams) kept (found in at least `minDf` texts). */
  readonly terms: number
  /** Columns holding at least one term. */
  readonly occupied: number
  /** Terms that share their column with another term. */
  readonly collided: number
  /** Texts with no kept term (their row is zero). */
  readonly empty: number
}

/** Lower-cased NFKC tokens of a text: maximal runs of letters and digits. */
export const tokenize = (text: string): string[] => text.normalize("NFKC").toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []

/** The n-grams of a token list for n = 1..maxN, each joined by one space, in order of length then position. */
export const ngrams = (tokens: ReadonlyArray<string>, maxN = 2): string[] => {
  const out: string[] = []
  for (let n = 1; n <= maxN; n++) for (let i = 0; i + n <= tokens.length; i++) out.push(tokens.slice(i, i + n).join(" "))
  return out
}

const encoder = new TextEncoder()

/** MurmurHash3 (x86, 32-bit) of a string's UTF-8 bytes as a signed 32-bit integer, as scikit-learn's `murmurhash3_32`. */
export const murmur3 = (key: string, seed = 0): number => {
  const bytes = encoder.encode(key)
  const c1 = 0xcc9e2d51, c2 = 0x1b873593
  let h = seed >>> 0
  const blocks = bytes.length - (bytes.length % 4)
  for (let i = 0; i < blocks; i += 4) {
    let k = bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24)
    k = Math.imul(k, c1)
    k = (k << 15) | (k >>> 17)
    k = Math.imul(k, c2)
    h ^= k
    h = (h << 13) | (h >>> 19)
    h = (Math.imul(h, 5) + 0xe6546b64) | 0
  }
  const tail = bytes.length % 4
  if (tail > 0) {
    let k = 0
    for (let i = tail - 1; i >= 0; i--) k = (k << 8) | bytes[blocks + i]!
    k = Math.imul(k, c1)
    k = (k << 15) | (k >>> 17)
    k = Math.imul(k, c2)
    h ^= k
  }
  h ^= bytes.length
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h | 0
}

/**
 * Tf-idf of word n-grams hashed to a fixed width, one unit-length row per text: term weight (1 + ln tf)·idf with
 * idf = ln((1 + n)/(1 + df)) + 1 over the given texts (scikit-learn's TfidfVectorizer with sublinear_tf and smooth
 * idf), each term added with sign sign(h) into column |h| mod width (h = murmur3 of the term, as HashingVectorizer's
 * alternate signs, so colliding terms cancel on average instead of adding up), then the row scaled to unit length.
 * Document frequencies are counted per term before hashing, so collisions never merge two terms' idf; terms found in
 * fewer than `minDf` texts are left out before anything else (idf still counts every text).
 */
export const hashedTfidf = (texts: ReadonlyArray<string>, options: TfidfOptions): HashedTfidf => {
  const { width } = options
  const maxN = options.maxN ?? 2
  const minDf = options.minDf ?? 1
  if (!Number.isInteger(width) || width < 1) throw new Error(`hashedTfidf: width must be a positive integer, got ${width}`)
  if (!Number.isInteger(maxN) || maxN < 1) throw new Error(`hashedTfidf: maxN must be a positive integer, got ${maxN}`)
  if (!Number.isInteger(minDf) || minDf < 1) throw new Error(`hashedTfidf: minDf must be a positive integer, got ${minDf}`)
  const n = texts.length
  const counts = texts.map((text) => {
    const tf = new Map<string, number>()
    for (const term of ngrams(tokenize(text), maxN)) tf.set(term, (tf.get(term) ?? 0) + 1)
    return tf
  })
  const df = new Map<string, number>()
  for (const tf of counts) for (const term of tf.keys()) df.set(term, (df.get(term) ?? 0) + 1)
  const slot = new Map<string, { column: number; sign: number; idf: number }>()
  const perColumn = new Int32Array(width)
  for (const [term, d] of df) {
    if (d < minDf) continue
    const h = murmur3(term)
    const column = Math.abs(h) % width
    perColumn[column]! += 1
    slot.set(term, { column, sign: h >= 0 ? 1 : -1, idf: Math.log((1 + n) / (1 + d)) + 1 })
  }
  const data = new Float64Array(n * width)
  counts.forEach((tf, i) => {
    const row = i * width
    for (const [term, c] of tf) {
      const s = slot.get(term)
      if (s !== undefined) data[row + s.column]! += s.sign * (1 + Math.log(c)) * s.idf
    }
    let norm = 0
    for (let j = 0; j < width; j++) norm += data[row + j]! ** 2
    if (norm > 0) {
      const scale = 1 / Math.sqrt(norm)
      for (let j = 0; j < width; j++) data[row + j]! *= scale
    }
  })
  let occupied = 0, collided = 0
  for (const c of perColumn) {
    if (c > 0) occupied++
    if (c > 1) collided += c
  }
  const empty = counts.filter((tf) => ![...tf.keys()].some((term) => slot.has(term))).length
  return { matrix: { data, rows: n, cols: width }, terms: slot.size, occupied, collided, empty }
}
