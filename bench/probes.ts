/**
 * Ridge probe benchmark: 20 alphas on 5,000 × 4,096 and 2,000 × 1,024 float32 activations, 5-fold CV and
 * efficient leave-one-out, beside scikit-learn (GridSearchCV over StandardScaler+Ridge with KFold(5), and
 * RidgeCV) run as a python3 subprocess when scikit-learn imports. Also times the Gram product X·Xᵀ of the
 * blocked GEMM against onnxruntime's Gemm at 5,000 × 4,096.
 */
import { execFileSync, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as ort from "onnxruntime-node"
import onnxProto from "onnx-proto"
import { gemm } from "../stats/gemm"
import { makePrng } from "../stats/prng"
import { makeOnnxGemm } from "../stats/onnxGemm"
import { fitRidge, fitRidgeWith, type RidgeFit } from "../stats/ridge"

const alphas = Array.from({ length: 20 }, (_, i) => 10 ** (-2 + (7 * i) / 19))
const only = process.argv.slice(2)

const synthetic = (n: number, d: number, seed: number) => {
  const prng = makePrng(seed)
  const data = new Float32Array(n * d)
  const planted = Float64Array.from({ length: d }, () => prng.next() - 0.5)
  const y = new Float64Array(n)
  for (let i = 0; i < n; i++) {
    let s = 0
    for (let j = 0; j < d; j++) {
      const v = prng.next() * 2 - 1 + (j % 7 === 0 ? 0.5 * Math.sin(i) : 0)
      data[i * d + j] = v
      s += v * planted[j]!
    }
    y[i] = s + prng.next() - 0.5
  }
  return { x: { data, rows: n, cols: d }, y }
}

const seconds = async <A>(f: () => A | Promise<A>): Promise<[A, number]> => {
  const t = performance.now()
  const out = await f()
  return [out, (performance.now() - t) / 1000]
}

const describeFit = (fit: RidgeFit) => `alpha ${fit.alpha.toPrecision(3)}, cv R² ${fit.cvR2.toFixed(4)}`

const findPython = (): string | undefined =>
  ["python3", "/usr/bin/python3"].find((exe) => spawnSync(exe, ["-c", "import sklearn"], { stdio: "ignore" }).status === 0)

const sklearnScript = `
import sys, time, numpy as np
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.linear_model import Ridge, RidgeCV
from sklearn.model_selection import GridSearchCV, KFold
n, d, xpath, ypath = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
alphas = [float(a) for a in sys.argv[5].split(",")]
X = np.fromfile(xpath, dtype=np.float32).reshape(n, d)
y = np.fromfile(ypath, dtype=np.float64)
t = time.perf_counter()
GridSearchCV(make_pipeline(StandardScaler(), Ridge()), {"ridge__alpha": alphas}, cv=KFold(5), scoring="r2").fit(X, y)
kfold = time.perf_counter() - t
t = time.perf_counter()
make_pipeline(StandardScaler(), RidgeCV(alphas=alphas)).fit(X, y)
loo = time.perf_counter() - t
print(f"{kfold} {loo}")
`

const runSklearn = (python: string, x: { data: Float32Array; rows: number; cols: number }, y: Float64Array) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-probes-"))
  try {
    const xp = path.join(dir, "x.f32"), yp = path.join(dir, "y.f64"), sp = path.join(dir, "run.py")
    fs.writeFileSync(xp, Buffer.from(x.data.buffer, x.data.byteOffset, x.data.byteLength))
    fs.writeFileSync(yp, Buffer.from(y.buffer, y.byteOffset, y.byteLength))
    fs.writeFileSync(sp, sklearnScript)
    const out = execFileSync(python, [sp, String(x.rows), String(x.cols), xp, yp, alphas.join(",")], { encoding: "utf8" })
    const [kfold, loo] = out.trim().split(/\s+/).map(Number)
    return { kfold: kfold!, loo: loo! }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

// One Gemm node computing op(A)·op(B) with transA = 1 (AᵀA from the row-major activations).
const gramModel = (elem: number, n: number, d: number): Uint8Array => {
  const { onnx } = onnxProto
  const info = (name: string, dims: number[]) => onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType: elem, shape: { dim: dims.map((v) => ({ dimValue: v })) } } } })
  const graph = onnx.GraphProto.create({
    name: "gram",
    node: [onnx.NodeProto.create({ opType: "Gemm", input: ["A", "B"], output: ["C"], attribute: [onnx.AttributeProto.create({ name: "transA", type: onnx.AttributeProto.AttributeType.INT, i: 1 })] })],
    input: [info("A", [n, d]), info("B", [n, d])],
    output: [info("C", [d, d])]
  })
  return onnx.ModelProto.encode(onnx.ModelProto.create({ irVersion: 8, opsetImport: [{ domain: "", version: 13 }], graph })).finish()
}

