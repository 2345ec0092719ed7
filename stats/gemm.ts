import type { Dense } from "./dense"

/**
 * Options of `gemm`: transpose either operand; `symmetric` promises op(A)·op(B) is symmetric, so only its lower
 * triangle is computed (and mirrored into a new result; left alone in a caller's `GemmTarget`).
 */
export interface GemmOptions {
  readonly transA?: boolean
  readonly transB?: boolean
  readonly symmetric?: boolean
}

/** Where a product goes instead of a new array: the m×n block at `offset` of `data` with row stride `stride`, added to it when `accumulate`. */
export interface GemmTarget {
  readonly data: Float64Array
  readonly offset: number
  readonly stride: number
  readonly accumulate: boolean
}

const MR = 4
const NR = 4
const KC = 256
const MC = 96
const NC = 2048

// Packs op(A)[i0:i0+mc, p0:p0+kc] into MR-row micro-panels laid out p-major, zero-padded at the edge.
const packA = (a: Dense, trans: boolean, i0: number, mc: number, p0: number, kc: number, out: Float64Array) => {
  const src = a.data, ld = a.cols
  const panels = Math.ceil(mc / MR)
  for (let panel = 0; panel < panels; panel++) {
    const base = panel * kc * MR
    for (let r = 0; r < MR; r++) {
      const i = i0 + panel * MR + r
      if (panel * MR + r >= mc) {
        for (let p = 0; p < kc; p++) out[base + p * MR + r] = 0
      } else if (trans) {
        for (let p = 0; p < kc; p++) out[base + p * MR + r] = src[(p0 + p) * ld + i]!
      } else {
        const row = i * ld + p0
        for (let p = 0; p < kc; p++) out[base + p * MR + r] = src[row + p]!
      }
    }
  }
}

// Packs op(B)[p0:p0+kc, j0:j0+nc] into NR-column micro-panels laid out p-major, zero-padded at the edge.
const packB = (b: Dense, trans: boolean, p0: number, kc: number, j0: number, nc: number, out: Float64Array) => {
  const src = b.data, ld = b.cols
  const panels = Math.ceil(nc / NR)
  for (let panel = 0; panel < panels; panel++) {
    const base = panel * kc * NR
    for (let c = 0; c < NR; c++) {
      const j = j0 + panel * NR + c
      if (panel * NR + c >= nc) {
        for (let p = 0; p < kc; p++) out[base + p * NR + c] = 0
      } else if (trans) {
        const row = j * ld + p0
        for (let p = 0; p < kc; p++) out[base + p * NR + c] = src[row + p]!
      } else {
        for (let p = 0; p < kc; p++) out[base + p * NR + c] = src[(p0 + p) * ld + j]!
      }
    }
  }
}

// C[i0:i0+4, j0:j0+4] += packed A micro-panel × packed B micro-panel, sixteen accumulators in registers.
const kernel = (
  pa: Float64Array, ao: number, pb: Float64Array, bo: number, kc: number,
  c: Float64Array, c0: number, ldc: number, i0: number, j0: number, mr: number, nr: number
) => {
  let c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0
  let c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0
  for (let p = 0; p < kc; p++) {
    const a = ao + p * 4, b = bo + p * 4
    const a0 = pa[a]!, a1 = pa[a + 1]!, a2 = pa[a + 2]!, a3 = pa[a + 3]!
    const b0 = pb[b]!, b1 = pb[b + 1]!, b2 = pb[b + 2]!, b3 = pb[b + 3]!
    c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3
    c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3
    c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3
    c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3
  }
  if (mr === 4 && nr === 4) {
    let o = c0 + i0 * ldc + j0
    c[o] += c00; c[o + 1] += c01; c[o + 2] += c02; c[o + 3] += c03
    o += ldc
    c[o] += c10; c[o + 1] += c11; c[o + 2] += c12; c[o + 3] += c13
    o += ldc
    c[o] += c20; c[o + 1] += c21; c[o + 2] += c22; c[o + 3] += c23
    o += ldc
    c[o] += c30; c[o + 1] += c31; c[o + 2] += c32; c[o + 3] += c33
    return
  }
  const tile = [c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33]
  for (let r = 0; r < mr; r++) for (let s = 0; s < nr; s++) c[c0 + (i0 + r) * ldc + j0 + s] += tile[r * 4 + s]!
}

