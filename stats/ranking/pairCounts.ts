/** Revealed-preference records and their aggregation into win counts per unordered pair of tasks. */

/** One pairwise choice: `task_a` was shown first, `task_b` second, and `choice` names the one picked (or a refusal). */
export interface Comparison {
  readonly task_a: string
  readonly task_b: string
  readonly choice: "a" | "b" | "refusal"
}

/** Win counts per unordered pair of task indices (`i[k] < j[k]`), over `tasks`; refusals are not counted. */
export interface PairCounts {
  readonly tasks: ReadonlyArray<string>
  readonly i: Int32Array
  readonly j: Int32Array
  readonly winsI: Float64Array
  readonly winsJ: Float64Array
}

/** Code-unit order, which is Python's string order for the ASCII identifiers used here. */
export const compareIds = (x: string, y: string): number => (x < y ? -1 : x > y ? 1 : 0)

/** Every task named in `comparisons` (refusals included), sorted. */
export const sortedTasks = (comparisons: ReadonlyArray<Comparison>): string[] => {
  const seen = new Set<string>()
  for (const c of comparisons) {
    seen.add(c.task_a)
    seen.add(c.task_b)
  }
  return [...seen].sort(compareIds)
}

/** The winner and loser of a non-refused comparison. */
export const winnerLoser = (c: Comparison): readonly [string, string] =>
  c.choice === "a" ? [c.task_a, c.task_b] : [c.task_b, c.task_a]

/** Aggregates `comparisons` into win counts per pair, over `tasks` (default: every task named, sorted). */
export const pairCounts = (comparisons: ReadonlyArray<Comparison>, tasks: ReadonlyArray<string> = sortedTasks(comparisons)): PairCounts => {
  const index = new Map<string, number>()
  tasks.forEach((t, k) => {
    if (index.has(t)) throw new RangeError(`pairCounts: tasks lists "${t}" twice`)
    index.set(t, k)
  })
  const slot = new Map<number, number>()
  const iList: number[] = []
  const jList: number[] = []
  const wi: number[] = []
  const wj: number[] = []
  const n = tasks.length
  for (const c of comparisons) {
    if (c.choice === "refusal") continue
    if (c.choice !== "a" && c.choice !== "b") throw new RangeError(`pairCounts: choice must be "a", "b" or "refusal", got ${JSON.stringify(c.choice)}`)
    const [winner, loser] = winnerLoser(c)
    const w = index.get(winner)
    const l = index.get(loser)
    if (w === undefined || l === undefined) throw new RangeError(`pairCounts: task "${w === undefined ? winner : loser}" is not in tasks`)
    if (w === l) throw new RangeError(`pairCounts: task "${winner}" is compared with itself`)
    const lo = Math.min(w, l)
    const hi = Math.max(w, l)
    const key = lo * n + hi
    let k = slot.get(key)
    if (k === undefined) {
      k = iList.length
      slot.set(key, k)
      iList.push(lo)
      jList.push(hi)
      wi.push(0)
      wj.push(0)
    }
    if (w === lo) wi[k]!++
    else wj[k]!++
  }
  return {
    tasks,
    i: Int32Array.from(iList),
    j: Int32Array.from(jList),
    winsI: Float64Array.from(wi),
    winsJ: Float64Array.from(wj)
  }
}
