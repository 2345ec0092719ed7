import { describe, expect, it } from "@effect/vitest"
import { pairCounts } from "../../stats/ranking/pairCounts"
import { heldOutAccuracy, heldOutSplit, utilityMap } from "../../stats/ranking/heldOut"
import { fitThurstonian } from "../../stats/ranking/thurstonian"
import { pcg64, permutation, randomInterval, seedSequenceState } from "../../stats/random"
import { gemma } from "./ranking/gemmaData"

// Constants printed by NumPy 2.4 on this machine (numpy.random.SeedSequence / default_rng); exact match required.
describe("NumPy default_rng port", () => {
  it("hashes seeds like SeedSequence.generate_state", () => {
    expect(Array.from(seedSequenceState(0, 4))).toEqual([2968811710, 3677149159, 745650761, 2884920346])
    expect(Array.from(seedSequenceState(2n ** 70n, 4))).toEqual([647231966, 1158660304, 792296500, 1682207537])
  })

  it("draws the PCG64 stream of default_rng", () => {
    expect(pcg64(0).nextUint64()).toBe(11749869230777074271n)
    const rng = pcg64(7)
    expect([rng.nextDouble(), rng.nextDouble(), rng.nextDouble()]).toEqual([0.625095466604667, 0.8972138009695755, 0.7756856902451935])
  })

  it("permutes like Generator.permutation", () => {
    expect(Array.from(permutation(0, 10))).toEqual([4, 6, 2, 7, 3, 5, 9, 0, 8, 1])
    expect(Array.from(permutation(42, 10))).toEqual([5, 6, 0, 7, 3, 2, 4, 9, 1, 8])
    expect(Array.from(permutation(1, 12))).toEqual([8, 11, 4, 7, 5, 0, 1, 9, 2, 10, 6, 3])
    expect(Array.from(permutation(0, 7496).subarray(0, 5))).toEqual([6187, 6636, 3032, 2629, 4174])
    expect(Array.from(permutation(12345, 70000).subarray(0, 5))).toEqual([7242, 31558, 24912, 13883, 64572])
  })

  it("returns a permutation and stays in range", () => {
    const p = permutation(3, 1000)
    expect(new Set(p).size).toBe(1000)
    expect(Math.min(...p)).toBe(0)
    expect(Math.max(...p)).toBe(999)
    const rng = pcg64(5)
    for (let k = 0; k < 1000; k++) expect(randomInterval(rng, 6)).toBeLessThanOrEqual(6)
    expect(() => permutation(-1, 3)).toThrow(/permutation|seed/)
    expect(() => randomInterval(rng, 2 ** 32)).toThrow(/randomInterval/)
  })
})

describe.skipIf(gemma === undefined)("the reference file's held-out split", () => {
  // Collected even when skipped, so nothing here may touch the missing data.
  const { comparisons, reference } = gemma ?? { comparisons: [], reference: undefined! }
  const split = gemma === undefined ? undefined! : heldOutSplit(comparisons, { seed: 0, fraction: 0.2 })

  it("holds out the same pairs and records", () => {
    expect(split.heldOutPairs).toBe(reference.n_heldout_pairs)
    expect(split.test.filter((c) => c.choice !== "refusal").length).toBe(reference.n_heldout_records)
    expect(split.train.length + split.test.length).toBe(reference.n_records)
  })

  it("reproduces the held-out accuracy of a Case V fit on the training pairs (tolerance 0.005)", () => {
    const tasks = pairCounts(comparisons).tasks
    const fit = fitThurstonian(pairCounts(split.train, tasks))
    const scored = heldOutAccuracy(utilityMap(tasks, fit.mu), split.test)
    expect(scored.records).toBe(reference.n_heldout_records)
    expect(Math.abs(scored.accuracy - reference.heldout_accuracy)).toBeLessThanOrEqual(0.005)
  })
})
