/**
 * Active learning for revealed-preference collection. Each round fits Case V (with a weak Gaussian
 * prior on μ so tasks that have only won or only lost stay finite) and asks the pairs whose outcome is
 * least certain: the predictive z = |μᵢ − μⱼ| / √(2 + seᵢ² + seⱼ²) (se from the diagonal of the
 * posterior Hessian, large for tasks seen little), multiplied by 1 + (times the pair was asked) so
 * that repeats are asked only when they are still the best use of a query. Candidates are only
 * neighbours within `window` places in μ order, scanned with a bounded heap, so a round costs
 * O(n·window) time and O(n + batch) memory instead of O(n²). A share of each batch is uniform random
 * pairs, which keeps the comparison graph connected and the fit honest about tasks far apart in μ.
 * Collection stops when two consecutive fits agree (Spearman ≥ threshold) or after `maxRounds`.
 */
import { type Pcg64, pcg64, randomInterval, shuffleInPlace } from "../random"
import { spearman } from "../metrics"
import { inverseMillsRatio } from "./normal"
import { type Comparison, pairCounts, type PairCounts } from "./pairCounts"
import { fitThurstonian, type ThurstonianFit } from "./thurstonian"

/** What `proposePairs` needs: the current utilities, their uncertainty, how often each pair was asked, and the batch shape. */
export interface PairProposalInput {
  readonly mu: ArrayLike<number>
  /** Per-task standard error of μ. */
  readonly se: ArrayLike<number>
  readonly timesAsked: (i: number, j: number) => number
  readonly batchSize: number
  readonly window: number
  readonly randomPairs: number
  readonly rng: Pcg64
}

/** Proposed pairs of task indices (in the order to show them) and how many candidate pairs were scored. */
export interface PairProposal {
  readonly pairs: ReadonlyArray<readonly [number, number]>
  readonly candidatesScored: number
}

/** Settings of `runActiveLearning`; `choose` answers a batch of [first, second] task pairs with "a" (first), "b" (second) or "refusal". */
export interface ActiveLearningOptions {
  readonly tasks: ReadonlyArray<string>
  readonly choose: (pairs: ReadonlyArray<readonly [string, string]>) => ReadonlyArray<Comparison["choice"]>
  readonly batchSize: number
  readonly maxRounds: number
  readonly threshold: number
  readonly seed: number
  /** Neighbours in μ order considered per task (default 5). */
  readonly window?: number
  /** Share of each batch drawn as uniform random pairs (default 0.2). */
  readonly randomFraction?: number
  /** Prior standard deviation of μ in the per-round fits (default 5, on Case V's scale where σ = 1). */
  readonly muPriorSd?: number
}

/** The final fit, every comparison collected, the rounds asked, whether the agreement threshold was reached, and each round's agreement with the previous fit. */
export interface ActiveLearningResult {
  readonly fit: ThurstonianFit
  readonly comparisons: ReadonlyArray<Comparison>
  readonly rounds: number
  readonly converged: boolean
  readonly agreement: ReadonlyArray<number>
}

/** Largest-score-on-top heap of at most `capacity` candidates, keeping the lowest scores seen. */
const boundedHeap = (capacity: number) => {
  const score = new Float64Array(capacity)
  const a = new Int32Array(capacity)
  const b = new Int32Array(capacity)
  let size = 0
  const swap = (p: number, q: number) => {
    const s = score[p]!, x = a[p]!, y = b[p]!
    score[p] = score[q]!; a[p] = a[q]!; b[p] = b[q]!
    score[q] = s; a[q] = x; b[q] = y
  }
  const offer = (s: number, i: number, j: number): void => {
    if (capacity === 0) return
    if (size < capacity) {
      score[size] = s; a[size] = i; b[size] = j
      for (let c = size++; c > 0; ) {
        const parent = (c - 1) >> 1
        if (score[parent]! >= score[c]!) break
        swap(parent, c)
        c = parent
      }
      return
    }
    if (s >= score[0]!) return
    score[0] = s; a[0] = i; b[0] = j
    for (let p = 0; ; ) {
      const l = 2 * p + 1, r = l + 1
      let top = p
      if (l < size && score[l]! > score[top]!) top = l
      if (r < size && score[r]! > score[top]!) top = r
      if (top === p) break
      swap(p, top)
      p = top
    }
  }
  const pairs = (): Array<[number, number]> => Array.from({ length: size }, (_, k) => [a[k]!, b[k]!])
  return { offer, pairs }
}

