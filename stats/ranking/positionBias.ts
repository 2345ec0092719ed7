/**
 * Position bias in pairwise choices. The raw rate of choosing the first-shown task mixes position
 * bias with which tasks happened to be shown first; for pairs asked in both orders the mixing
 * cancels: if P(first chosen | x, y) = p and P(first chosen | y, x) = q, then ½(p + q) is the
 * position effect alone and ½(p + 1 − q) is the preference for x with position cancelled.
 */
import { type Proportion, wilson } from "../regression"
import { compareIds, type Comparison } from "./pairCounts"

/** P(choose first) over non-refused records with its Wilson interval, and the order-cancelled estimate over pairs asked both ways. */
export interface PositionBias {
  readonly first: Proportion
  /** Unordered pairs with at least one non-refused answer in each order. */
  readonly balancedPairs: number
  /** Mean over those pairs of ½(P(first | x, y) + P(first | y, x)); NaN when there are none. */
  readonly balancedFirstRate: number
}

/** For a pair asked in both orders, P(`task_x` chosen) with position cancelled (`task_x` sorts before `task_y`). */
export interface OrderCancelledRate {
  readonly task_x: string
  readonly task_y: string
  readonly rate: number
}

interface OrderTally {
  xFirst: number
  xFirstChosen: number
  yFirst: number
  yFirstChosen: number
}

const tallyByPair = (comparisons: ReadonlyArray<Comparison>): Map<string, { x: string; y: string; t: OrderTally }> => {
  const out = new Map<string, { x: string; y: string; t: OrderTally }>()
  for (const c of comparisons) {
    if (c.choice === "refusal") continue
    const xFirst = compareIds(c.task_a, c.task_b) <= 0
    const [x, y] = xFirst ? [c.task_a, c.task_b] : [c.task_b, c.task_a]
    const key = `${x}\u0000${y}`
    let entry = out.get(key)
    if (entry === undefined) {
      entry = { x, y, t: { xFirst: 0, xFirstChosen: 0, yFirst: 0, yFirstChosen: 0 } }
      out.set(key, entry)
    }
    const firstChosen = c.choice === "a" ? 1 : 0
    if (xFirst) {
      entry.t.xFirst++
      entry.t.xFirstChosen += firstChosen
    } else {
      entry.t.yFirst++
      entry.t.yFirstChosen += firstChosen
    }
  }
  return out
}

/** Measures how often the first-shown task is chosen (refusals excluded), overall and order-cancelled. */
export const positionBias = (comparisons: ReadonlyArray<Comparison>, level = 0.95): PositionBias => {
  let n = 0
  let firstChosen = 0
  for (const c of comparisons) {
    if (c.choice === "refusal") continue
    n++
    if (c.choice === "a") firstChosen++
  }
  if (n === 0) throw new RangeError("positionBias: comparisons has no non-refused record")
  let balancedPairs = 0
  let sum = 0
  for (const { t } of tallyByPair(comparisons).values()) {
    if (t.xFirst === 0 || t.yFirst === 0) continue
    balancedPairs++
    sum += 0.5 * (t.xFirstChosen / t.xFirst + t.yFirstChosen / t.yFirst)
  }
  return { first: wilson(firstChosen, n, level), balancedPairs, balancedFirstRate: balancedPairs === 0 ? Number.NaN : sum / balancedPairs }
}

/** Position-cancelled choice rates for every unordered pair asked in both orders (refusals excluded). */
export const orderCancelledRates = (comparisons: ReadonlyArray<Comparison>): OrderCancelledRate[] => {
  const out: OrderCancelledRate[] = []
  for (const { x, y, t } of tallyByPair(comparisons).values()) {
    if (t.xFirst === 0 || t.yFirst === 0) continue
    out.push({ task_x: x, task_y: y, rate: 0.5 * (t.xFirstChosen / t.xFirst + 1 - t.yFirstChosen / t.yFirst) })
  }
  return out
}
