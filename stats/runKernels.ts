import { isBanded, solveShiftedAll } from "./banded"
import { choleskySteps } from "./cholesky"
import { gemm, gemmShape } from "./gemm"
import type { Backend, KernelRequest, KernelTrace, Steps } from "./kernels"
import { columnMoments, standardizeRows, transposedProductByBlocks } from "./standardizedRows"
import { applyQRows, shiftedForms, tridiagonalize } from "./tridiagonal"

// The n×n matrix whose rows are `stride` apart in a, as a contiguous array (a itself when they already are).
const packRows = (a: Float64Array, n: number, stride: number) => {
  if (stride === n) return a
  const out = new Float64Array(n * n)
  for (let i = 0; i < n; i++) out.set(a.subarray(i * stride, i * stride + n), i * n)
  return out
}

// The JavaScript implementation of a request; the larger ones are themselves algorithms yielding products.
const javascript = function* (request: KernelRequest, trace: KernelTrace | undefined): Generator<KernelRequest, unknown, unknown> {
  switch (request.op) {
    case "gemm": {
      if (trace !== undefined) {
        const { m, n, k } = gemmShape(request.a, request.b, request.options)
        trace.largestJsProduct = Math.max(trace.largestJsProduct, (request.options.symmetric ? 0.5 : 1) * m * n * k)
      }
      return gemm(request.a, request.b, request.options, request.into)
    }
    case "tridiagonalize":
    case "reduce":
      return tridiagonalize(packRows(request.a, request.n, request.stride ?? request.n), request.n)
    case "applyQ":
      if (isBanded(request.t)) throw new Error("applyQ: the reflectors of a band reduction are applied by the native kernels only")
      return yield* applyQRows(request.t, request.p, request.rows, request.transpose)
    case "shiftedSolve":
      return solveShiftedAll(request.r, request.alphas, request.rhs, request.count)
    case "formQ": {
      const n = request.t.n, q = new Float64Array(n * n)
      for (let i = 0; i < n; i++) q[i * n + i] = 1
      return yield* applyQRows(request.t, q, n, true)
    }
    case "shiftedForms":
      return shiftedForms(request.factors, request.p, request.rows)
    case "choleskySolve":
      return yield* choleskySteps(request.a, request.n, request.b, request.nrhs)
    case "moments":
      return columnMoments(request.x, request.rows)
    case "transposedProduct":
      return yield* transposedProductByBlocks(request.z, request.c, request.m)
    case "standardize":
      return standardizeRows(request.x, request.rows, request.mean, request.sd, request.from, request.to, request.into)
  }
}

const count = (trace: KernelTrace | undefined, key: string, started: number) => {
  if (trace === undefined) return
  trace.calls[key] = (trace.calls[key] ?? 0) + 1
  trace.seconds[key] = (trace.seconds[key] ?? 0) + (performance.now() - started) / 1000
}

/** Runs an algorithm on the JavaScript kernels only. */
export const runSync = <A>(steps: Steps<A>, trace?: KernelTrace): A => {
  const drive = (g: Generator<KernelRequest, unknown, unknown>): unknown => {
    let step = g.next()
    while (!step.done) {
      const started = performance.now(), op = step.value.op
      const result = drive(javascript(step.value, trace))
      count(trace, `js.${op}`, started)
      step = g.next(result)
    }
    return step.value
  }
  return drive(steps) as A
}

/** Runs an algorithm with every request the backend accepts sent to it, the rest on the JavaScript kernels. */
export const runWith = async <A>(steps: Steps<A>, backend: Backend, trace?: KernelTrace): Promise<A> => {
  const drive = async (g: Generator<KernelRequest, unknown, unknown>): Promise<unknown> => {
    let step = g.next()
    while (!step.done) {
      const request = step.value, started = performance.now()
      const handler = backend[request.op] as ((r: KernelRequest) => unknown) | undefined
      const offered = handler?.(request)
      if (offered === undefined) {
        const result = await drive(javascript(request, trace))
        count(trace, `js.${request.op}`, started)
        step = g.next(result)
      } else {
        const result = offered instanceof Promise ? await offered : offered
        count(trace, `${backend.name}.${request.op}`, started)
        step = g.next(result)
      }
    }
    return step.value
  }
  return (await drive(steps)) as A
}

/** The backend that takes nothing: every request runs on the JavaScript kernels (asynchronously driven). */
export const javascriptBackend: Backend = { name: "js" }