/** Picks the next batch: the most uncertain, least-asked neighbour pairs in μ order plus `randomPairs` uniform pairs, each shown in random order. */
export const proposePairs = (input: PairProposalInput): PairProposal => {
  const { mu, se, timesAsked, batchSize, window, randomPairs, rng } = input
  const n = mu.length
  if (se.length !== n) throw new RangeError(`proposePairs: se must have length ${n} (mu), got ${se.length}`)
  if (n < 2) throw new RangeError(`proposePairs: mu must have at least 2 tasks, got ${n}`)
  if (!Number.isInteger(window) || window < 1) throw new RangeError(`proposePairs: window must be a positive integer, got ${window}`)
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`proposePairs: batchSize must be a positive integer, got ${batchSize}`)
  if (!Number.isInteger(randomPairs) || randomPairs < 0 || randomPairs > batchSize) {
    throw new RangeError(`proposePairs: randomPairs must be an integer in [0, batchSize], got ${randomPairs}`)
  }
  const order = new Int32Array(n)
  for (let k = 0; k < n; k++) order[k] = k
  order.sort((x, y) => mu[x]! - mu[y]!)
  const heap = boundedHeap(batchSize - randomPairs)
  let candidatesScored = 0
  for (let r = 0; r < n - 1; r++) {
    const i = order[r]!
    const last = Math.min(n - 1, r + window)
    for (let q = r + 1; q <= last; q++) {
      const j = order[q]!
      const z = Math.abs(mu[i]! - mu[j]!) / Math.sqrt(2 + se[i]! * se[i]! + se[j]! * se[j]!)
      heap.offer(z * (1 + timesAsked(i, j)), i, j)
      candidatesScored++
    }
  }
  const chosen = heap.pairs()
  const taken = new Set(chosen.map(([i, j]) => Math.min(i, j) * n + Math.max(i, j)))
  // Only a bounded number of redraws: with n² ≫ batch a collision is rare, and a short batch is harmless.
  for (let attempts = 0; chosen.length < batchSize && attempts < 20 * batchSize; attempts++) {
    const i = randomInterval(rng, n - 1)
    const j = randomInterval(rng, n - 1)
    const key = Math.min(i, j) * n + Math.max(i, j)
    if (i === j || taken.has(key)) continue
    taken.add(key)
    chosen.push([i, j])
  }
  for (const pair of chosen) if (rng.nextUint32() & 1) pair.reverse()
  return { pairs: chosen, candidatesScored }
}

/** Standard errors of Case V μ from the diagonal of the Hessian of the negative log-posterior (the anchor's is 0). */
const caseVStandardErrors = (counts: PairCounts, mu: Float64Array, muPriorSd: number): Float64Array => {
  const n = counts.tasks.length
  const h = new Float64Array(n).fill(1 / (muPriorSd * muPriorSd))
  for (let k = 0; k < counts.i.length; k++) {
    const i = counts.i[k]!
    const j = counts.j[k]!
    const z = (mu[i]! - mu[j]!) / Math.SQRT2
    const li = inverseMillsRatio(z)
    const lj = inverseMillsRatio(-z)
    // d²/dz² of −w log Φ(z) is w·λ(z)(z + λ(z)); dz/dμ = ±1/√2.
    const curvature = (counts.winsI[k]! * li * (z + li) + counts.winsJ[k]! * lj * (lj - z)) / 2
    h[i] = h[i]! + curvature
    h[j] = h[j]! + curvature
  }
  const se = h.map((v) => 1 / Math.sqrt(v))
  se[0] = 0
  return se
}

/** The pairs of one round, by task id, shown in this order ([first, second]). */
export type PairBatch = ReadonlyArray<readonly [string, string]>

/**
 * Collects choices in rounds (a random cycle over all tasks first, then `proposePairs` batches) until consecutive
 * fits agree: a generator that yields each round's pairs and takes their answers ("a" first, "b" second, or
 * "refusal"), so the caller decides how (and how asynchronously) the pairs are asked.
 */