const ortGram = async (x: { data: Float32Array; rows: number; cols: number }, double: boolean) => {
  const session = await ort.InferenceSession.create(gramModel(double ? 11 : 1, x.rows, x.cols), { intraOpNumThreads: 2 })
  const data = double ? Float64Array.from(x.data) : x.data
  const tensor = new ort.Tensor(double ? "float64" : "float32", data, [x.rows, x.cols])
  const t = performance.now()
  await session.run({ A: tensor, B: tensor })
  const s = (performance.now() - t) / 1000
  await session.release()
  return s
}

const main = async () => {
  const python = findPython()
  console.log(python === undefined ? "scikit-learn not importable: its timings are skipped" : `scikit-learn via ${python}`)
  const sizes: [number, number][] = [[2000, 1024], [5000, 4096]]
  for (const [n, d] of sizes) {
    if (only.length > 0 && !only.includes(`${n}x${d}`)) continue
    const { x, y } = synthetic(n, d, n + d)
    const groups = Array.from({ length: n }, (_, i) => i)
    console.log(`\n${n} × ${d}, ${alphas.length} alphas`)
    if (n === 5000) {
      const [, js] = await seconds(() => gemm(x, x, { transA: true, symmetric: true }))
      console.log(`  XᵀX (${d}×${d} from ${n} rows): blocked JS GEMM ${js.toFixed(2)} s, onnxruntime Gemm float64 ${(await ortGram(x, true)).toFixed(2)} s, float32 ${(await ortGram(x, false)).toFixed(2)} s`)
    }
    const backend = makeOnnxGemm(2)
    const [kf, tk] = await seconds(() => fitRidgeWith(backend.gemm, x, y, { alphas, groups, k: 5 }))
    console.log(`  prefpipe 5-fold CV (onnxruntime products): ${tk.toFixed(2)} s (${describeFit(kf)})`)
    const [lo, tl] = await seconds(() => fitRidgeWith(backend.gemm, x, y, { alphas, cv: "loo" }))
    console.log(`  prefpipe leave-one-out (onnxruntime products): ${tl.toFixed(2)} s (${describeFit(lo)})`)
    await backend.release()
    if (n * d <= 2000 * 1024) {
      const [, jk] = await seconds(() => fitRidge(x, y, { alphas, groups, k: 5 }))
      const [, jl] = await seconds(() => fitRidge(x, y, { alphas, cv: "loo" }))
      console.log(`  prefpipe with the JavaScript GEMM only: 5-fold ${jk.toFixed(2)} s, leave-one-out ${jl.toFixed(2)} s`)
    }
    if (python !== undefined) {
      const sk = runSklearn(python, x, y)
      console.log(`  scikit-learn GridSearchCV KFold(5): ${sk.kfold.toFixed(2)} s  → ratio ${(tk / sk.kfold).toFixed(2)}×`)
      console.log(`  scikit-learn RidgeCV (LOO): ${sk.loo.toFixed(2)} s  → ratio ${(tl / sk.loo).toFixed(2)}×`)
    }
  }
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
