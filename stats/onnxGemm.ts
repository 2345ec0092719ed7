import type * as Ort from "onnxruntime-node"
import type { Dense } from "./dense"
import { checkTarget, gemmShape } from "./gemm"
import type { Backend, KernelRequest } from "./kernels"

/** A float64 matrix-product backend on onnxruntime's CPU provider and the means to free its sessions. */
export interface OnnxGemm {
  readonly backend: Backend
  readonly release: () => Promise<void>
}

const DOUBLE = 11
// Products below this many multiply-adds stay in JavaScript: a session run costs more than they do.
const SMALL = 4_000_000

// One Gemm node with symbolic dimensions, so a single session serves every shape of one transpose combination.
const gemmModel = async (transA: boolean, transB: boolean): Promise<Uint8Array> => {
  const { onnx } = (await import("onnx-proto")).default
  const info = (name: string, dims: string[]) =>
    onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType: DOUBLE, shape: { dim: dims.map((d) => ({ dimParam: d })) } } } })
  const flag = (name: string, on: boolean) => onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INT, i: on ? 1 : 0 })
  const graph = onnx.GraphProto.create({
    name: "gemm",
    node: [onnx.NodeProto.create({ opType: "Gemm", input: ["A", "B"], output: ["C"], attribute: [flag("transA", transA), flag("transB", transB)] })],
    input: [info("A", ["a0", "a1"]), info("B", ["b0", "b1"])],
    output: [info("C", ["m", "n"])]
  })
  return onnx.ModelProto.encode(onnx.ModelProto.create({ irVersion: 8, opsetImport: [{ domain: "", version: 13 }], graph })).finish()
}

const asDouble = (x: Dense) => (x.data instanceof Float64Array ? x.data : Float64Array.from(x.data))

/**
 * The onnxruntime backend: float64 Gemm through MLAS with `threads` intra-op threads for the products of at least
 * `minimumWork` multiply-adds (onnxruntime is loaded at the first one); every other kernel stays in JavaScript.
 */
export const makeOnnxGemm = (threads = 2, minimumWork = SMALL): OnnxGemm => {
  const sessions = new Map<string, Promise<Ort.InferenceSession>>()
  const runtime = () => import("onnxruntime-node")
  const session = (transA: boolean, transB: boolean) => {
    const key = `${transA}/${transB}`
    let s = sessions.get(key)
    if (s === undefined) {
      s = Promise.all([runtime(), gemmModel(transA, transB)]).then(([ort, model]) =>
        ort.InferenceSession.create(model, { intraOpNumThreads: threads, interOpNumThreads: 1 })
      )
      sessions.set(key, s)
    }
    return s
  }
  const gemm = (request: Extract<KernelRequest, { op: "gemm" }>) => {
    const { a, b, options, into } = request
    const { m, n, k } = gemmShape(a, b, options, "onnxGemm")
    if (m * n * k < minimumWork || m === 0 || n === 0) return undefined
    if (into !== undefined) checkTarget(into, m, n, "onnxGemm")
    const transA = options.transA ?? false, transB = options.transB ?? false
    return (async () => {
      const [ort, s] = await Promise.all([runtime(), session(transA, transB)])
      const out = await s.run({
        A: new ort.Tensor("float64", asDouble(a), [a.rows, a.cols]),
        B: new ort.Tensor("float64", asDouble(b), [b.rows, b.cols])
      })
      const c = out.C!.data as Float64Array
      if (into === undefined) return c
      for (let i = 0; i < m; i++) {
        const o = into.offset + i * into.stride
        if (into.accumulate) for (let j = 0; j < n; j++) into.data[o + j] += c[i * n + j]!
        else into.data.set(c.subarray(i * n, i * n + n), o)
      }
      return into.data
    })()
  }
  const release = async () => {
    const all = [...sessions.values()]
    sessions.clear()
    for (const s of all) await (await s).release()
  }
  return { backend: { name: "onnxruntime", gemm }, release }
}