/** The m, n and k of op(A)·op(B), checked. */
export const gemmShape = (a: Dense, b: Dense, options: GemmOptions, fn = "gemm"): { m: number; n: number; k: number } => {
  const m = options.transA ? a.cols : a.rows, k = options.transA ? a.rows : a.cols
  const kb = options.transB ? b.cols : b.rows, n = options.transB ? b.rows : b.cols
  if (k !== kb) throw new Error(`${fn}: inner dimensions differ: op(a) is ${m}×${k}, op(b) is ${kb}×${n}`)
  if (options.symmetric && m !== n) throw new Error(`${fn}: symmetric needs a square product, got ${m}×${n}`)
  return { m, n, k }
}

/** Checks that a target holds an m×n block. */
export const checkTarget = (into: GemmTarget, m: number, n: number, fn = "gemm"): void => {
  if (into.stride < n || into.offset < 0 || (m > 0 && into.offset + (m - 1) * into.stride + n > into.data.length)) {
    throw new Error(`${fn}: the target (offset ${into.offset}, stride ${into.stride}, ${into.data.length} values) cannot hold ${m}×${n}`)
  }
}

// Packing buffers, grown to the largest product so far and reused by the next: a product runs to its end without
// yielding, and packing writes every value the kernel reads (zeros at the edges), so nothing needs clearing. Fresh
// buffers per product were most of what a probe fit allocated.
const packed = { a: new Float64Array(0), b: new Float64Array(0) }
const packing = (side: "a" | "b", length: number) => (packed[side].length >= length ? packed[side] : (packed[side] = new Float64Array(length)))

/**
 * C = op(A)·op(B) as a new row-major float64 matrix (m×n), or into a caller's target, by a packed, cache-blocked
 * product with 4×4 register tiles. With `symmetric` only tiles on or below the diagonal are computed.
 */
export const gemm = (a: Dense, b: Dense, options: GemmOptions = {}, into?: GemmTarget): Float64Array => {
  const transA = options.transA ?? false, transB = options.transB ?? false
  const { m, n, k } = gemmShape(a, b, options)
  if (into !== undefined) {
    checkTarget(into, m, n)
    if (!into.accumulate) for (let i = 0; i < m; i++) into.data.fill(0, into.offset + i * into.stride, into.offset + i * into.stride + n)
  }
  const c = into?.data ?? new Float64Array(m * n), c0 = into?.offset ?? 0, ldc = into?.stride ?? n
  const pa = packing("a", Math.ceil(Math.min(MC, m) / MR) * MR * Math.min(KC, k))
  const pb = packing("b", Math.ceil(Math.min(NC, n) / NR) * NR * Math.min(KC, k))
  for (let j0 = 0; j0 < n; j0 += NC) {
    const nc = Math.min(NC, n - j0)
    for (let p0 = 0; p0 < k; p0 += KC) {
      const kc = Math.min(KC, k - p0)
      packB(b, transB, p0, kc, j0, nc, pb)
      for (let i0 = options.symmetric ? j0 - (j0 % MC) : 0; i0 < m; i0 += MC) {
        const mc = Math.min(MC, m - i0)
        if (options.symmetric && i0 + mc <= j0) continue
        packA(a, transA, i0, mc, p0, kc, pa)
        for (let jr = 0; jr < nc; jr += NR) {
          const nr = Math.min(NR, nc - jr)
          for (let ir = 0; ir < mc; ir += MR) {
            if (options.symmetric && i0 + ir + MR - 1 < j0 + jr) continue
            kernel(pa, (ir / MR) * kc * MR, pb, (jr / NR) * kc * NR, kc, c, c0, ldc, i0 + ir, j0 + jr, Math.min(MR, mc - ir), nr)
          }
        }
      }
    }
  }
  if (options.symmetric && into === undefined) for (let i = 0; i < m; i++) for (let j = i + 1; j < n; j++) c[i * n + j] = c[j * n + i]!
  return c
}
