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
  /**
   * Adds a float32 (or float16-stored) initializer and returns its name. A `shared` float32 weight is also declared a
   * graph input (the initializer its default), which onnxruntime treats as not constant: it neither folds nor
   * prepacks it, so every node reads the one copy.
   */
  readonly weight: (name: string, dims: ReadonlyArray<number>, data: Float32Array, options?: { readonly shared?: boolean }) => string
  /** Adds an int64 constant initializer and returns its name. */
  readonly ints: (values: ReadonlyArray<number>, dims?: ReadonlyArray<number>) => string
  /** Adds a float32 constant initializer and returns its name. */
  readonly floats: (values: ReadonlyArray<number>, dims?: ReadonlyArray<number>) => string
  /** Declares a graph input. */
  readonly input: (name: string, elem: number, dims: ReadonlyArray<number | string>) => string
  /** Declares a graph output. */
  readonly output: (name: string, elem: number, dims: ReadonlyArray<number | string>) => void
  /**
   * Serialises the model; with `externalData` the large initializers go to that file name and are returned as `data`,
   * the file's contents in order (zero padding included).
   */
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

/**
 * Offsets of external tensors are multiples of this (the largest common page size), so onnxruntime maps each tensor
 * from the file where it lies instead of reading it into memory of its own.
 */
const externalAlignment = 64 * 1024

/** Initializers smaller than this stay inside the graph. */
const externalMinBytes = 1024

/** Zero bytes that bring `offset` to the next external tensor's start. */
const paddingAt = (offset: number) => (externalAlignment - (offset % externalAlignment)) % externalAlignment

type Tensor = ReturnType<Onnx["TensorProto"]["create"]>

/** The initializer `t` as a reference to its bytes at `offset` of the file `location`. */
const externalReference = (t: Tensor, location: string, offset: number): Tensor =>
  onnxProto().TensorProto.create({
    name: t.name,
    dims: t.dims,
    dataType: t.dataType,
    dataLocation: onnxProto().TensorProto.DataLocation.EXTERNAL,
    externalData: [
      { key: "location", value: location },
      { key: "offset", value: String(offset) },
      { key: "length", value: String(t.rawData.length) }
    ]
  })

/** Appends `t`'s bytes at the first aligned offset from `offset`; returns its reference and the offset after it. */
const writeExternal = (t: Tensor, location: string, offset: number, write: (bytes: Uint8Array) => void) => {
  const padding = paddingAt(offset)
  if (padding > 0) write(new Uint8Array(padding))
  write(t.rawData)
  return { reference: externalReference(t, location, offset + padding), end: offset + padding + t.rawData.length }
}

/** A file that the large initializers are written to as they are added, so the builder holds none of them. */
export interface ExternalData {
  /** The file's name as the graph refers to it (beside the model). */
  readonly location: string
  /** Appends bytes to the file. */
  readonly write: (bytes: Uint8Array) => void
}

/**
 * Starts a graph; with `halfWeights` every `weight` is stored as float16 and cast to float32 in the graph; with
 * `external` the large initializers go to that file as they are added (and `encode` needs no `externalData`).
 */
export const graphBuilder = (halfWeights?: (x: number) => number, external?: ExternalData): GraphBuilder => {
  const onnx = onnxProto()
  const nodes: Array<ReturnType<Onnx["NodeProto"]["create"]>> = []
  const initializers: Tensor[] = []
  const inputs: Array<ReturnType<Onnx["ValueInfoProto"]["create"]>> = []
  const outputs: Array<ReturnType<Onnx["ValueInfoProto"]["create"]>> = []
  let counter = 0
  let written = 0
  const addInitializer = (t: Tensor) => {
    if (external === undefined || t.rawData.length < externalMinBytes) {
      initializers.push(t)
      return
    }
    const placed = writeExternal(t, external.location, written, external.write)
    initializers.push(placed.reference)
    written = placed.end
  }
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
  const weight: GraphBuilder["weight"] = (name, dims, data, options = {}) => {
    if (halfWeights === undefined) {
      addInitializer(onnx.TensorProto.create({ name, dims: [...dims], dataType: ElemType.float, rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) }))
      if (options.shared === true) inputs.push(valueInfo(name, ElemType.float, dims))
      return name
    }
    // A float16 weight is cast to float32 once, by constant folding; sharing it would cast it on every call.
    addInitializer(onnx.TensorProto.create({ name: `${name}.f16`, dims: [...dims], dataType: ElemType.float16, rawData: toHalfBytes(data, halfWeights) }))
    return node("Cast", [`${name}.f16`], { to: { i: ElemType.float } }, { outputs: [name] })[0]!
  }
  const ints: GraphBuilder["ints"] = (values, dims = [values.length]) => {
    const name = `const_${counter++}`
    const data = BigInt64Array.from(values.map((v) => BigInt(v)))
    addInitializer(onnx.TensorProto.create({ name, dims: [...dims], dataType: ElemType.int64, rawData: new Uint8Array(data.buffer) }))
    return name
  }
  const floats: GraphBuilder["floats"] = (values, dims = [values.length]) => {
    const name = `const_${counter++}`
    const data = Float32Array.from(values)
    addInitializer(onnx.TensorProto.create({ name, dims: [...dims], dataType: ElemType.float, rawData: new Uint8Array(data.buffer) }))
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
        if (t.rawData.length < externalMinBytes) return t
        const placed = writeExternal(t, externalData, offset, (bytes) => data.push(bytes))
        offset = placed.end
        return placed.reference
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
