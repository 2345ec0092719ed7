import { describe, expect, it } from "@effect/vitest"
import { analyseDirections, separated, type SteeredSample, unchanged } from "../../stages/steerAnalysis"
import { steeringAnalysis } from "../../stats/steering"
import { makePrng } from "../../stats/prng"

const coefficients = [-2, -1, 0, 1, 2]

/** Samples whose P(good) is σ(gain·c) plus a per-task offset, drawn from a seeded source. */
const simulate = (direction: string, gain: number, seed: number): SteeredSample[] => {
  const prng = makePrng(seed)
  return coefficients.flatMap((coefficient) =>
    Array.from({ length: 12 }, (_, t) =>
      Array.from({ length: 4 }, (_, sample) => {
        const p = 1 / (1 + Math.exp(-(gain * coefficient + (t % 3) - 1)))
        return { direction, coefficient, task: `t${t}`, sample, outcome: prng.next() < p ? 1 : 0, tier: "exact" }
      })
    ).flat()
  )
}

describe("analyseDirections", () => {
  it("reports the stats/steering fit of each direction: OLS slope, clustered p, logistic slope, Wilson per coefficient", () => {
    const samples = [...simulate("probe", 1, 1), ...simulate("control", 0, 2)]
    const result = analyseDirections(samples, [], ["probe", "control"])
    for (const name of ["probe", "control"]) {
      const reference = steeringAnalysis(samples.filter((s) => s.direction === name).map((s) => ({ coefficient: s.coefficient, outcome: s.outcome!, task: s.task })))
      const r = result[name]!
      expect(r.slope).toBe(reference.ols.slope)
      expect(r.p_value).toBe(reference.ols.p)
      expect(r.clustered_p_value).toBe(reference.clustered!.p)
      expect(r.clustered_tasks).toBe(12)
      expect(r.logit_slope).toBe(reference.logit.slope)
      expect(r.logit_p_value).toBe(reference.logit.p)
      expect(r.by_coefficient.map((b) => [b.coefficient, b.p, b.lo, b.hi, b.n])).toEqual(reference.byCoefficient.map((b) => [b.coefficient, b.p, b.lo, b.hi, b.n]))
      // The slope interval is centred on the slope and uses the clustered standard error.
      expect((r.slope_lo! + r.slope_hi!) / 2).toBeCloseTo(r.slope!, 12)
      expect((r.slope_hi! - r.slope_lo!) / 2).toBeCloseTo(1.959963984540054 * reference.clustered!.se, 10)
      expect(r.error).toBeNull()
    }
    expect(result.probe!.slope!).toBeGreaterThan(0.1)
    expect(result.probe!.clustered_p_value!).toBeLessThan(1e-6)
    expect(result.control!.slope_lo!).toBeLessThan(0)
    expect(result.control!.slope_hi!).toBeGreaterThan(0)
  })

  it("excludes and counts refusals and failures", () => {
    const samples = simulate("probe", 1, 3).map((s, i) => (i % 10 === 0 ? { ...s, outcome: null, tier: i % 20 === 0 ? "refusal" : "failed" } : s))
    const r = analyseDirections(samples, [], ["probe"]).probe!
    expect(r.excluded).toEqual({ refusal: 12, failed: 12 })
    expect(r.n).toBe(samples.length - 24)
    expect(r.by_coefficient.reduce((a, b) => a + b.n, 0)).toBe(r.n)
  })

  it("keeps the OLS slope when the logistic fit fails on perfectly separated outcomes", () => {
    const samples: SteeredSample[] = coefficients.flatMap((coefficient) =>
      Array.from({ length: 8 }, (_, t) => ({ direction: "planted", coefficient, task: `t${t}`, sample: 0, outcome: coefficient > 0 ? 1 : coefficient < 0 ? 0 : t % 2, tier: "exact" }))
    )
    const r = analyseDirections(samples, [], ["planted"]).planted!
    expect(r.slope!).toBeGreaterThan(0.2)
    expect(r.p_value!).toBeLessThan(1e-10)
    expect(r.clustered_p_value).not.toBeNull()
    expect(r.logit_slope).toBeNull()
    expect(r.error).toMatch(/^logistic: /)
  })

  it("gives no slope, and says why, when every parsed outcome sits at one coefficient", () => {
    const samples: SteeredSample[] = coefficients.flatMap((coefficient) =>
      Array.from({ length: 6 }, (_, t) => ({ direction: "probe", coefficient, task: `t${t}`, sample: 0, outcome: coefficient === 0 ? t % 2 : null, tier: coefficient === 0 ? "exact" : "failed" }))
    )
    const r = analyseDirections(samples, [], ["probe"]).probe!
    expect(r.slope).toBeNull()
    expect(r.p_value).toBeNull()
    expect(r.by_coefficient).toEqual([expect.objectContaining({ coefficient: 0, n: 6, p: 0.5 })])
    expect(r.error).toMatch(/OLS: .*logistic: /)
  })

  it("attaches each direction's option curve in coefficient order", () => {
    const samples = simulate("probe", 1, 4)
    const options = [
      { direction: "probe", coefficient: 2, p: 0.9, n: 12 },
      { direction: "control", coefficient: -2, p: 0.5, n: 12 },
      { direction: "probe", coefficient: -2, p: 0.1, n: 12 }
    ]
    expect(analyseDirections(samples, options, ["probe"]).probe!.option_curve).toEqual([
      { coefficient: -2, p: 0.1, n: 12 },
      { coefficient: 2, p: 0.9, n: 12 }
    ])
  })
})

