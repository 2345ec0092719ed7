/**
 * The standard normal CDF in the forms a probit likelihood needs without underflow: log Φ(z) and the
 * inverse Mills ratio φ(z)/Φ(z) stay finite and accurate far into the lower tail, where Φ(z) itself
 * underflows (z < −38).
 */

const SQRT_PI = Math.sqrt(Math.PI)
const SQRT_2PI = Math.sqrt(2 * Math.PI)
const SERIES_LIMIT = 2.5
const FRACTION_TERMS = 60

/** exp(t²)·erfc(t) for t ≥ 0 (the scaled complementary error function). */
const erfcxNonNegative = (t: number): number => {
  if (t < SERIES_LIMIT) {
    // erf(t) = 2/√π · e^{−t²} Σ 2ⁿ t^{2n+1} / (1·3···(2n+1)): every term is positive, so no cancellation.
    const t2 = t * t
    let term = t
    let sum = t
    for (let n = 1; term > sum * 1e-17; n++) {
      term *= (2 * t2) / (2 * n + 1)
      sum += term
    }
    return Math.exp(t2) - (2 / SQRT_PI) * sum
  }
  // Laplace's continued fraction erfcx(t) = 1/√π · 1/(t + ½/(t + 1/(t + (3/2)/(t + ...)))), converged by t = 2.5.
  let f = t
  for (let k = FRACTION_TERMS; k >= 1; k--) f = t + k / 2 / f
  return 1 / (SQRT_PI * f)
}

/** Φ(z), the standard normal CDF. */
export const normalCdf = (z: number): number => {
  const t = Math.abs(z) / Math.SQRT2
  const tail = 0.5 * Math.exp(-t * t) * erfcxNonNegative(t)
  return z < 0 ? tail : 1 - tail
}

/** log Φ(z), accurate in the lower tail. */
export const logNormalCdf = (z: number): number => {
  const t = Math.abs(z) / Math.SQRT2
  if (z < 0) return -t * t + Math.log(0.5 * erfcxNonNegative(t))
  return Math.log1p(-0.5 * Math.exp(-t * t) * erfcxNonNegative(t))
}

/** φ(z)/Φ(z), the derivative of log Φ(z); tends to −z as z → −∞. */
export const inverseMillsRatio = (z: number): number => {
  const t = Math.abs(z) / Math.SQRT2
  if (z < 0) return 2 / (SQRT_2PI * erfcxNonNegative(t))
  const e = Math.exp(-t * t)
  return e / SQRT_2PI / (1 - 0.5 * e * erfcxNonNegative(t))
}
