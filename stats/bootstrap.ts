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
 * and passes the rows of the drawn tasks (all rows of one task together, duplicates kept) to `statistic`.
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
  const prng = makePrng(options.seed ?? 0)
  const values = estimates.map((): number[] => [])
  const buffer = new Int32Array(tasks.length * 4)
  for (let r = 0; r < resamples; r++) {
    let rows = buffer
    let len = 0
    for (let g = 0; g < groups.length; g++) {
      const group = groups[prng.int(groups.length)]!
      if (len + group.length > rows.length) {
        const grown = new Int32Array(Math.max(rows.length * 2, len + group.length))
        grown.set(rows.subarray(0, len))
        rows = grown
      }
      // Most tasks hold one row, and a typed-array copy of one element costs more than the element.
      if (group.length === 1) rows[len++] = group[0]!
      else {
        rows.set(group, len)
        len += group.length
      }
    }
    const value = statistics(rows.subarray(0, len))
    for (let s = 0; s < count; s++) if (Number.isFinite(value[s]!)) values[s]!.push(value[s]!)
  }
  const tail = (1 - level) / 2
  return estimates.map((estimate, s) => {
    const sorted = values[s]!.sort((a, b) => a - b)
    return { estimate, lo: quantileSorted(sorted, tail), hi: quantileSorted(sorted, 1 - tail), resamples: sorted.length }
  })
}
