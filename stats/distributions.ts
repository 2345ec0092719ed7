const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7
]
const EPS = 1e-16
const TINY = 1e-300
const MAX_ITER = 10000

/** Natural log of the gamma function for x > 0 (Lanczos, g = 7; about 15 significant digits). */
export const logGamma = (x: number): number => {
  if (!(x > 0)) throw new Error(`logGamma: x must be positive, got ${x}`)
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x)
  const z = x - 1
  let a = LANCZOS[0]!
  const t = z + 7.5
  for (let i = 1; i < 9; i++) a += LANCZOS[i]! / (z + i)
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a)
}

// Continued fraction of the incomplete beta function, evaluated by the modified Lentz method.
const betaContinuedFraction = (a: number, b: number, x: number): number => {
  const qab = a + b, qap = a + 1, qam = a - 1
  let c = 1
  let d = 1 - (qab * x) / qap
  if (Math.abs(d) < TINY) d = TINY
  d = 1 / d
  let h = d
  for (let m = 1; m <= MAX_ITER; m++) {
    const m2 = 2 * m
    let aa = (m * (b - m) * x) / ((qam + m2) * (a + m2))
    d = 1 + aa * d
    if (Math.abs(d) < TINY) d = TINY
    c = 1 + aa / c
    if (Math.abs(c) < TINY) c = TINY
    d = 1 / d
    h *= d * c
    aa = (-(a + m) * (qab + m) * x) / ((a + m2) * (qap + m2))
    d = 1 + aa * d
    if (Math.abs(d) < TINY) d = TINY
    c = 1 + aa / c
    if (Math.abs(c) < TINY) c = TINY
    d = 1 / d
    const del = d * c
    h *= del
    if (Math.abs(del - 1) < EPS) return h
  }
  throw new Error(`regularizedBeta: continued fraction did not converge for a=${a}, b=${b}, x=${x}`)
}

/** The regularized incomplete beta function I_x(a, b). */
export const regularizedBeta = (x: number, a: number, b: number): number => {
  if (!(a > 0) || !(b > 0)) throw new Error(`regularizedBeta: a and b must be positive, got a=${a}, b=${b}`)
  if (!(x >= 0 && x <= 1)) throw new Error(`regularizedBeta: x must be in [0, 1], got ${x}`)
  if (x === 0 || x === 1) return x
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log1p(-x))
  return x < (a + 1) / (a + b + 2)
    ? (front * betaContinuedFraction(a, b, x)) / a
    : 1 - (front * betaContinuedFraction(b, a, 1 - x)) / b
}

/** The regularized lower incomplete gamma function P(a, x). */
export const regularizedGammaP = (a: number, x: number): number => 1 - regularizedGammaQ(a, x)

/** The regularized upper incomplete gamma function Q(a, x) = 1 − P(a, x), accurate in the far tail. */
export const regularizedGammaQ = (a: number, x: number): number => {
  if (!(a > 0)) throw new Error(`regularizedGammaQ: a must be positive, got ${a}`)
  if (!(x >= 0)) throw new Error(`regularizedGammaQ: x must be non-negative, got ${x}`)
  if (x === 0) return 1
  const logFront = -x + a * Math.log(x) - logGamma(a)
  if (x < a + 1) {
    let ap = a, sum = 1 / a, del = sum
    for (let n = 0; n < MAX_ITER; n++) {
      ap += 1
      del *= x / ap
      sum += del
      if (Math.abs(del) < Math.abs(sum) * EPS) return 1 - sum * Math.exp(logFront)
    }
    throw new Error(`regularizedGammaQ: series did not converge for a=${a}, x=${x}`)
  }
  let b = x + 1 - a, c = 1 / TINY, d = 1 / b, h = d
  for (let i = 1; i <= MAX_ITER; i++) {
    const an = -i * (i - a)
    b += 2
    d = an * d + b
    if (Math.abs(d) < TINY) d = TINY
    c = b + an / c
    if (Math.abs(c) < TINY) c = TINY
    d = 1 / d
    const del = d * c
    h *= del
    if (Math.abs(del - 1) < EPS) return Math.exp(logFront) * h
  }
  throw new Error(`regularizedGammaQ: continued fraction did not converge for a=${a}, x=${x}`)
}

