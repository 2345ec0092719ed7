/** A smooth objective: returns f(w) and writes ∇f(w) into `grad`. */
export type Objective = (w: Float64Array, grad: Float64Array) => number

/** Minimizes a smooth convex objective by L-BFGS (two-loop recursion, backtracking Armijo line search). */
export const lbfgs = (
  objective: Objective, start: Float64Array,
  options: { memory?: number; maxIterations?: number; tolerance?: number } = {}
): { w: Float64Array; value: number; iterations: number } => {
  const memory = options.memory ?? 10, maxIterations = options.maxIterations ?? 500, tolerance = options.tolerance ?? 1e-9
  const d = start.length
  const dot = (a: Float64Array, b: Float64Array) => {
    let s = 0
    for (let i = 0; i < d; i++) s += a[i]! * b[i]!
    return s
  }
  let w = Float64Array.from(start), grad = new Float64Array(d)
  let value = objective(w, grad)
  const ss: Float64Array[] = [], ys: Float64Array[] = [], rhos: number[] = []
  const dir = new Float64Array(d), next = new Float64Array(d), nextGrad = new Float64Array(d)
  let iterations = 0
  for (; iterations < maxIterations; iterations++) {
    if (Math.sqrt(dot(grad, grad)) <= tolerance * Math.max(1, Math.abs(value))) break
    dir.set(grad)
    const alphas: number[] = []
    for (let m = ss.length - 1; m >= 0; m--) {
      const a = rhos[m]! * dot(ss[m]!, dir)
      alphas[m] = a
      for (let i = 0; i < d; i++) dir[i] -= a * ys[m]![i]!
    }
    const gamma = ss.length === 0 ? 1 / Math.max(Math.sqrt(dot(grad, grad)), 1e-300) : dot(ss[ss.length - 1]!, ys[ys.length - 1]!) / dot(ys[ys.length - 1]!, ys[ys.length - 1]!)
    for (let i = 0; i < d; i++) dir[i] *= gamma
    for (let m = 0; m < ss.length; m++) {
      const b = rhos[m]! * dot(ys[m]!, dir)
      for (let i = 0; i < d; i++) dir[i] += ss[m]![i]! * (alphas[m]! - b)
    }
    let slope = -dot(grad, dir)
    if (!(slope < 0)) {
      dir.set(grad)
      slope = -dot(grad, grad)
      ss.length = ys.length = rhos.length = 0
    }
    let step = 1, nextValue = Infinity
    for (let tries = 0; tries < 60; tries++) {
      for (let i = 0; i < d; i++) next[i] = w[i]! - step * dir[i]!
      nextValue = objective(next, nextGrad)
      if (nextValue <= value + 1e-4 * step * slope) break
      step /= 2
    }
    if (!(nextValue <= value)) break
    const s = new Float64Array(d), y = new Float64Array(d)
    for (let i = 0; i < d; i++) {
      s[i] = next[i]! - w[i]!
      y[i] = nextGrad[i]! - grad[i]!
    }
    const sy = dot(s, y)
    if (sy > 1e-300) {
      ss.push(s)
      ys.push(y)
      rhos.push(1 / sy)
      if (ss.length > memory) {
        ss.shift()
        ys.shift()
        rhos.shift()
      }
    }
    const converged = Math.abs(value - nextValue) <= 1e-15 * Math.max(1, Math.abs(value))
    ;[w, grad] = [Float64Array.from(next), Float64Array.from(nextGrad)]
    value = nextValue
    if (converged) {
      iterations++
      break
    }
  }
  return { w, value, iterations }
}
