import { Effect } from "effect"
import type { Backend } from "../../stats/kernels"
import { nativeKernels, nativeKernelsMissing } from "../../stats/nativeKernels"
import { makeOnnxGemm } from "../../stats/onnxGemm"
import { javascriptBackend } from "../../stats/runKernels"
import { openBlasAbsent } from "./externalTools"

/** A kernel backend under test and the means to free it. */
export interface BackendUnderTest {
  readonly name: string
  readonly backend: Backend
  readonly release: () => Promise<void>
}

/**
 * Every kernel backend this machine has, each taking every call however small (and the native one reducing to band form
 * from the least order it can), for contract tests: JavaScript,
 * onnxruntime's Gemm, and OpenBLAS/LAPACK when the native addon is built (without it the tests say so and run on the
 * other two; under PREFPIPE_REQUIRE_TOOLS=1 they fail).
 */
export const kernelBackends = (): BackendUnderTest[] => {
  const native = nativeKernels({ minimumWork: 0, bandFrom: 0 })
  if (native === undefined) openBlasAbsent(nativeKernelsMissing()!)
  const onnx = makeOnnxGemm(1, 0)
  return [
    { name: "javascript", backend: javascriptBackend, release: async () => {} },
    { name: "onnxruntime", backend: onnx.backend, release: onnx.release },
    ...(native === undefined ? [] : [{ name: "openblas", backend: native, release: async () => {} }])
  ]
}

/** Runs a check on every kernel backend built here, releasing each after its check. */
export const onEveryBackend = (check: (b: BackendUnderTest) => Promise<void>) =>
  Effect.promise(async () => {
    for (const b of kernelBackends()) {
      try {
        await check(b)
      } finally {
        await b.release()
      }
    }
  })
