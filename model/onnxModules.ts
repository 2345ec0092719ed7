import { createRequire } from "node:module"
import type * as Ort from "onnxruntime-node"
import type OnnxProto from "onnx-proto"

// Each costs about a tenth of a second to load: commands and builds that run no model never load them.
const load = createRequire(import.meta.url)
let runtime: typeof Ort | undefined
let proto: (typeof OnnxProto)["onnx"] | undefined

/** onnxruntime-node, loaded at first use. */
export const onnxRuntime = (): typeof Ort => (runtime ??= load("onnxruntime-node") as typeof Ort)

/** onnx-proto's message classes, loaded at first use. */
export const onnxProto = (): (typeof OnnxProto)["onnx"] => (proto ??= (load("onnx-proto") as typeof OnnxProto).onnx)
