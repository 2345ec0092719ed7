import onnxProto from "onnx-proto"
import * as ort from "onnxruntime-node"
import type { Dense } from "./dense"
import { type AsyncGemm, gemm, type GemmOptions } from "./gemm"

/** A float64 matrix-product backend on onnxruntime's CPU provider and the means to free its sessions. */
export interface OnnxGemm {
  readonly gemm: AsyncGemm
  readonly release: () => Promise<void>
}

const DOUBLE = 11
// Products below this many multiply-adds stay in JavaScript: a session run costs more than they do.
const SMALL = 4_000_000

// One Gemm node with symbolic dimensions, so a single session serves every shape of one transpose combination.
const gemmModel = (transA: boolean, transB: boolean): Uint8Array => {
  const { onnx } = onnxProto
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

/** Creates the onnxruntime backend (float64 Gemm through MLAS with `threads` intra-op threads). */
export const makeOnnxGemm = (threads = 2): OnnxGemm => {
  const sessions = new Map<string, Promise<ort.InferenceSession>>()
  const session = (transA: boolean, transB: boolean) => {
    const key = `${transA}/${transB}`
    let s = sessions.get(key)
    if (s === undefined) {
      s = ort.InferenceSession.create(gemmModel(transA, transB), { intraOpNumThreads: threads, interOpNumThreads: 1 })
      sessions.set(key, s)
    }
    return s
  }
  const run: AsyncGemm = async (a: Dense, b: Dense, options: GemmOptions) => {
    const transA = options.transA ?? false, transB = options.transB ?? false
    const m = transA ? a.cols : a.rows, k = transA ? a.rows : a.cols, n = transB ? b.rows : b.cols
    if (m * n * k < SMALL) return gemm(a, b, options)
    const kb = transB ? b.cols : b.rows
    if (k !== kb) throw new Error(`onnxGemm: inner dimensions differ: op(a) is ${m}×${k}, op(b) is ${kb}×${n}`)
    const s = await session(transA, transB)
    const out = await s.run({
      A: new ort.Tensor("float64", asDouble(a), [a.rows, a.cols]),
      B: new ort.Tensor("float64", asDouble(b), [b.rows, b.cols])
    })
    return out.C!.data as Float64Array
  }
  const release = async () => {
    const all = [...sessions.values()]
    sessions.clear()
    for (const s of all) await (await s).release()
  }
  return { gemm: run, release }
}
