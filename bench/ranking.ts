// Ranking benchmark: fit times on the Gemma-3-27B choices (32,330 records, 1,000 tasks) for Thurstone
// Case V, the full Thurstonian model (τ fixed and chosen by cross-validation) and TrueSkill, plus one active-learning proposal at n = 100,000.
// Run once: npx tsx bench/ranking.ts
import * as fs from "node:fs"
import { pcg64 } from "../stats/random"
import { proposePairs } from "../stats/ranking/activeLearning"
import { type Comparison, pairCounts } from "../stats/ranking/pairCounts"
import { fitThurstonian } from "../stats/ranking/thurstonian"
import { rateTrueSkill } from "../stats/ranking/trueskill"
import { sharedPath } from "../test/support/sharedData"

const file = sharedPath("preferences/gemma3_27b_villain_1000.jsonl")
if (file === undefined) process.exit(1)
const comparisons = fs.readFileSync(file, "utf8").split("\n").filter((l) => l.length > 0).map((l) => JSON.parse(l) as Comparison)

const time = <A>(label: string, run: () => A, describe: (a: A) => string): void => {
  const started = performance.now()
  const result = run()
  console.log(`${label.padEnd(34)} ${((performance.now() - started) / 1000).toFixed(2).padStart(6)} s  ${describe(result)}`)
}

console.log(`${comparisons.length} records, node ${process.version}`)
const counts = pairCounts(comparisons)
time("aggregate pair counts", () => pairCounts(comparisons), (c) => `${c.i.length} pairs`)
time("Thurstone Case V", () => fitThurstonian(counts), (f) => `${f.iterations} iterations, NLL ${f.negLogLikelihood.toFixed(3)}`)
time("Thurstonian full (τ = 0.1)", () => fitThurstonian(counts, { model: "full", logSigmaPriorSd: 0.1 }), (f) => `${f.iterations} iterations, NLL ${f.negLogLikelihood.toFixed(3)}`)
time("Thurstonian full (τ by 5-fold CV)", () => fitThurstonian(counts, { model: "full" }), (f) => `τ ${f.sigmaPrior?.tau}, NLL ${f.negLogLikelihood.toFixed(3)}`)
time("TrueSkill (ts-trueskill)", () => rateTrueSkill(comparisons), (r) => `${r.games} games`)
const n = 100_000
const rng = pcg64(0)
const mu = Float64Array.from({ length: n }, () => rng.nextDouble())
time("proposePairs n = 100,000, window 5", () => proposePairs({ mu, se: new Float64Array(n), timesAsked: () => 0, batchSize: 1000, window: 5, randomPairs: 200, rng }), (p) => `${p.candidatesScored} candidates`)
