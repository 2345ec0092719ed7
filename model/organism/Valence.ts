/**
 * Planted latent valences. Each content word (a task-specific word: found in one task of the task sets) draws a
 * valence; a task's latent valence is the mean over its content words plus its dataset part, a constant per origin
 * given to every task that holds one of its origin's own words (topical words found in no other origin's tasks).
 */
import { normals, streamFor } from "./Random"

/** A task as the valence planter sees it: its origin and its words in order. */
export interface TaskWords {
  readonly origin: string
  readonly words: ReadonlyArray<string>
}

/** Word valences, the resulting task valences and their parts. Per-origin arrays follow `origins`. */
export interface PlantedValences {
  /** The origins in sorted order. */
  readonly origins: ReadonlyArray<string>
  /** k·ε(word) per content word. */
  readonly word: ReadonlyMap<string, number>
  /** Per own word (a topical word found only in one origin's tasks), the index of that origin. */
  readonly own: ReadonlyMap<string, number>
  /** Per task, whether it holds one of its origin's own words. */
  readonly marked: ReadonlyArray<boolean>
  /** c_o: added to the within part of origin o's marked tasks so that each origin's within part has mean 0. */
  readonly centre: ReadonlyArray<number>
  /** a_o: the dataset part of origin o's marked tasks, so that each origin's mean valence is the planted one. */
  readonly shift: ReadonlyArray<number>
  /** Per persona (spec order) and origin, the shift of a marked task: the persona's shift over the origin's marked share. */
  readonly personaShift: ReadonlyArray<ReadonlyArray<number>>
  /** Task valence: within + a_o on marked tasks. */
  readonly task: Float64Array
  /** Within-dataset part: mean word valence + c_o on marked tasks; mean 0 over each origin's tasks. */
  readonly within: Float64Array
  readonly noiseScale: number
}

/**
 * Plants valences so that, over the given tasks, each origin's mean task valence equals `originMeans[origin]` (0 when
 * unlisted), its within-dataset part has mean exactly 0, and the pooled within-origin standard deviation of the word
 * draws' part equals `spread`. A task's valence is k·mean ε(its content words) + (c_o + a_o)·[it holds an own word of
 * its origin o]: ε is a seeded normal draw per word; k scales the draws to `spread`; c_o cancels the mean of origin o's
 * draws and a_o sets its mean, both divided by the share of o's tasks that are marked. Being a step rather than a sum
 * over words, the dataset part is the same for every marked task of an origin, and no task carries any part of
 * another origin's. Tasks with no content word have no draw part. Own words are the `topical` words found in one
 * origin's tasks only; each persona's shift of an origin is likewise divided by the origin's marked share.
 */
export const plantValences = (
  seed: number,
  tasks: ReadonlyArray<TaskWords>,
  content: ReadonlySet<string>,
  topical: ReadonlySet<string>,
  originMeans: Readonly<Record<string, number>>,
  spread: number,
  personaShifts: ReadonlyArray<Readonly<Record<string, number>>> = []
): PlantedValences => {
  if (tasks.length === 0) throw new Error("plantValences: tasks is empty")
  const origins = [...new Set(tasks.map((t) => t.origin))].sort()
  const originIndex = new Map(origins.map((o, i) => [o, i]))
  const contentWords = tasks.map((t) => t.words.filter((w) => content.has(w)))
  const seen = new Map<string, Set<number>>()
  tasks.forEach((t, i) => {
    const words = t.words.filter((w) => topical.has(w))
    const o = originIndex.get(tasks[i]!.origin)!
    for (const w of words) {
      let s = seen.get(w)
      if (s === undefined) seen.set(w, (s = new Set()))
      s.add(o)
    }
  })
  const own = new Map([...seen].flatMap(([w, s]) => (s.size === 1 ? [[w, [...s][0]!] as const] : [])))
  const epsilon = new Map([...new Set(contentWords.flat())].map((w) => [w, normals(streamFor(seed, `valence:${w}`), 1)[0]!]))
  const mean = (xs: ReadonlyArray<number>) => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length)
  const noise = contentWords.map((ws) => mean(ws.map((w) => epsilon.get(w)!)))
  const members = origins.map((o) => tasks.flatMap((t, i) => (t.origin === o ? [i] : [])))
  let pooled = 0
  for (const idx of members) {
    const m = mean(idx.map((i) => noise[i]!))
    for (const i of idx) pooled += (noise[i]! - m) ** 2
  }
  const sd = Math.sqrt(pooled / tasks.length)
  const k = sd === 0 ? 0 : spread / sd
  const marked = tasks.map((t) => t.words.some((w) => own.has(w)))
  const centre: number[] = []
  const shift: number[] = []
  const shares = members.map((idx) => mean(idx.map((i) => (marked[i] ? 1 : 0))))
  members.forEach((idx, o) => {
    const share = shares[o]!
    const drawMean = k * mean(idx.map((i) => noise[i]!))
    const target = originMeans[origins[o]!] ?? 0
    if (share === 0 && (Math.abs(drawMean) > 1e-12 || target !== 0))
      throw new Error(`plantValences: origin "${origins[o]}" cannot be given its own mean: none of its tasks has a word found only in its tasks`)
    centre.push(share === 0 ? 0 : -drawMean / share)
    shift.push(share === 0 ? 0 : target / share)
  })
  const personaShift = personaShifts.map((shifts, p) =>
    origins.map((o, i) => {
      const s = shifts[o] ?? 0
      if (s !== 0 && shares[i] === 0)
        throw new Error(`plantValences: persona ${p} shifts origin "${o}", but none of its tasks has a word of its own`)
      return s === 0 ? 0 : s / shares[i]!
    })
  )
  const word = new Map([...epsilon].map(([w, e]) => [w, k * e]))
  const within = Float64Array.from(tasks, (t, i) => k * noise[i]! + (marked[i] ? centre[originIndex.get(t.origin)!]! : 0))
  const task = Float64Array.from(tasks, (t, i) => within[i]! + (marked[i] ? shift[originIndex.get(t.origin)!]! : 0))
  return { origins, word, own, marked, centre, shift, personaShift, task, within, noiseScale: k }
}
