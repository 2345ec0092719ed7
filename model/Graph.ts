/** A small builder of ONNX graphs over onnx-proto: nodes, initializers, inputs and outputs by name. */
import type OnnxProto from "onnx-proto"
import { onnxProto } from "./onnxModules"

type Onnx = (typeof OnnxProto)["onnx"]

/** ONNX element types used by the decoder graphs. */
export const ElemType = { float: 1, int32: 6, int64: 7, bool: 9, float16: 10 } as const

/** An attribute value: integers, floats (tagged so 1.0 stays a float), or integer lists. */
export type Attr = { readonly i: number } | { readonly f: number } | { readonly ints: ReadonlyArray<number> }

/** A mutable graph under construction. */
export interface GraphBuilder {
  /** Adds a node; returns its output names (fresh names unless `outputs` is given). */
  readonly node: (op: string, inputs: ReadonlyArray<string>, attrs?: Record<string, Attr>, options?: { domain?: string; outputs?: ReadonlyArray<string>; count?: number }) => string[]
  /** Adds a float32 (or float16-stored) initializer and returns its name. */
  readonly weight: (name: string, dims: ReadonlyArray<number>, data: Float32Array) => string
  /** Adds an int64 constant initializer and returns its name. */
  readonly ints: (values: ReadonlyArray<number>, dims?: ReadonlyArray<number>) => string
  /** Adds a float32 constant initializer and returns its name. */
  readonly floats: (values: ReadonlyArray<number>, dims?: ReadonlyArray<number>) => string
  /** Declares a graph input. */
  readonly input: (name: string, elem: number, dims: ReadonlyArray<number | string>) => string
  /** Declares a graph output. */
  readonly output: (name: string, elem: number, dims: ReadonlyArray<number | string>) => void
  /** Serialises the model; with `externalData` the large initializers go to that file name and are returned as `data`. */
  readonly encode: (name: string, externalData?: string) => { model: Uint8Array; data: ReadonlyArray<Uint8Array> }
  /** Number of nodes so far. */
  readonly size: () => number
}

const valueInfo = (name: string, elem: number, dims: ReadonlyArray<number | string>) =>
  onnxProto().ValueInfoProto.create({
    name,
    type: {
      tensorType: {
        elemType: elem,
        shape: { dim: dims.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })) }
      }
    }
  })

const toAttribute = (name: string, value: Attr) => {
  const onnx = onnxProto()
  return "i" in value
    ? onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INT, i: value.i })
    : "f" in value
    ? onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.FLOAT, f: value.f })
    : onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INTS, ints: [...value.ints] })
}

const toHalfBytes = (data: Float32Array, convert: (x: number) => number): Uint8Array => {
  const out = new Uint16Array(data.length)
  for (let i = 0; i < data.length; i++) out[i] = convert(data[i]!)
  return new Uint8Array(out.buffer)
}

/** Starts a graph; with `halfWeights` every `weight` is stored as float16 and cast to float32 in the graph. */
export const graphBuilder = (halfWeights?: (x: number) => number): GraphBuilder => {
  const onnx = onnxProto()
  const nodes: Array<ReturnType<Onnx["NodeProto"]["create"]>> = []
  const initializers: Array<ReturnType<Onnx["TensorProto"]["create"]>> = []
  const inputs: Array<ReturnType<Onnx["ValueInfoProto"]["create"]>> = []
  const outputs: Array<ReturnType<Onnx["ValueInfoProto"]["create"]>> = []
  let counter = 0
  const node: GraphBuilder["node"] = (op, ins, attrs = {}, options = {}) => {
    const outs = options.outputs ? [...options.outputs] : Array.from({ length: options.count ?? 1 }, () => `${op}_${counter++}`)
    nodes.push(onnx.NodeProto.create({
      opType: op,
      domain: options.domain ?? "",
      name: `n${nodes.length}_${op}`,
      input: [...ins],
      output: outs,
      attribute: Object.entries(attrs).map(([k, v]) => toAttribute(k, v))
    }))
    return outs
  }
  const weight: GraphBuilder["weight"] = (name, dims, data) => {
    if (halfWeights === undefined) {
      initializers.push(onnx.TensorProto.create({ name, dims: [...dims], dataType: ElemType.float, rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) }))
      return name
    }
    initializers.push(onnx.TensorProto.create({ name: `${name}.f16`, dims: [...dims], dataType: ElemType.float16, rawData: toHalfBytes(data, halfWeights) }))
    return node("Cast", [`${name}.f16`], { to: { i: ElemType.float } }, { outputs: [name] })[0]!
  }
  const ints: GraphBuilder["ints"] = (values, dims = [values.length]) => {
    const name = `const_${counter++}`
    const data = BigInt64Array.from(values.map((v) => BigInt(v)))
    initializers.push(onnx.TensorProto.create({ name, dims: [...dims], dataType: ElemType.int64, rawData: new Uint8Array(data.buffer) }))
    return name
  }
  const floats: GraphBuilder["floats"] = (values, dims = [values.length]) => {
    const name = `const_${counter++}`
    const data = Float32Array.from(values)
    initializers.push(onnx.TensorProto.create({ name, dims: [...dims], dataType: ElemType.float, rawData: new Uint8Array(data.buffer) }))
    return name
  }
  return {
    node,
    weight,
    ints,
    floats,
    input: (name, elem, dims) => {
      inputs.push(valueInfo(name, elem, dims))
      return name
    },
    output: (name, elem, dims) => {
      outputs.push(valueInfo(name, elem, dims))
    },
    size: () => nodes.length,
    encode: (name, externalData) => {
      const data: Uint8Array[] = []
      let offset = 0
      const tensors = externalData === undefined ? initializers : initializers.map((t) => {
        const raw = t.rawData
        if (raw.length < 1024) return t
        data.push(raw)
        const entry = onnx.TensorProto.create({
          name: t.name,
          dims: t.dims,
          dataType: t.dataType,
          dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
          externalData: [
            { key: "location", value: externalData },
            { key: "offset", value: String(offset) },
            { key: "length", value: String(raw.length) }
          ]
        })
        offset += raw.length
        return entry
      })
      const model = onnx.ModelProto.encode(onnx.ModelProto.create({
        irVersion: 8,
        producerName: "prefpipe",
        opsetImport: [{ domain: "", version: 17 }, { domain: "com.microsoft", version: 1 }],
        graph: onnx.GraphProto.create({ name, node: nodes, initializer: tensors, input: inputs, output: outputs })
      })).finish()
      return { model, data }
    }
  }
}
