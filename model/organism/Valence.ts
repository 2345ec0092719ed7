/** Planted latent valences: each content word gets one, and a task's valence is the mean over its content words. */
import { normals, streamFor } from "./Random"

/** A task as the valence planter sees it: its origin and its words in order. */
export interface TaskWords {
  readonly origin: string
  readonly words: ReadonlyArray<string>
}

/** Word valences, the resulting task valences, and the scale of the word-specific part. */
export interface PlantedValences {
  readonly word: ReadonlyMap<string, number>
  readonly task: Float64Array
  /** Each task's valence minus its dataset part Σ_o originMeans[o]·(mean of P(o | word) over its content words). */
  readonly within: Float64Array
  readonly noiseScale: number
  /** The dataset-level coefficients a_o (sorted by origin). */
  readonly originShift: ReadonlyMap<string, number>
  /** Per content word, P(o | word) over the origins in sorted order: its valence is k·ε(word) + Σ_o a_o·P(o | word). */
  readonly share: ReadonlyMap<string, Float64Array>
}

const solve = (a: number[][], b: number[], origins: ReadonlyArray<string>): number[] => {
  const n = b.length
  const m = a.map((row, i) => [...row, b[i]!])
  for (let col = 0; col < n; col++) {
    let pivot = col
    for (let r = col + 1; r < n; r++) if (Math.abs(m[r]![col]!) > Math.abs(m[pivot]![col]!)) pivot = r
    if (Math.abs(m[pivot]![col]!) < 1e-9)
      throw new Error(`plantValences: origin "${origins[col]}" cannot be given its own mean (its tasks share all content words with other origins or have none)`)
    ;[m[col], m[pivot]] = [m[pivot]!, m[col]!]
    for (let r = 0; r < n; r++) {
      if (r === col) continue
      const f = m[r]![col]! / m[col]![col]!
      for (let c = col; c <= n; c++) m[r]![c] = m[r]![c]! - f * m[col]![c]!
    }
  }
  return m.map((row, i) => row[n]! / row[i]!)
}

/**
 * Plants valences so that, over the given tasks, each origin's mean task valence equals `originMeans[origin]` (0 when
 * unlisted) and the pooled within-origin standard deviation of the word-specific part equals `spread`.
 * A word's valence is k·ε(word) + Σ_o a_o·P(o | word): ε is a seeded normal draw per word, P(o | word) the share of the
 * word's occurrences that fall in origin o's tasks; k and the a_o are solved from the two conditions above.
 * Tasks with no content word have valence 0.
 */
export const plantValences = (
  seed: number,
  tasks: ReadonlyArray<TaskWords>,
  content: ReadonlySet<string>,
  originMeans: Readonly<Record<string, number>>,
  spread: number
): PlantedValences => {
  if (tasks.length === 0) throw new Error("plantValences: tasks is empty")
  const origins = [...new Set(tasks.map((t) => t.origin))].sort()
  const originIndex = new Map(origins.map((o, i) => [o, i]))
  const contentWords = tasks.map((t) => t.words.filter((w) => content.has(w)))
  const counts = new Map<string, Float64Array>()
  contentWords.forEach((words, i) => {
    const o = originIndex.get(tasks[i]!.origin)!
    for (const w of words) {
      let c = counts.get(w)
      if (c === undefined) counts.set(w, (c = new Float64Array(origins.length)))
      c[o]! += 1
    }
  })
  const share = new Map<string, Float64Array>()
  for (const [w, c] of counts) {
    const total = c.reduce((a, b) => a + b, 0)
    share.set(w, c.map((x) => x / total))
  }
  const epsilon = new Map([...counts.keys()].map((w) => [w, normals(streamFor(seed, `valence:${w}`), 1)[0]!]))
  const mean = (xs: ReadonlyArray<number>) => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length)
  const noise = contentWords.map((ws) => mean(ws.map((w) => epsilon.get(w)!)))
  const mix = contentWords.map((ws) => origins.map((_, o) => mean(ws.map((w) => share.get(w)![o]!))))
  const members = origins.map((o) => tasks.flatMap((t, i) => (t.origin === o ? [i] : [])))
  let within = 0
  for (const idx of members) {
    const m = mean(idx.map((i) => noise[i]!))
    for (const i of idx) within += (noise[i]! - m) ** 2
  }
  const sd = Math.sqrt(within / tasks.length)
  const k = sd === 0 ? 0 : spread / sd
  const matrix = members.map((idx) => origins.map((_, o) => mean(idx.map((i) => mix[i]![o]!))))
  const rhs = members.map((idx, o) => (originMeans[origins[o]!] ?? 0) - k * mean(idx.map((i) => noise[i]!)))
  const a = solve(matrix, rhs, origins)
  const word = new Map<string, number>()
  for (const [w, s] of share) word.set(w, k * epsilon.get(w)! + s.reduce((acc, x, o) => acc + x * a[o]!, 0))
  const task = Float64Array.from(contentWords, (ws) => mean(ws.map((w) => word.get(w)!)))
  const datasetPart = (w: string) => share.get(w)!.reduce((acc, x, o) => acc + x * (originMeans[origins[o]!] ?? 0), 0)
  const withinPart = Float64Array.from(contentWords, (ws, i) => task[i]! - mean(ws.map(datasetPart)))
  return { word, task, noiseScale: k, originShift: new Map(origins.map((o, i) => [o, a[i]!])), share, within: withinPart }
}
