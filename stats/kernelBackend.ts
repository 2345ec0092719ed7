import type { Backend } from "./kernels"
import { nativeKernels, nativeKernelsMissing } from "./nativeKernels"
import { makeOnnxGemm } from "./onnxGemm"

/** A backend chosen for this machine, the means to free it, and why it is not the fastest one when it is not. */
export interface KernelBackend {
  readonly backend: Backend
  readonly release: () => Promise<void>
  readonly fallback?: string
}

/**
 * The fastest kernels available: OpenBLAS and LAPACK through the native addon when it is built, else onnxruntime's
 * float64 Gemm for large products with every other kernel in JavaScript.
 */
export const kernelBackend = (threads?: number): KernelBackend => {
  const native = nativeKernels(threads === undefined ? {} : { threads })
  if (native !== undefined) return { backend: native, release: async () => {} }
  const onnx = makeOnnxGemm(threads)
  return { backend: onnx.backend, release: onnx.release, fallback: nativeKernelsMissing()! }
}

const shared = new Map<number | undefined, KernelBackend>()

/** One `kernelBackend(threads)` per thread count for the whole process (its onnxruntime sessions, if any, live until exit). */
export const sharedKernelBackend = (threads?: number): KernelBackend => {
  let backend = shared.get(threads)
  if (backend === undefined) shared.set(threads, (backend = kernelBackend(threads)))
  return backend
}
