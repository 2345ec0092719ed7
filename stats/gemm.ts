import type { Dense } from "./dense"

/** Options of `gemm`: transpose either operand, or compute only the lower triangle of a symmetric product and mirror it. */
export interface GemmOptions {
  readonly transA?: boolean
  readonly transB?: boolean
  readonly symmetric?: boolean
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
  c: Float64Array, ldc: number, i0: number, j0: number, mr: number, nr: number
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
    let o = i0 * ldc + j0
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
  for (let r = 0; r < mr; r++) for (let s = 0; s < nr; s++) c[(i0 + r) * ldc + j0 + s] += tile[r * 4 + s]!
}

/**
 * C = op(A)·op(B) as a new row-major float64 matrix (m×n), by a packed, cache-blocked product with 4×4
 * register tiles. With `symmetric` (the caller promises op(A)·op(B) is symmetric, e.g. X·Xᵀ) only tiles on or
 * below the diagonal are computed and the upper triangle is mirrored.
 */
export const gemm = (a: Dense, b: Dense, options: GemmOptions = {}): Float64Array => {
  const transA = options.transA ?? false, transB = options.transB ?? false
  const m = transA ? a.cols : a.rows, k = transA ? a.rows : a.cols
  const kb = transB ? b.cols : b.rows, n = transB ? b.rows : b.cols
  if (k !== kb) throw new Error(`gemm: inner dimensions differ: op(a) is ${m}×${k}, op(b) is ${kb}×${n}`)
  if (options.symmetric && m !== n) throw new Error(`gemm: symmetric needs a square product, got ${m}×${n}`)
  const c = new Float64Array(m * n)
  // Packing buffers only as large as this product's blocks: many small products must not each zero megabytes.
  const depth = Math.min(KC, k)
  const pa = new Float64Array(Math.ceil(Math.min(MC, m) / MR) * MR * depth)
  const pb = new Float64Array(Math.ceil(Math.min(NC, n) / NR) * NR * depth)
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
            kernel(pa, (ir / MR) * kc * MR, pb, (jr / NR) * kc * NR, kc, c, n, i0 + ir, j0 + jr, Math.min(MR, mc - ir), nr)
          }
        }
      }
    }
  }
  if (options.symmetric) for (let i = 0; i < m; i++) for (let j = i + 1; j < n; j++) c[i * n + j] = c[j * n + i]!
  return c
}

/** One matrix product requested by an algorithm written as a generator of products. */
export interface GemmRequest {
  readonly a: Dense
  readonly b: Dense
  readonly options: GemmOptions
}

/** An algorithm that yields each large matrix product it needs and receives the row-major result. */
export type GemmSteps<A> = Generator<GemmRequest, A, Float64Array>

/** A matrix-product backend that may run elsewhere (e.g. onnxruntime); same contract as `gemm`. */
export type AsyncGemm = (a: Dense, b: Dense, options: GemmOptions) => Promise<Float64Array>

/** Runs an algorithm with the products computed by the blocked JavaScript `gemm`. */
export const runWithGemm = <A>(steps: GemmSteps<A>): A => {
  let step = steps.next()
  while (!step.done) step = steps.next(gemm(step.value.a, step.value.b, step.value.options))
  return step.value
}

/** Runs an algorithm with the products computed by an asynchronous backend. */
export const runWithAsyncGemm = async <A>(steps: GemmSteps<A>, backend: AsyncGemm): Promise<A> => {
  let step = steps.next()
  while (!step.done) step = steps.next(await backend(step.value.a, step.value.b, step.value.options))
  return step.value
}
