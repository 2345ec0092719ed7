/** Solves the symmetric positive definite system A·x = b (A row-major n×n, not modified) by Cholesky. */
export const choleskySolve = (a: Float64Array, n: number, b: ArrayLike<number>): Float64Array => {
  if (a.length !== n * n) throw new Error(`choleskySolve: a has ${a.length} values, expected ${n}×${n}`)
  if (b.length !== n) throw new Error(`choleskySolve: b has ${b.length} values, expected ${n}`)
  const l = new Float64Array(n * n)
  for (let i = 0; i < n; i++) {
    const ri = i * n
    for (let j = 0; j <= i; j++) {
      const rj = j * n
      let s = a[ri + j]!
      for (let k = 0; k < j; k++) s -= l[ri + k]! * l[rj + k]!
      if (i === j) {
        if (!(s > 0)) throw new Error(`choleskySolve: matrix is not positive definite (pivot ${i} is ${s})`)
        l[ri + i] = Math.sqrt(s)
      } else l[ri + j] = s / l[rj + j]!
    }
  }
  const x = Float64Array.from(b)
  for (let i = 0; i < n; i++) {
    let s = x[i]!
    for (let k = 0; k < i; k++) s -= l[i * n + k]! * x[k]!
    x[i] = s / l[i * n + i]!
  }
  for (let i = n - 1; i >= 0; i--) {
    let s = x[i]!
    for (let k = i + 1; k < n; k++) s -= l[k * n + i]! * x[k]!
    x[i] = s / l[i * n + i]!
  }
  return x
}
