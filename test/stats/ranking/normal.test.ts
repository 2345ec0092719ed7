import { describe, expect, it } from "@effect/vitest"
import { inverseMillsRatio, logNormalCdf, normalCdf } from "../../../stats/ranking/normal"

// SciPy 1.17 values: scipy.special.ndtr, log_ndtr and exp(norm.logpdf(z) − log_ndtr(z)). Relative tolerance 1e-12.
const reference: ReadonlyArray<readonly [number, number, number, number]> = [
  [-40, 0, -804.6084420137539, 40.024968847210886],
  [-10, 7.61985302416047e-24, -53.23128515051248, 10.098093233962564],
  [-3, 0.0013498980316300933, -6.60772622151035, 3.28309865493044],
  [-0.5, 0.3085375387259869, -1.1759117615936188, 1.1410777703680648],
  [0, 0.5, -0.6931471805599453, 0.7978845608028654],
  [1.5, 0.9331927987311419, -0.06914345561223399, 0.13878975045885075],
  [6, 0.9999999990134123, -9.86587645524372e-10, 6.0758828558176746e-9]
]

const close = (got: number, want: number) => expect(Math.abs(got - want)).toBeLessThanOrEqual(1e-12 * Math.abs(want) + 1e-300)

describe("normal CDF forms", () => {
  it.each(reference)("z = %d matches SciPy", (z, cdf, logCdf, mills) => {
    close(normalCdf(z), cdf)
    close(logNormalCdf(z), logCdf)
    close(inverseMillsRatio(z), mills)
  })

  it("inverse Mills ratio tends to −z in the far lower tail", () => {
    expect(inverseMillsRatio(-1000) / 1000).toBeCloseTo(1, 5)
    expect(Number.isFinite(logNormalCdf(-1000))).toBe(true)
  })
})
