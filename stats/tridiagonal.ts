import { product, type Steps } from "./kernels"

/**
 * A symmetric matrix reduced to tridiagonal form, A = Q·T·Qᵀ (T: `diag` and `off`), with Q kept as Householder
 * reflectors in the layout of whichever kernel reduced it.
 */
export interface Tridiagonal {
  readonly n: number
  readonly diag: Float64Array
  readonly off: Float64Array
  readonly q: PackedReflectors | LapackReflectors
}

/** Q = H₀·H₁·…, Hₖ = I − τₖ·vₖ·vₖᵀ, vₖ acting on indices k+1…n−1 with vₖ[0] = 1, packed one after the other (length n−k−1 each). */
export interface PackedReflectors {
  readonly kind: "packed"
  readonly tau: Float64Array
  readonly reflectors: Float64Array
}

/** Q as LAPACK's dsytrd leaves it (UPLO = "U", column-major, leading dimension `lda`) in the reduced matrix `a`; applied by LAPACK's dormtr. */
export interface LapackReflectors {
  readonly kind: "lapack"
  readonly tau: Float64Array
  readonly a: Float64Array
  readonly lda: number
}

const packed = (t: Tridiagonal): PackedReflectors => {
  if (t.q.kind !== "packed") throw new Error("tridiagonal: reflectors in LAPACK's layout are applied by the native kernels only")
  return t.q
}

const offset = (n: number, k: number) => k * n - (k * (k + 1)) / 2

// dlarfg: the reflector mapping A[k+1.., k] to β·e₁; stores v (v[k+1] = 1) into u and returns [τ, β].
const householder = (a: Float64Array, n: number, k: number, u: Float64Array): [number, number] => {
  u.fill(0)
  const alpha = a[(k + 1) * n + k]!
  let sigma = 0
  for (let i = k + 2; i < n; i++) sigma += a[i * n + k]! ** 2
  u[k + 1] = 1
  if (sigma === 0) return [0, alpha]
  const norm = Math.sqrt(alpha * alpha + sigma)
  const beta = alpha <= 0 ? norm : -norm
  const scale = 1 / (alpha - beta)
  for (let i = k + 2; i < n; i++) u[i] = a[i * n + k]! * scale
  return [(beta - alpha) / beta, beta]
}

// Rank-2 update S ← S − v·wᵀ − w·vᵀ of the trailing lower triangle from row and column lo, accumulating
// y = S·u. Rows go in pairs so that each load of v, w, u and y serves two matrix elements.
const fusedUpdate = (a: Float64Array, n: number, lo: number, v: Float64Array, w: Float64Array, u: Float64Array, y: Float64Array) => {
  let i = lo
  for (; i + 1 < n; i += 2) {
    const r0 = i * n, r1 = r0 + n
    const v0 = v[i]!, w0 = w[i]!, u0 = u[i]!, v1 = v[i + 1]!, w1 = w[i + 1]!, u1 = u[i + 1]!
    let s0 = 0, s1 = 0
    for (let j = lo; j < i; j++) {
      const vj = v[j]!, wj = w[j]!, uj = u[j]!
      const a0 = a[r0 + j]! - v0 * wj - w0 * vj
      const a1 = a[r1 + j]! - v1 * wj - w1 * vj
      a[r0 + j] = a0
      a[r1 + j] = a1
      s0 += a0 * uj
      s1 += a1 * uj
      y[j] += a0 * u0 + a1 * u1
    }
    const a10 = a[r1 + i]! - v1 * w0 - w1 * v0
    a[r1 + i] = a10
    const a00 = a[r0 + i]! - 2 * v0 * w0
    a[r0 + i] = a00
    const a11 = a[r1 + i + 1]! - 2 * v1 * w1
    a[r1 + i + 1] = a11
    y[i] += s0 + a00 * u0 + a10 * u1
    y[i + 1] += s1 + a10 * u0 + a11 * u1
  }
  if (i < n) {
    const row = i * n, vi = v[i]!, wi = w[i]!, ui = u[i]!
    let s = 0
    for (let j = lo; j < i; j++) {
      const aij = a[row + j]! - vi * w[j]! - wi * v[j]!
      a[row + j] = aij
      s += aij * u[j]!
      y[j] += aij * ui
    }
    const aii = a[row + i]! - 2 * vi * wi
    a[row + i] = aii
    y[i] += s + aii * ui
  }
}

/**
 * Householder tridiagonalization of a symmetric n×n row-major matrix (only its lower triangle is read; the
 * array is overwritten). Each step's rank-2 update is fused with the next step's matrix-vector product, so the
 * trailing triangle is streamed once per column.
 */
