import { describe, expect, it } from "@effect/vitest"
import { spearman } from "../../../stats/metrics"
import { pcg64 } from "../../../stats/random"
import { proposePairs, runActiveLearning } from "../../../stats/ranking/activeLearning"
import { normalCdf } from "../../../stats/ranking/normal"

/** A chooser that answers from planted utilities under Case V noise, seeded. */
const plantedChooser = (utility: Map<string, number>, seed: number) => {
  const rng = pcg64(seed)
  return (pairs: ReadonlyArray<readonly [string, string]>) =>
    pairs.map(([a, b]) => (rng.nextDouble() < normalCdf((utility.get(a)! - utility.get(b)!) / Math.SQRT2) ? "a" as const : "b" as const))
}

describe("runActiveLearning", () => {
  const n = 150
  const tasks = Array.from({ length: n }, (_, k) => `task_${String(k).padStart(3, "0")}`)
  const noise = pcg64(11)
  const planted = tasks.map(() => 3 * (noise.nextDouble() + noise.nextDouble() + noise.nextDouble() - 1.5))
  const utility = new Map(tasks.map((t, k) => [t, planted[k]!]))

  it("recovers planted utilities from a simulated chooser (Spearman ≥ 0.9)", () => {
    const result = runActiveLearning({ tasks, choose: plantedChooser(utility, 1), batchSize: 150, maxRounds: 20, threshold: 0.995, seed: 2 })
    expect(spearman(result.fit.mu, planted)).toBeGreaterThanOrEqual(0.9)
    expect(result.comparisons.length).toBe(n + 150 * (result.rounds - 1))
    expect(result.agreement.length).toBe(result.rounds - 1)
    if (result.converged) expect(result.agreement.at(-1)).toBeGreaterThanOrEqual(0.995)
  })

  it("stops as soon as consecutive fits agree, and runs to maxRounds when they cannot", () => {
    const early = runActiveLearning({ tasks, choose: plantedChooser(utility, 3), batchSize: 100, maxRounds: 30, threshold: 0.9, seed: 4 })
    expect(early.converged).toBe(true)
    expect(early.rounds).toBeLessThan(30)
    expect(early.agreement.slice(0, -1).every((rho) => rho < 0.9)).toBe(true)
    const capped = runActiveLearning({ tasks, choose: plantedChooser(utility, 3), batchSize: 50, maxRounds: 3, threshold: 1.1, seed: 4 })
    expect(capped.converged).toBe(false)
    expect(capped.rounds).toBe(3)
  })

  it("is deterministic for a seed and rejects a chooser that answers the wrong number of pairs", () => {
    const run = () => runActiveLearning({ tasks, choose: plantedChooser(utility, 5), batchSize: 40, maxRounds: 3, threshold: 1.1, seed: 6 })
    expect(run().comparisons).toEqual(run().comparisons)
    expect(() => runActiveLearning({ tasks, choose: () => [], batchSize: 10, maxRounds: 2, threshold: 0.9, seed: 0 })).toThrow(/runActiveLearning: choose returned 0 answers/)
  })
})

describe("proposePairs", () => {
  it("scores only n·window neighbour pairs for n = 100,000 and returns one batch", () => {
    const n = 100_000
    const window = 4
    const rng = pcg64(9)
    const mu = Float64Array.from({ length: n }, () => rng.nextDouble() * 20)
    const proposal = proposePairs({ mu, se: new Float64Array(n).fill(0.5), timesAsked: () => 0, batchSize: 1000, window, randomPairs: 200, rng })
    // Rank r has min(window, n − 1 − r) neighbours above it: n·window − window(window + 1)/2 in all, never n(n − 1)/2.
    expect(proposal.candidatesScored).toBe(n * window - (window * (window + 1)) / 2)
    expect(proposal.pairs.length).toBe(1000)
    const keys = new Set(proposal.pairs.map(([i, j]) => Math.min(i, j) * n + Math.max(i, j)))
    expect(keys.size).toBe(1000)
    const rank = new Int32Array(n)
    Array.from(mu.keys()).sort((a, b) => mu[a]! - mu[b]!).forEach((task, r) => (rank[task] = r))
    const near = proposal.pairs.filter(([i, j]) => Math.abs(rank[i]! - rank[j]!) <= window).length
    expect(near).toBeGreaterThanOrEqual(800)
  })

  it("prefers close, rarely asked pairs", () => {
    const mu = [0, 0.1, 5, 5.05]
    const asked = (i: number, j: number) => (Math.min(i, j) === 2 && Math.max(i, j) === 3 ? 10 : 0)
    const proposal = proposePairs({ mu, se: [0, 0, 0, 0], timesAsked: asked, batchSize: 1, window: 1, randomPairs: 0, rng: pcg64(0) })
    expect(proposal.pairs.map(([i, j]) => [Math.min(i, j), Math.max(i, j)])).toEqual([[0, 1]])
    expect(() => proposePairs({ mu, se: [0], timesAsked: asked, batchSize: 1, window: 1, randomPairs: 0, rng: pcg64(0) })).toThrow(/proposePairs: se/)
  })
})
