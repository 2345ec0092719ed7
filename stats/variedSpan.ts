import { EigenvalueDecomposition, Matrix } from "ml-matrix"
import type { Dense } from "./dense"

/** An orthonormal basis (one row of `cols` values per direction) of the directions some rows of a matrix vary along. */
export interface Span {
  readonly rank: number
  readonly cols: number
  readonly basis: Float64Array
}

/**
 * The directions the given rows of x vary along: eigenvectors of their covariance whose standard deviation exceeds
 * `tolerance` times the largest one's (1e-4 by default: float32 rounding leaves directions that never varied at about
 * 1e-7 of the activations' scale). Computed from the smaller of the row Gram (n × n, directions X_cᵀu/√λ) and the
 * covariance (d × d).
 */
export const variedSpan = (x: Dense, rows: ArrayLike<number>, tolerance = 1e-4): Span => {
  const n = rows.length
  const d = x.cols
  if (n < 2) throw new Error(`variedSpan: rows has ${n} entries, need at least 2`)
  const mean = new Float64Array(d)
  for (let r = 0; r < n; r++) for (let j = 0; j < d; j++) mean[j] += x.data[rows[r]! * d + j]! / n
  const centred = new Float64Array(n * d)
  for (let r = 0; r < n; r++) for (let j = 0; j < d; j++) centred[r * d + j] = x.data[rows[r]! * d + j]! - mean[j]!
  const gramSide = n <= d
  const m = gramSide ? n : d
  // Typed-array loops over contiguous rows: ml-matrix's mmul and get() cost several times more at n, d in the thousands.
  const gram = new Float64Array(m * m)
  if (gramSide) {
    for (let a = 0; a < n; a++) {
      for (let b = 0; b <= a; b++) {
        let dot = 0
        for (let j = 0; j < d; j++) dot += centred[a * d + j]! * centred[b * d + j]!
        gram[a * n + b] = dot
        gram[b * n + a] = dot
      }
    }
  } else {
    for (let r = 0; r < n; r++) {
      for (let a = 0; a < d; a++) {
        const ca = centred[r * d + a]!
        if (ca === 0) continue
        for (let b = 0; b <= a; b++) gram[a * d + b] += ca * centred[r * d + b]!
      }
    }
    for (let a = 0; a < d; a++) for (let b = 0; b < a; b++) gram[b * d + a] = gram[a * d + b]!
  }
  const eig = new EigenvalueDecomposition(new Matrix(Array.from({ length: m }, (_, a) => gram.subarray(a * m, (a + 1) * m))), { assumeSymmetric: true })
  const values = eig.realEigenvalues
  const vectors = eig.eigenvectorMatrix
  const largest = Math.max(...values)
  const kept = values.flatMap((v, i) => (largest > 0 && v > tolerance * tolerance * largest ? [i] : []))
  const basis = new Float64Array(kept.length * d)
  kept.forEach((i, k) => {
    const u = vectors.getColumn(i)
    if (gramSide) {
      // A Gram eigenvector u with eigenvalue λ gives the unit direction X_cᵀu/√λ.
      const scale = 1 / Math.sqrt(values[i]!)
      for (let r = 0; r < n; r++) {
        const w = u[r]! * scale
        for (let j = 0; j < d; j++) basis[k * d + j] += w * centred[r * d + j]!
      }
    } else {
      for (let j = 0; j < d; j++) basis[k * d + j] = u[j]!
    }
  })
  return { rank: kept.length, cols: d, basis }
}

/** The orthogonal projection of v onto a span. */
export const projectOnto = (span: Span, v: ArrayLike<number>): Float64Array => {
  if (v.length !== span.cols) throw new Error(`projectOnto: v has ${v.length} values but the span lives in ${span.cols} dimensions`)
  const out = new Float64Array(span.cols)
  for (let k = 0; k < span.rank; k++) {
    let dot = 0
    for (let j = 0; j < span.cols; j++) dot += span.basis[k * span.cols + j]! * v[j]!
    for (let j = 0; j < span.cols; j++) out[j] += dot * span.basis[k * span.cols + j]!
  }
  return out
}