export const tridiagonalize = (a: Float64Array, n: number): Tridiagonal => {
  if (a.length !== n * n) throw new Error(`tridiagonalize: a has ${a.length} values, expected ${n}×${n}`)
  const diag = new Float64Array(n)
  const off = new Float64Array(Math.max(n - 1, 0))
  const tau = new Float64Array(Math.max(n - 2, 0))
  const reflectors = new Float64Array(Math.max(offset(n, Math.max(n - 2, 0)), 0))
  const q = { kind: "packed" as const, tau, reflectors }
  if (n <= 2) {
    for (let i = 0; i < n; i++) diag[i] = a[i * n + i]!
    if (n === 2) off[0] = a[n]!
    return { n, diag, off, q }
  }
  let v = new Float64Array(n), u = new Float64Array(n)
  let y = new Float64Array(n), yNext = new Float64Array(n)
  const w = new Float64Array(n)
  let [t, beta] = householder(a, n, 0, v)
  // y = S·v for the trailing block S = A[1.., 1..] (lower triangle, both halves through symmetry).
  for (let i = 1; i < n; i++) {
    const row = i * n, vi = v[i]!
    let s = 0
    for (let j = 1; j < i; j++) {
      const aij = a[row + j]!
      s += aij * v[j]!
      y[j] += aij * vi
    }
    y[i] += s + a[row + i]! * vi
  }
  for (let k = 0; k <= n - 3; k++) {
    diag[k] = a[k * n + k]!
    off[k] = beta
    tau[k] = t
    reflectors.set(v.subarray(k + 1), offset(n, k))
    let pv = 0
    for (let i = k + 1; i < n; i++) pv += t * y[i]! * v[i]!
    const half = (t / 2) * pv
    for (let i = k + 1; i < n; i++) w[i] = t * y[i]! - half * v[i]!
    const vk1 = v[k + 1]!, wk1 = w[k + 1]!
    for (let i = k + 1; i < n; i++) a[i * n + k + 1] -= v[i]! * wk1 + w[i]! * vk1
    let tNext = 0, betaNext = 0
    if (k + 1 <= n - 3) [tNext, betaNext] = householder(a, n, k + 1, u)
    else u.fill(0)
    yNext.fill(0)
    fusedUpdate(a, n, k + 2, v, w, u, yNext)
    ;[v, u] = [u, v]
    ;[y, yNext] = [yNext, y]
    t = tNext
    beta = betaNext
  }
  diag[n - 2] = a[(n - 2) * n + n - 2]!
  off[n - 2] = a[(n - 1) * n + n - 2]!
  diag[n - 1] = a[(n - 1) * n + n - 1]!
  return { n, diag, off, q }
}

/** x ← Qᵀ·x in place (x has length n, or is any contiguous slice of length n at `start`). */
export const applyQt = (t: Tridiagonal, x: Float64Array, start = 0): void => {
  const { tau, reflectors } = packed(t), n = t.n
  for (let k = 0; k < n - 2; k++) reflect(n, k, tau[k]!, reflectors, x, start)
}

/** x ← Q·x in place. */
export const applyQ = (t: Tridiagonal, x: Float64Array, start = 0): void => {
  const { tau, reflectors } = packed(t), n = t.n
  for (let k = n - 3; k >= 0; k--) reflect(n, k, tau[k]!, reflectors, x, start)
}

const reflect = (n: number, k: number, tk: number, reflectors: Float64Array, x: Float64Array, start: number) => {
  if (tk === 0) return
  const o = offset(n, k), base = start + k + 1, len = n - k - 1
  let s = 0
  for (let i = 0; i < len; i++) s += reflectors[o + i]! * x[base + i]!
  s *= tk
  for (let i = 0; i < len; i++) x[base + i] -= s * reflectors[o + i]!
}

// Below this many rows, reflectors are applied one by one; above, in blocks through matrix products.
const FEW_ROWS = 8

/**
 * Every row of the row-major rows×n matrix p, in place: row ← Qᵀ·row (`transpose`) or Q·row; returns p. Many rows
 * go through the compact WY form of `block` reflectors at a time, H_k⋯H_{k+b−1} = I − V·T·Vᵀ, so that the work is
 * three matrix products per block, yielded to the caller's kernels.
 */
