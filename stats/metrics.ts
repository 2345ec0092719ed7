import { normalQuantile } from "./distributions"

const sameLength = (fn: string, a: ArrayLike<number>, b: ArrayLike<number>, an: string, bn: string) => {
  if (a.length !== b.length) throw new Error(`${fn}: ${an} has ${a.length} values but ${bn} has ${b.length}`)
  if (a.length === 0) throw new Error(`${fn}: ${an} is empty`)
}

const mean = (x: ArrayLike<number>) => {
  let s = 0
  for (let i = 0; i < x.length; i++) s += x[i]!
  return s / x.length
}

/** Coefficient of determination as scikit-learn's `r2_score`: 1 − SS_res/SS_tot (1 or 0 when the targets are constant). */
export const r2Score = (yTrue: ArrayLike<number>, yPred: ArrayLike<number>): number => {
  sameLength("r2Score", yTrue, yPred, "yTrue", "yPred")
  const m = mean(yTrue)
  let res = 0, tot = 0
  for (let i = 0; i < yTrue.length; i++) {
    res += (yTrue[i]! - yPred[i]!) ** 2
    tot += (yTrue[i]! - m) ** 2
  }
  if (tot === 0) return res === 0 ? 1 : 0
  return 1 - res / tot
}

/** R² after shifting the predictions so that their mean equals the mean of the targets. */
export const meanAdjustedR2 = (yTrue: ArrayLike<number>, yPred: ArrayLike<number>): number => {
  sameLength("meanAdjustedR2", yTrue, yPred, "yTrue", "yPred")
  const shift = mean(yTrue) - mean(yPred)
  const shifted = new Float64Array(yPred.length)
  for (let i = 0; i < yPred.length; i++) shifted[i] = yPred[i]! + shift
  return r2Score(yTrue, shifted)
}

/** Pearson correlation coefficient (NaN when either side is constant). */
export const pearson = (x: ArrayLike<number>, y: ArrayLike<number>): number => {
  sameLength("pearson", x, y, "x", "y")
  const mx = mean(x), my = mean(y)
  let sxy = 0, sxx = 0, syy = 0
  for (let i = 0; i < x.length; i++) {
    const dx = x[i]! - mx, dy = y[i]! - my
    sxy += dx * dy
    sxx += dx * dx
    syy += dy * dy
  }
  return sxy / Math.sqrt(sxx * syy)
}

/** A correlation with its sample size and a Fisher-z confidence interval. */
export interface Correlation {
  readonly r: number
  readonly n: number
  readonly lo: number
  readonly hi: number
}

/** Fisher-z interval for a correlation r from n pairs: tanh(atanh r ± z/√(n−3)); NaN bounds when n ≤ 3. */
export const fisherInterval = (r: number, n: number, level = 0.95): Correlation => {
  if (!(level > 0 && level < 1)) throw new Error(`fisherInterval: level must be in (0, 1), got ${level}`)
  if (n <= 3 || !Number.isFinite(r)) return { r, n, lo: NaN, hi: NaN }
  const z = Math.atanh(Math.max(-1, Math.min(1, r)))
  const half = normalQuantile(1 - (1 - level) / 2) / Math.sqrt(n - 3)
  return { r, n, lo: Math.tanh(z - half), hi: Math.tanh(z + half) }
}

/** Pearson r of two series with n and its Fisher-z 95% interval. */
export const pearsonWithInterval = (x: ArrayLike<number>, y: ArrayLike<number>, level = 0.95): Correlation =>
  fisherInterval(pearson(x, y), x.length, level)

/** Ranks from 1, ties given the average of the ranks they span. */
export const rank = (x: ArrayLike<number>): Float64Array => {
  const order = Array.from({ length: x.length }, (_, i) => i).sort((a, b) => x[a]! - x[b]!)
  const ranks = new Float64Array(x.length)
  let i = 0
  while (i < order.length) {
    let j = i
    while (j + 1 < order.length && x[order[j + 1]!] === x[order[i]!]) j++
    const r = (i + j) / 2 + 1
    for (let k = i; k <= j; k++) ranks[order[k]!] = r
    i = j + 1
  }
  return ranks
}

/** Spearman rank correlation (Pearson r of average ranks). */
export const spearman = (x: ArrayLike<number>, y: ArrayLike<number>): number => {
  sameLength("spearman", x, y, "x", "y")
  return pearson(rank(x), rank(y))
}

/** Cosine similarity of two weight vectors; pass weights only, never an intercept. */
export const cosine = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  sameLength("cosine", a, b, "a", "b")
  let ab = 0, aa = 0, bb = 0
  for (let i = 0; i < a.length; i++) {
    ab += a[i]! * b[i]!
    aa += a[i]! * a[i]!
    bb += b[i]! * b[i]!
  }
  return ab / Math.sqrt(aa * bb)
}
