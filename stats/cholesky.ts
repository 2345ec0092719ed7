import { product, type Steps } from "./kernels"
import { runSync } from "./runKernels"

const BLOCK = 128

/**
 * Solves the symmetric positive definite system A·X = B (A row-major n×n, only its lower triangle read, not
 * modified; B row-major n×nrhs) by a right-looking blocked Cholesky factorization whose trailing updates are
 * yielded as products.
 */
export function* choleskySteps(a: Float64Array, n: number, b: ArrayLike<number>, nrhs = 1): Steps<Float64Array> {
  if (a.length !== n * n) throw new Error(`choleskySolve: a has ${a.length} values, expected ${n}×${n}`)
  if (b.length !== n * nrhs) throw new Error(`choleskySolve: b has ${b.length} values, expected ${n}×${nrhs}`)
  const l = Float64Array.from(a)
  for (let k0 = 0; k0 < n; k0 += BLOCK) {
    const k1 = Math.min(n, k0 + BLOCK)
    // Diagonal block, unblocked (left-looking within the block).
    for (let i = k0; i < k1; i++) {
      const ri = i * n
      for (let j = k0; j <= i; j++) {
        const rj = j * n
        let s = l[ri + j]!
        for (let k = k0; k < j; k++) s -= l[ri + k]! * l[rj + k]!
        if (i === j) {
          if (!(s > 0)) throw new Error(`choleskySolve: matrix is not positive definite (pivot ${i} is ${s})`)
          l[ri + i] = Math.sqrt(s)
        } else l[ri + j] = s / l[rj + j]!
      }
    }
    if (k1 === n) break
    // Panel below the block: L21 = A21·L11⁻ᵀ, row by row.
    const width = k1 - k0, below = n - k1
    const panel = new Float64Array(below * width)
    for (let i = k1; i < n; i++) {
      const ri = i * n, pi = (i - k1) * width
      for (let j = k0; j < k1; j++) {
        const rj = j * n
        let s = l[ri + j]!
        for (let k = k0; k < j; k++) s -= l[ri + k]! * l[rj + k]!
        const v = s / l[rj + j]!
        l[ri + j] = v
        panel[pi + j - k0] = v
      }
    }
    const p = { data: panel, rows: below, cols: width }
    const update = yield* product(p, p, { transB: true, symmetric: true })
    for (let i = 0; i < below; i++) {
      const ri = (i + k1) * n + k1, ui = i * below
      for (let j = 0; j <= i; j++) l[ri + j] -= update[ui + j]!
    }
  }
  const x = Float64Array.from(b)
  for (let c = 0; c < nrhs; c++) {
    for (let i = 0; i < n; i++) {
      let s = x[i * nrhs + c]!
      for (let k = 0; k < i; k++) s -= l[i * n + k]! * x[k * nrhs + c]!
      x[i * nrhs + c] = s / l[i * n + i]!
    }
    for (let i = n - 1; i >= 0; i--) {
      let s = x[i * nrhs + c]!
      for (let k = i + 1; k < n; k++) s -= l[k * n + i]! * x[k * nrhs + c]!
      x[i * nrhs + c] = s / l[i * n + i]!
    }
  }
  return x
}

/** `choleskySteps` on the JavaScript kernels. */
export const choleskySolve = (a: Float64Array, n: number, b: ArrayLike<number>, nrhs = 1): Float64Array => runSync(choleskySteps(a, n, b, nrhs))
