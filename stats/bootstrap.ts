import { lruCache } from "./lruCache"
import { makePrng } from "./prng"

/** A point estimate with a percentile bootstrap interval. */
export interface Interval {
  readonly estimate: number
  readonly lo: number
  readonly hi: number
  /** Resamples whose statistic was finite (the interval uses only these). */
  readonly resamples: number
}

/** Options of the task bootstrap; defaults are 1,000 resamples, seed 0 and a 95% interval. */
export interface BootstrapOptions {
  readonly resamples?: number
  readonly seed?: number
  readonly level?: number
}

/** Row indices grouped by task, groups in order of first appearance. */
export const groupRows = (tasks: ReadonlyArray<string | number>): Int32Array[] => {
  const byTask = new Map<string | number, number[]>()
  tasks.forEach((t, i) => {
    const rows = byTask.get(t)
    if (rows === undefined) byTask.set(t, [i])
    else rows.push(i)
  })
  return [...byTask.values()].map((rows) => Int32Array.from(rows))
}

// The groups a bootstrap draws depend only on its seed, its resample count and how many groups there are, so the
// intervals of one evaluation (every metric, fold and label of the same size) share them; kept within a budget.
const DRAWN_BUDGET = 64 * 2 ** 20
const drawn = lruCache<Int32Array>(DRAWN_BUDGET)

/** Per resample r, the indices of the groups it draws (valid until the next call when not kept), in the order drawn. */
const drawsOf = (seed: number, resamples: number, groups: number): ((r: number) => Int32Array) => {
  const key = `${seed}|${resamples}|${groups}`
  const slice = (all: Int32Array) => (r: number) => all.subarray(r * groups, (r + 1) * groups)
  const known = drawn.recall(key)
  if (known !== undefined) return slice(known)
  const prng = makePrng(seed)
  if (resamples * groups * 4 > DRAWN_BUDGET) {
    const one = new Int32Array(groups)
    return () => {
      for (let g = 0; g < groups; g++) one[g] = prng.int(groups)
      return one
    }
  }
  const all = new Int32Array(resamples * groups)
  for (let i = 0; i < all.length; i++) all[i] = prng.int(groups)
  return slice(drawn.keep(key, all, all.byteLength))
}

/** The q-quantile of sorted values with linear interpolation (NumPy's default). */
export const quantileSorted = (sorted: ArrayLike<number>, q: number): number => {
  const n = sorted.length
  if (n === 0) return NaN
  const h = (n - 1) * q
  const lo = Math.floor(h)
  const hi = Math.min(lo + 1, n - 1)
  return sorted[lo]! + (h - lo) * (sorted[hi]! - sorted[lo]!)
}

/**
 * Percentile bootstrap over tasks: each resample draws as many tasks as there are, with replacement,
 * and passes the rows of the drawn tasks (all rows of one task together, duplicates kept) to `statistic`, which must
 * not write to them.
 * `tasks[i]` is the task of row i; the estimate is the statistic on all rows.
 */
export const bootstrapByTask = (
  tasks: ReadonlyArray<string | number>,
  statistic: (rows: Int32Array) => number,
  options: BootstrapOptions = {}
): Interval => bootstrapManyByTask(tasks, (rows) => [statistic(rows)], 1, options)[0]!

/**
 * `bootstrapByTask` for several statistics of the same resamples: `statistics` returns all of them for one set of
 * rows. Each interval equals the one `bootstrapByTask` gives its statistic alone (same seed, same resamples).
 */
export const bootstrapManyByTask = (
  tasks: ReadonlyArray<string | number>,
  statistics: (rows: Int32Array) => ArrayLike<number>,
  count: number,
  options: BootstrapOptions = {}
): Interval[] => {
  const resamples = options.resamples ?? 1000
  const level = options.level ?? 0.95
  if (tasks.length === 0) throw new Error("bootstrapByTask: tasks is empty")
  if (!Number.isInteger(resamples) || resamples < 1) throw new Error(`bootstrapByTask: resamples must be a positive integer, got ${resamples}`)
  if (!(level > 0 && level < 1)) throw new Error(`bootstrapByTask: level must be in (0, 1), got ${level}`)
  const groups = groupRows(tasks)
  const all = new Int32Array(tasks.length)
  for (let i = 0; i < all.length; i++) all[i] = i
  const estimates = Array.from(statistics(all))
  if (estimates.length !== count) throw new Error(`bootstrapManyByTask: statistics gave ${estimates.length} values, expected ${count}`)
  const draws = drawsOf(options.seed ?? 0, resamples, groups.length)
  const values = estimates.map((): number[] => [])
  // Most tasks hold one row: then a resample's rows are its drawn groups' rows, and in row order the draws themselves.
  const singles = groups.every((g) => g.length === 1)
  const identity = singles && groups.every((g, i) => g[0] === i)
  let buffer = new Int32Array(singles ? groups.length : tasks.length * 2)
  for (let r = 0; r < resamples; r++) {
    const picks = draws(r)
    let rows: Int32Array
    if (identity) rows = picks
    else if (singles) {
      for (let g = 0; g < picks.length; g++) buffer[g] = groups[picks[g]!]![0]!
      rows = buffer
    } else {
      let len = 0
      for (let g = 0; g < picks.length; g++) {
        const group = groups[picks[g]!]!
        if (len + group.length > buffer.length) {
          const grown = new Int32Array(Math.max(buffer.length * 2, len + group.length))
          grown.set(buffer.subarray(0, len))
          buffer = grown
        }
        buffer.set(group, len)
        len += group.length
      }
      rows = buffer.subarray(0, len)
    }
    const value = statistics(rows)
    for (let s = 0; s < count; s++) if (Number.isFinite(value[s]!)) values[s]!.push(value[s]!)
  }
  const tail = (1 - level) / 2
  return estimates.map((estimate, s) => {
    const sorted = values[s]!.sort((a, b) => a - b)
    return { estimate, lo: quantileSorted(sorted, tail), hi: quantileSorted(sorted, 1 - tail), resamples: sorted.length }
  })
}