describe("unchanged outcomes", () => {
  it("reports a slope of exactly 0 with p = 1 when no sample's outcome moved, instead of a clustered z of rounding errors", () => {
    const samples: SteeredSample[] = coefficients.flatMap((coefficient) =>
      Array.from({ length: 8 }, (_, t) => Array.from({ length: 2 }, (_, sample) => ({ direction: "probe", coefficient, task: `t${t}`, sample, outcome: (t + sample) % 3 === 0 ? 1 : 0, tier: "exact" }))).flat()
    )
    const r = analyseDirections(samples, [], ["probe"]).probe!
    expect([r.slope, r.p_value, r.clustered_p_value, r.slope_lo, r.slope_hi]).toEqual([0, 1, 1, 0, 0])
    expect(r.error).toMatch(/changed no sampled outcome/)
  })

  it("is false as soon as one sample moves, or one sample is missing at some coefficient", () => {
    const rows = (outcomes: number[][]) => outcomes.flatMap((os, sample) => os.map((outcome, i) => ({ task: "t", sample, coefficient: i - 1, outcome })))
    expect(unchanged(rows([[0, 0, 0], [1, 1, 1]]))).toBe(true)
    expect(unchanged(rows([[0, 0, 0], [1, 0, 1]]))).toBe(false)
    expect(unchanged(rows([[0, 0, 0], [1, 1]]))).toBe(false)
    expect(unchanged(rows([[0], [1]]))).toBe(false)
  })
})

describe("separated", () => {
  it("detects complete and quasi-complete separation in either direction, and its absence", () => {
    const rows = (pairs: Array<[number, number]>) => pairs.map(([coefficient, outcome]) => ({ coefficient, outcome }))
    expect(separated(rows([[-1, 0], [0, 0], [1, 1]]))).toBe(true)
    expect(separated(rows([[-1, 1], [1, 0]]))).toBe(true)
    expect(separated(rows([[-1, 0], [0, 0], [0, 1], [1, 1]]))).toBe(true)
    expect(separated(rows([[-1, 0], [-1, 1], [0, 0], [1, 1], [1, 0]]))).toBe(false)
    expect(separated(rows([[-1, 1], [1, 1]]))).toBe(true)
  })
})

describe("answers by coefficient", () => {
  it("counts sampled, parsed, refused and unparsed answers at every coefficient, parsed or not", () => {
    const samples: SteeredSample[] = [
      { direction: "probe", coefficient: 1, task: "a", sample: 0, outcome: null, tier: "failed" },
      { direction: "probe", coefficient: 1, task: "b", sample: 0, outcome: null, tier: "refusal" },
      { direction: "probe", coefficient: 0, task: "a", sample: 0, outcome: 1, tier: "exact" },
      { direction: "probe", coefficient: 0, task: "b", sample: 0, outcome: 0, tier: "exact" },
      { direction: "control", coefficient: 1, task: "a", sample: 0, outcome: 1, tier: "exact" }
    ]
    expect(analyseDirections(samples, [], ["probe"]).probe!.answers).toEqual([
      { coefficient: 0, total: 2, parsed: 2, refusal: 0, failed: 0 },
      { coefficient: 1, total: 2, parsed: 0, refusal: 1, failed: 1 }
    ])
  })
})
