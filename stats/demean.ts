/**
 * Residuals of y after OLS on the one-hot indicators of one or more categorical columns (plus intercept),
 * by alternating projections: subtracting each column's group means in turn converges to the projection
 * onto the span of all indicators, collinear or not. `confounds[c][i]` is row i's level in column c.
 */
export const demean = (
  y: ArrayLike<number>, confounds: ReadonlyArray<ReadonlyArray<string | number>>,
  options: { tolerance?: number; maxIterations?: number } = {}
): Float64Array => {
  if (confounds.length === 0) throw new Error("demean: confounds has no columns")
  confounds.forEach((col, c) => {
    if (col.length !== y.length) throw new Error(`demean: confounds[${c}] has ${col.length} values but y has ${y.length}`)
  })
  const codes = confounds.map((col) => {
    const ids = new Map<string | number, number>()
    const level = Int32Array.from(col, (v) => {
      let id = ids.get(v)
      if (id === undefined) ids.set(v, (id = ids.size))
      return id
    })
    return { level, count: ids.size }
  })
  const r = Float64Array.from(y)
  const tolerance = options.tolerance ?? 1e-13, maxIterations = options.maxIterations ?? 10000
  const scale = Math.max(1, ...Array.from(r, Math.abs))
  for (let it = 0; it < maxIterations; it++) {
    let change = 0
    for (const { level, count } of codes) {
      const sum = new Float64Array(count), n = new Float64Array(count)
      for (let i = 0; i < r.length; i++) {
        sum[level[i]!] += r[i]!
        n[level[i]!] += 1
      }
      for (let g = 0; g < count; g++) change = Math.max(change, Math.abs(sum[g]! / n[g]!))
      for (let i = 0; i < r.length; i++) r[i] -= sum[level[i]!]! / n[level[i]!]!
    }
    if (change <= tolerance * scale) return r
  }
  throw new Error(`demean: alternating projections did not converge in ${maxIterations} sweeps`)
}