export function* applyQRows(t: Tridiagonal, p: Float64Array, rows: number, transpose: boolean, block = 128): Steps<Float64Array> {
  const { tau, reflectors } = packed(t), n = t.n
  if (p.length !== rows * n) throw new Error(`applyQRows: p has ${p.length} values, expected ${rows}×${n}`)
  const m = Math.max(n - 2, 0)
  if (rows < FEW_ROWS) {
    for (let r = 0; r < rows; r++) (transpose ? applyQt : applyQ)(t, p, r * n)
    return p
  }
  const starts = Array.from({ length: Math.ceil(m / block) }, (_, i) => i * block)
  // row·Q = (Qᵀ·row)ᵀ applies H₀ first; row·Qᵀ applies the blocks last to first, each with Tᵀ.
  if (!transpose) starts.reverse()
  for (const k0 of starts) {
    const b = Math.min(block, m - k0), len = n - k0 - 1
    const vt = new Float64Array(b * len)
    for (let c = 0; c < b; c++) vt.set(reflectors.subarray(offset(n, k0 + c), offset(n, k0 + c) + len - c), c * len + c)
    const vDense = { data: vt, rows: b, cols: len }
    const g = yield* product(vDense, vDense, { transB: true, symmetric: true })
    const tm = new Float64Array(b * b)
    for (let c = 0; c < b; c++) {
      const tc = tau[k0 + c]!
      tm[c * b + c] = tc
      for (let r = 0; r < c; r++) {
        let s = 0
        for (let q = r; q < c; q++) s += tm[r * b + q]! * g[q * b + c]!
        tm[r * b + c] = -tc * s
      }
    }
    if (!transpose) {
      for (let r = 0; r < b; r++) for (let c = r + 1; c < b; c++) {
        tm[c * b + r] = tm[r * b + c]!
        tm[r * b + c] = 0
      }
    }
    const trailing = new Float64Array(rows * len)
    for (let r = 0; r < rows; r++) trailing.set(p.subarray(r * n + k0 + 1, r * n + n), r * len)
    const w = yield* product({ data: trailing, rows, cols: len }, vDense, { transB: true })
    const wt = yield* product({ data: w, rows, cols: b }, { data: tm, rows: b, cols: b })
    const delta = yield* product({ data: wt, rows, cols: b }, vDense)
    for (let r = 0; r < rows; r++) {
      const o = r * n + k0 + 1, d = r * len
      for (let i = 0; i < len; i++) p[o + i] -= delta[d + i]!
    }
  }
  return p
}

/** The LDLᵀ factors of T + α·I: unit subdiagonal `l` and pivots `d`. */
export interface ShiftedFactor {
  readonly l: Float64Array
  readonly d: Float64Array
}

/** Factors T + α·I (α > 0 keeps it positive definite for a positive semi-definite T). */
export const factorShifted = (t: Tridiagonal, alpha: number): ShiftedFactor => {
  const { n, diag, off } = t
  const l = new Float64Array(n), d = new Float64Array(n)
  d[0] = diag[0]! + alpha
  for (let i = 1; i < n; i++) {
    l[i] = off[i - 1]! / d[i - 1]!
    d[i] = diag[i]! + alpha - l[i]! * off[i - 1]!
  }
  return { l, d }
}

/** Solves (T + α·I)·z = b with a factor from `factorShifted`; returns z, written into `into` when given. */
export const solveShifted = (f: ShiftedFactor, b: ArrayLike<number>, into?: Float64Array): Float64Array => {
  const { l, d } = f
  const n = d.length
  const z = into ?? new Float64Array(n)
  z[0] = b[0]!
  for (let i = 1; i < n; i++) z[i] = b[i]! - l[i]! * z[i - 1]!
  for (let i = 0; i < n; i++) z[i] /= d[i]!
  for (let i = n - 2; i >= 0; i--) z[i] -= l[i + 1]! * z[i + 1]!
  return z
}

/** The quadratic form of every row of the row-major rows×n matrix p in every (T + αₛ·I)⁻¹: a rows×factors matrix. */
export const shiftedForms = (factors: ReadonlyArray<ShiftedFactor>, p: Float64Array, rows: number): Float64Array => {
  const out = new Float64Array(rows * factors.length)
  const n = factors.length === 0 ? 0 : factors[0]!.d.length
  if (p.length !== rows * n) throw new Error(`shiftedForms: p has ${p.length} values, expected ${rows}×${n}`)
  for (let r = 0; r < rows; r++) factors.forEach((f, s) => (out[r * factors.length + s] = quadraticShifted(f, p, r * n)))
  return out
}

/** bᵀ·(T + α·I)⁻¹·b for the slice of x of length n at `start`, by one forward substitution. */
export const quadraticShifted = (f: ShiftedFactor, x: Float64Array, start = 0): number => {
  const { l, d } = f
  const n = d.length
  let g = x[start]!
  let q = (g * g) / d[0]!
  for (let i = 1; i < n; i++) {
    g = x[start + i]! - l[i]! * g
    q += (g * g) / d[i]!
  }
  return q
}