/** The complementary error function, with full relative precision in the upper tail. */
export const erfc = (x: number): number =>
  x >= 0 ? regularizedGammaQ(0.5, x * x) : 2 - regularizedGammaQ(0.5, x * x)

/** The standard normal CDF Φ(z). */
export const normalCdf = (z: number): number => 0.5 * erfc(-z / Math.SQRT2)

/** The standard normal upper tail 1 − Φ(z), precise for large z. */
export const normalSf = (z: number): number => 0.5 * erfc(z / Math.SQRT2)

const A = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239]
const B = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1]
const C = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783]
const D = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416]

/** The standard normal quantile Φ⁻¹(p) (Acklam's approximation refined by one Halley step). */
export const normalQuantile = (p: number): number => {
  if (!(p > 0 && p < 1)) {
    if (p === 0) return -Infinity
    if (p === 1) return Infinity
    throw new Error(`normalQuantile: p must be in [0, 1], got ${p}`)
  }
  let x: number
  if (p < 0.02425) {
    const q = Math.sqrt(-2 * Math.log(p))
    x = (((((C[0]! * q + C[1]!) * q + C[2]!) * q + C[3]!) * q + C[4]!) * q + C[5]!) / ((((D[0]! * q + D[1]!) * q + D[2]!) * q + D[3]!) * q + 1)
  } else if (p <= 1 - 0.02425) {
    const q = p - 0.5, r = q * q
    x = ((((((A[0]! * r + A[1]!) * r + A[2]!) * r + A[3]!) * r + A[4]!) * r + A[5]!) * q) /
      (((((B[0]! * r + B[1]!) * r + B[2]!) * r + B[3]!) * r + B[4]!) * r + 1)
  } else {
    const q = Math.sqrt(-2 * Math.log1p(-p))
    x = -(((((C[0]! * q + C[1]!) * q + C[2]!) * q + C[3]!) * q + C[4]!) * q + C[5]!) / ((((D[0]! * q + D[1]!) * q + D[2]!) * q + D[3]!) * q + 1)
  }
  const e = p < 0.5 ? normalCdf(x) - p : 1 - p - normalSf(x)
  const u = e * Math.sqrt(2 * Math.PI) * Math.exp((x * x) / 2)
  return x - u / (1 + (x * u) / 2)
}

/** The CDF of Student's t distribution with `df` degrees of freedom. */
export const studentTCdf = (t: number, df: number): number => {
  if (!(df > 0)) throw new Error(`studentTCdf: df must be positive, got ${df}`)
  if (!Number.isFinite(t)) return t > 0 ? 1 : 0
  const tail = 0.5 * regularizedBeta(df / (df + t * t), df / 2, 0.5)
  return t > 0 ? 1 - tail : tail
}

/** Two-sided p-value of a t statistic: P(|T| ≥ |t|). */
export const studentTTwoSided = (t: number, df: number): number => {
  if (!(df > 0)) throw new Error(`studentTTwoSided: df must be positive, got ${df}`)
  if (!Number.isFinite(t)) return 0
  return regularizedBeta(df / (df + t * t), df / 2, 0.5)
}

/** Two-sided p-value of a standard normal statistic: P(|Z| ≥ |z|). */
export const normalTwoSided = (z: number): number => erfc(Math.abs(z) / Math.SQRT2)

/** The CDF of the chi-square distribution with `df` degrees of freedom. */
export const chiSquareCdf = (x: number, df: number): number => {
  if (!(df > 0)) throw new Error(`chiSquareCdf: df must be positive, got ${df}`)
  return x <= 0 ? 0 : regularizedGammaP(df / 2, x / 2)
}

/** Upper tail of the chi-square distribution, P(X ≥ x). */
export const chiSquareSf = (x: number, df: number): number => {
  if (!(df > 0)) throw new Error(`chiSquareSf: df must be positive, got ${df}`)
  return x <= 0 ? 1 : regularizedGammaQ(df / 2, x / 2)
}
