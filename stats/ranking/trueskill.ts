/**
 * TrueSkill ratings of tasks from pairwise choices, through `ts-trueskill` (a port of the reference
 * Python `trueskill` library). Each non-refused choice is one 1-vs-1 game won by the chosen task,
 * rated in the order the records are given (TrueSkill is online, so order matters a little).
 * The environment is TrueSkill's default (μ₀ = 25, σ₀ = 25/3, β = σ₀/2, τ = σ₀/100) except that the
 * draw probability is 0, since a choice cannot be a draw. The utility is the posterior mean μ;
 * `conservative` (μ − 3σ) is the leaderboard score that penalizes tasks seen in few games.
 */
import { rate_1vs1, Rating, TrueSkill } from "ts-trueskill"
import { type Comparison, sortedTasks, winnerLoser } from "./pairCounts"

/** Environment overrides; unset fields take the defaults above. */
export interface TrueSkillOptions {
  readonly mu?: number
  readonly sigma?: number
  readonly beta?: number
  readonly tau?: number
}

/** Per-task TrueSkill ratings, aligned with `tasks`. */
export interface TrueSkillRatings {
  readonly tasks: ReadonlyArray<string>
  readonly mu: Float64Array
  readonly sigma: Float64Array
  readonly conservative: Float64Array
  readonly games: number
}

/** Rates every task by playing the comparisons in order (refusals skipped); `tasks` defaults to every task named, sorted. */
export const rateTrueSkill = (
  comparisons: ReadonlyArray<Comparison>,
  options: TrueSkillOptions = {},
  tasks: ReadonlyArray<string> = sortedTasks(comparisons)
): TrueSkillRatings => {
  for (const [name, value] of Object.entries(options)) {
    if (value !== undefined && !Number.isFinite(value)) throw new RangeError(`rateTrueSkill: options.${name} must be finite, got ${value}`)
  }
  const env = new TrueSkill(options.mu, options.sigma, options.beta, options.tau, 0)
  const ratings = new Map<string, Rating>(tasks.map((t) => [t, env.createRating()]))
  let games = 0
  for (const c of comparisons) {
    if (c.choice === "refusal") continue
    const [winner, loser] = winnerLoser(c)
    const rw = ratings.get(winner)
    const rl = ratings.get(loser)
    if (rw === undefined || rl === undefined) throw new RangeError(`rateTrueSkill: task "${rw === undefined ? winner : loser}" is not in tasks`)
    const [nw, nl] = rate_1vs1(rw, rl, false, undefined, env)
    ratings.set(winner, nw)
    ratings.set(loser, nl)
    games++
  }
  const mu = new Float64Array(tasks.length)
  const sigma = new Float64Array(tasks.length)
  tasks.forEach((t, k) => {
    const r = ratings.get(t)!
    mu[k] = r.mu
    sigma[k] = r.sigma
  })
  return { tasks, mu, sigma, conservative: mu.map((m, k) => m - 3 * sigma[k]!), games }
}