export function* activeLearningRounds(
  options: Omit<ActiveLearningOptions, "choose">
): Generator<PairBatch, ActiveLearningResult, ReadonlyArray<Comparison["choice"]>> {
  const { tasks, batchSize, maxRounds, threshold, seed } = options
  const window = options.window ?? 5
  const randomFraction = options.randomFraction ?? 0.2
  const muPriorSd = options.muPriorSd ?? 5
  const n = tasks.length
  if (n < 3) throw new RangeError(`runActiveLearning: tasks must name at least 3 tasks, got ${n}`)
  if (new Set(tasks).size !== n) throw new RangeError("runActiveLearning: tasks must be distinct")
  if (!Number.isInteger(maxRounds) || maxRounds < 1) throw new RangeError(`runActiveLearning: maxRounds must be a positive integer, got ${maxRounds}`)
  if (!(randomFraction >= 0 && randomFraction <= 1)) throw new RangeError(`runActiveLearning: randomFraction must be in [0, 1], got ${randomFraction}`)
  if (!(muPriorSd > 0)) throw new RangeError(`runActiveLearning: muPriorSd must be positive, got ${muPriorSd}`)
  const rng = pcg64(seed)
  const asked = new Map<number, number>()
  const comparisons: Comparison[] = []

  const record = (pairs: ReadonlyArray<readonly [number, number]>, named: PairBatch, answers: ReadonlyArray<Comparison["choice"]>): void => {
    if (answers.length !== pairs.length) throw new RangeError(`runActiveLearning: choose returned ${answers.length} answers for ${pairs.length} pairs`)
    pairs.forEach(([i, j], k) => {
      const choice = answers[k]!
      if (choice !== "a" && choice !== "b" && choice !== "refusal") throw new RangeError(`runActiveLearning: choose answered ${JSON.stringify(choice)} (expected "a", "b" or "refusal")`)
      const key = Math.min(i, j) * n + Math.max(i, j)
      asked.set(key, (asked.get(key) ?? 0) + 1)
      comparisons.push({ task_a: named[k]![0], task_b: named[k]![1], choice })
    })
  }
  const names = (pairs: ReadonlyArray<readonly [number, number]>): PairBatch => pairs.map(([i, j]) => [tasks[i]!, tasks[j]!] as const)

  // A random Hamiltonian cycle: every task is compared twice and the comparison graph is connected.
  const cycle = shuffleInPlace(rng, Int32Array.from({ length: n }, (_, k) => k))
  const first = Array.from({ length: n }, (_, k) => [cycle[k]!, cycle[(k + 1) % n]!] as const)
  const firstNamed = names(first)
  record(first, firstNamed, yield firstNamed)

  const fitAll = (initialMu?: Float64Array) => {
    const counts = pairCounts(comparisons, tasks)
    return { counts, fit: fitThurstonian(counts, initialMu === undefined ? { muPriorSd } : { muPriorSd, initialMu }) }
  }
  let { counts, fit } = fitAll()
  const agreement: number[] = []
  let rounds = 1
  let converged = false
  while (rounds < maxRounds) {
    const proposal = proposePairs({
      mu: fit.mu,
      se: caseVStandardErrors(counts, fit.mu, muPriorSd),
      timesAsked: (i, j) => asked.get(Math.min(i, j) * n + Math.max(i, j)) ?? 0,
      batchSize,
      window,
      randomPairs: Math.round(randomFraction * batchSize),
      rng
    })
    const named = names(proposal.pairs)
    record(proposal.pairs, named, yield named)
    rounds++
    const next = fitAll(fit.mu)
    const rho = spearman(fit.mu, next.fit.mu)
    agreement.push(rho)
    counts = next.counts
    fit = next.fit
    if (rho >= threshold) {
      converged = true
      break
    }
  }
  return { fit, comparisons, rounds, converged, agreement }
}

/** Runs `activeLearningRounds` with a synchronous chooser. */
export const runActiveLearning = (options: ActiveLearningOptions): ActiveLearningResult => {
  const rounds = activeLearningRounds(options)
  let step = rounds.next()
  while (!step.done) step = rounds.next(options.choose(step.value))
  return step.value
}
