/**
 * Held-out evaluation of a utility fit. The split holds out whole pairs, so a fit never sees any
 * repeat of a pair it is scored on: distinct unordered pairs (each written smaller id first) are
 * sorted, permuted by `numpy.random.default_rng(seed).permutation`, and the first
 * ⌊fraction · pairs⌋ are held out. Accuracy counts each non-refused held-out record once (repeats
 * of a pair weigh by their number), the predicted winner being the task with the higher utility;
 * on the Gemma-3-27B reference file this reproduces `n_heldout_records` and `heldout_accuracy` exactly.
 */
import { permutation } from "../random"
import { compareIds, type Comparison } from "./pairCounts"

/** Train and test records (refusals kept on both sides) and the number of held-out pairs. */
export interface HeldOutSplit {
  readonly train: ReadonlyArray<Comparison>
  readonly test: ReadonlyArray<Comparison>
  readonly heldOutPairs: number
}

/** Held-out pair accuracy: the fraction of non-refused test records whose chosen task has the higher utility (a tie counts ½). */
export interface HeldOutAccuracy {
  readonly accuracy: number
  readonly records: number
  readonly ties: number
}

const pairKey = (c: Comparison): string => {
  const [lo, hi] = compareIds(c.task_a, c.task_b) <= 0 ? [c.task_a, c.task_b] : [c.task_b, c.task_a]
  return `${lo}\u0000${hi}`
}

/** Splits records by unordered pair as NumPy does with `default_rng(seed).permutation` (default seed 0, fraction 0.2). */
export const heldOutSplit = (
  comparisons: ReadonlyArray<Comparison>,
  options: { readonly seed?: number; readonly fraction?: number } = {}
): HeldOutSplit => {
  const seed = options.seed ?? 0
  const fraction = options.fraction ?? 0.2
  if (!(fraction >= 0 && fraction <= 1)) throw new RangeError(`heldOutSplit: options.fraction must be in [0, 1], got ${fraction}`)
  // "\u0000" sorts below every other character, so sorting the joined keys sorts the (lo, hi) tuples.
  const pairs = [...new Set(comparisons.map(pairKey))].sort(compareIds)
  const order = permutation(seed, pairs.length)
  const heldOutPairs = Math.floor(fraction * pairs.length)
  const held = new Set<string>()
  for (let k = 0; k < heldOutPairs; k++) held.add(pairs[order[k]!]!)
  const train: Comparison[] = []
  const test: Comparison[] = []
  for (const c of comparisons) (held.has(pairKey(c)) ? test : train).push(c)
  return { train, test, heldOutPairs }
}

/** Scores `utility` on the non-refused records of `comparisons`: predicted winner = higher utility. */
export const heldOutAccuracy = (utility: ReadonlyMap<string, number>, comparisons: ReadonlyArray<Comparison>): HeldOutAccuracy => {
  let correct = 0
  let records = 0
  let ties = 0
  for (const c of comparisons) {
    if (c.choice === "refusal") continue
    const ua = utility.get(c.task_a)
    const ub = utility.get(c.task_b)
    if (ua === undefined || ub === undefined) throw new RangeError(`heldOutAccuracy: utility has no value for task "${ua === undefined ? c.task_a : c.task_b}"`)
    records++
    if (ua === ub) {
      ties++
      correct += 0.5
    } else if ((ua > ub) === (c.choice === "a")) correct++
  }
  return { accuracy: records === 0 ? Number.NaN : correct / records, records, ties }
}

/** Maps each task to its utility, for `heldOutAccuracy`. */
export const utilityMap = (tasks: ReadonlyArray<string>, utilities: ArrayLike<number>): Map<string, number> => {
  if (tasks.length !== utilities.length) throw new RangeError(`utilityMap: tasks (${tasks.length}) and utilities (${utilities.length}) must have one length`)
  return new Map(tasks.map((t, k) => [t, utilities[k]!]))
}
