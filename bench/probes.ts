/**
 * Ridge probe benchmark at the width of real models: n ∈ {1,000, 5,000, 20,000} tasks × d ∈ {1,024, 4,096, 8,192}
 * float32 activations, 20 alphas, 5-fold CV (one row per task, the same five contiguous folds on both sides) and
 * efficient leave-one-out, each beside scikit-learn run in the same session on the same data: GridSearchCV over
 * StandardScaler+Ridge with KFold(5), and StandardScaler+RidgeCV. Every prefpipe fit runs in a fresh child process,
 * after one small warm-up fit of the same form, and reports its time, its peak resident memory above the process's
 * resident memory before the activations existed (against the activation matrix; first fit only), and the largest
 * product left to the JavaScript GEMM; scikit-learn's peak memory is measured the same way in its own process. A fit
 * under two seconds is timed five times in a process, in three processes taken in turns with scikit-learn's, and the
 * median of the three medians reported, with the fastest of the fifteen beside it; scikit-learn's side gets the same
 * warm-up and the same count. The fallback kernels (onnxruntime's Gemm, the rest in JavaScript) are timed where they finish
 * in reasonable time. Sizes: `npm run bench:probes -- 1000x4096 5000x8192` (default: every size that fits in memory);
 * `--threads=N` gives both sides' OpenBLAS N threads (default: every core; on a busy machine 1 is faster for both).
 * scikit-learn comes from the system Python (Debian: apt-get install python3-sklearn); without it its columns are
 * skipped and the bench says so.
 */
import { execFileSync, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { kernelTrace } from "../stats/kernels"
import { nativeKernels, nativeKernelsInfo, nativeKernelsMissing } from "../stats/nativeKernels"
import { makeOnnxGemm } from "../stats/onnxGemm"
import { makePrng } from "../stats/prng"
import { fitRidgeWith } from "../stats/ridge"

const alphas = Array.from({ length: 20 }, (_, i) => 10 ** (-2 + (7 * i) / 19))
const folds = 5
const allSizes: [number, number][] = [1000, 5000, 20000].flatMap((n) => [1024, 4096, 8192].map((d): [number, number] => [n, d]))
const self = fileURLToPath(import.meta.url)

/** Activations with a planted linear read-out: uniform noise, a shared slow signal on every seventh feature. */
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

// The same five contiguous folds as scikit-learn's KFold(5) without shuffling (the first n mod 5 one row longer).
const kfoldLabels = (n: number) => {
  const labels = new Int32Array(n)
  let start = 0
  for (let f = 0; f < folds; f++) {
    const size = Math.floor(n / folds) + (f < n % folds ? 1 : 0)
    labels.fill(f, start, start + size)
    start += size
  }
  return labels
}

const statusKb = (field: string) => Number(/(\d+)\s*kB/.exec(fs.readFileSync("/proc/self/status", "utf8").split("\n").find((l) => l.startsWith(field)) ?? "")?.[1] ?? NaN) * 1024

// Fits shorter than this are timed `repeats` times in each process and in `rounds` processes, on both sides.
const shortFit = 2, repeats = 5, rounds = 3
const median = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b), mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

interface ChildResult {
  readonly seconds: number
  readonly times: number[]
  readonly best?: number
  readonly alpha: number
  readonly cvR2: number
  readonly weightsStd: number[]
  readonly dataBytes: number
  readonly rssBeforeData: number
  readonly peakRss: number
  readonly largestJsProduct: number
  readonly backend: string
  readonly kernelSeconds: Record<string, number>
}

/** Child mode: one fit on freshly generated data, reported as one JSON line. */
const child = async (n: number, d: number, cv: "kfold" | "loo", kernels: "native" | "fallback", threads: number) => {
  const onnx = kernels === "fallback" ? makeOnnxGemm(threads) : undefined
  const backend = onnx?.backend ?? nativeKernels({ threads })
  if (backend === undefined) throw new Error(nativeKernelsMissing())
  // A session fits many probes, as scikit-learn's process has its code compiled and its thread pool up before it is
  // timed: one small fit of the same form first, large enough that every kernel the fit asks for runs on the
  // backend, so that neither the JIT's first compilation nor OpenBLAS's per-thread buffers count as this fit's time
  // or memory.
  const warm = n < d ? synthetic(400, 800, 1) : synthetic(800, 400, 1)
  await fitRidgeWith(backend, warm.x, warm.y, cv === "loo" ? { alphas, cv } : { alphas, folds: kfoldLabels(warm.x.rows) })
  const rssBeforeData = statusKb("VmRSS:")
  const { x, y } = synthetic(n, d, n + d)
  const fitOnce = async (trace = kernelTrace()) => {
    const t = performance.now()
    const fit = await fitRidgeWith(backend, x, y, cv === "loo" ? { alphas, cv, trace } : { alphas, folds: kfoldLabels(n), trace })
    return { fit, trace, seconds: (performance.now() - t) / 1000 }
  }
  const first = await fitOnce()
  const peakRss = statusKb("VmHWM:")
  const times = [first.seconds]
  while (first.seconds < shortFit && times.length < repeats) times.push((await fitOnce()).seconds)
  await onnx?.release()
  const { fit, trace } = first
  const result: ChildResult = {
    seconds: median(times), times, alpha: fit.alpha, cvR2: fit.cvR2, weightsStd: Array.from(fit.weightsStd), dataBytes: x.data.byteLength,
    rssBeforeData, peakRss, largestJsProduct: trace.largestJsProduct, backend: backend.name, kernelSeconds: trace.seconds
  }
  process.stdout.write(JSON.stringify(result) + "\n")
}

const runChild = (n: number, d: number, cv: "kfold" | "loo", kernels: "native" | "fallback", threads: number): ChildResult => {
  const out = execFileSync(process.execPath, [...process.execArgv, self, "--child", String(n), String(d), cv, kernels, String(threads)], { encoding: "utf8", maxBuffer: 1 << 28, stdio: ["ignore", "pipe", "inherit"] })
  return JSON.parse(out.trim().split("\n").pop()!) as ChildResult
}

const findPython = (): string | undefined =>
  ["/usr/bin/python3", "python3"].find((exe) => spawnSync(exe, ["-c", "import sklearn"], { stdio: "ignore" }).status === 0)

const sklearnScript = `
import sys, time, json, numpy as np
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.linear_model import Ridge, RidgeCV
from sklearn.model_selection import GridSearchCV, KFold
n, d, xpath, ypath, what = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[6]
alphas = [float(a) for a in sys.argv[5].split(",")]
def status(key):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(key))
# Peak resident memory of the first fit above the process's before the activations, as prefpipe's side reports it.
before = status("VmRSS:")
X = np.fromfile(xpath, dtype=np.float32).reshape(n, d)
y = np.fromfile(ypath, dtype=np.float64)
short, repeats = float(sys.argv[7]), int(sys.argv[8])
# One small fit of the same form first, as prefpipe's side has.
warm = (slice(0, 400), slice(0, 800)) if n < d else (slice(0, 800), slice(0, 400))
def timed(fit):
    fit(X[warm], y[warm[0]])
    t = time.perf_counter()
    result = fit(X, y)
    times = [time.perf_counter() - t]
    memory = (status("VmHWM:") - before) / X.nbytes
    while times[0] < short and len(times) < repeats:
        t = time.perf_counter()
        fit(X, y)
        times.append(time.perf_counter() - t)
    return result, float(np.median(times)), times, memory
out = {}
if "kfold" in what:
    g, seconds, times, memory = timed(lambda X, y: GridSearchCV(make_pipeline(StandardScaler(), Ridge()), {"ridge__alpha": alphas}, cv=KFold(5), scoring="r2").fit(X, y))
    out["kfold"] = {"seconds": seconds, "times": times, "memory": memory, "alpha": g.best_params_["ridge__alpha"]}
if "loo" in what:
    p, seconds, times, memory = timed(lambda X, y: make_pipeline(StandardScaler(), RidgeCV(alphas=alphas)).fit(X, y))
    r = p[-1]
    out["loo"] = {"seconds": seconds, "times": times, "memory": memory, "alpha": r.alpha_, "r2": 1 + r.best_score_ / np.var(y), "coef": r.coef_.tolist()}
print(json.dumps(out))
`

interface SklearnResult {
  kfold?: { seconds: number; times: number[]; best?: number; memory: number; alpha: number }
  loo?: { seconds: number; times: number[]; best?: number; memory: number; alpha: number; r2: number; coef: number[] }
}

// scikit-learn's OpenBLAS gets the same thread count as prefpipe's.
const runSklearn = (python: string, dir: string, n: number, d: number, what: string, threads: number): SklearnResult => {
  const out = execFileSync(python, [path.join(dir, "run.py"), String(n), String(d), path.join(dir, "x.f32"), path.join(dir, "y.f64"), alphas.join(","), what, String(shortFit), String(repeats)], {
    encoding: "utf8", maxBuffer: 1 << 28, env: { ...process.env, OPENBLAS_NUM_THREADS: String(threads) }, stdio: ["ignore", "pipe", "pipe"]
  })
  return JSON.parse(out.trim().split("\n").pop()!) as SklearnResult
}

const memAvailable = () => Number(/MemAvailable:\s+(\d+)/.exec(fs.readFileSync("/proc/meminfo", "utf8"))?.[1] ?? 0) * 1024
const gb = (bytes: number) => `${(bytes / 2 ** 30).toFixed(2)} GiB`
const maxRelative = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let worst = 0, scale = 0
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]!))
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / scale)
  return worst
}

const spread = (times: number[]) => (times.length === 1 ? "" : ` (median of ${times.length} rounds' medians: ${times.map((t) => t.toFixed(3)).join(", ")})`)

const describe = (r: ChildResult) =>
  `${r.seconds.toFixed(2)} s${spread(r.times)}, alpha ${r.alpha.toPrecision(3)}, cv R² ${r.cvR2.toFixed(4)}, peak RSS ${gb(r.peakRss)} = ${((r.peakRss - r.rssBeforeData) / r.dataBytes).toFixed(2)}× the ${gb(r.dataBytes)} activations above the process's ${gb(r.rssBeforeData)} before them; largest JavaScript product ${(r.largestJsProduct / 1e6).toFixed(1)}M multiply-adds`

const main = async () => {
  const args = process.argv.slice(2)
  const threads = Number(args.find((a) => a.startsWith("--threads="))?.slice(10) ?? os.availableParallelism())
  if (!(Number.isInteger(threads) && threads >= 1)) throw new Error(`--threads must be a positive integer, got ${threads}`)
  const picked = args.filter((a) => !a.startsWith("--"))
  const sizes = picked.length === 0 ? allSizes : allSizes.filter(([n, d]) => picked.includes(`${n}x${d}`))
  if (sizes.length === 0) throw new Error(`no size matches ${picked.join(" ")}; sizes are ${allSizes.map(([n, d]) => `${n}x${d}`).join(" ")}`)
  const info = nativeKernelsInfo()
  console.log(info === undefined ? `native kernels missing: ${nativeKernelsMissing()}` : `kernels: OpenBLAS (${info.config.trim()}); ${threads} thread${threads === 1 ? "" : "s"} on both sides`)
  const python = findPython()
  console.log(python === undefined ? "scikit-learn not importable: its timings are skipped (Debian: apt-get install python3-sklearn)" : `scikit-learn via ${python}`)
  console.log(`load average ${os.loadavg().map((l) => l.toFixed(2)).join(" ")}, ${os.availableParallelism()} cores`)
  const rows: string[] = []
  for (const [n, d] of sizes) {
    console.log(`\n${n} × ${d} (${n < d ? "n < d: dual" : "n ≥ d: primal"}), ${alphas.length} alphas`)
    // scikit-learn's RidgeCV holds a float64 copy, its SVD (or Gram and eigenvectors) and the scaled float32 input.
    const need = 24 * n * d + 16 * Math.min(n, d) ** 2
    if (need > memAvailable() * 0.6) {
      console.log(`  skipped: scikit-learn's leave-one-out needs about ${gb(need)}, ${gb(memAvailable())} is available`)
      rows.push(`| ${n} × ${d} | skipped: needs about ${gb(need)} |`)
      continue
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-probes-"))
    try {
      let sk: SklearnResult = {}
      if (python !== undefined) {
        const { x, y } = synthetic(n, d, n + d)
        fs.writeFileSync(path.join(dir, "x.f32"), Buffer.from(x.data.buffer, x.data.byteOffset, x.data.byteLength))
        fs.writeFileSync(path.join(dir, "y.f64"), Buffer.from(y.buffer, y.byteOffset, y.byteLength))
        fs.writeFileSync(path.join(dir, "run.py"), sklearnScript)
      }
      const fits: Record<string, ChildResult> = {}
      for (const cv of ["kfold", "loo"] as const) {
        // Short fits run in rounds, the two sides in turn, so that a burst of other work on the machine falls on
        // both; each side's figure is the median of its rounds' medians.
        const ours: ChildResult[] = [], theirs: { seconds: number; times: number[] }[] = []
        for (let round = 0; round < rounds; round++) {
          if (python !== undefined) {
            const r = runSklearn(python, dir, n, d, cv, threads)
            theirs.push(r[cv]!)
            if (round === 0) Object.assign(sk, r)
          }
          if (info !== undefined) ours.push(runChild(n, d, cv, "native", threads))
          if ([...ours, ...theirs].some((r) => r.times[0]! >= shortFit)) break
        }
        // The fastest of every timed fit, beside the median: what the fit costs with the least interference.
        const best = (runs: { times: number[] }[]) => Math.min(...runs.flatMap((r) => r.times))
        if (ours.length > 0) {
          fits[cv] = { ...ours[0]!, seconds: median(ours.map((r) => r.seconds)), times: ours.map((r) => r.seconds), best: best(ours) }
          console.log(`  prefpipe ${cv === "kfold" ? "5-fold" : "leave-one-out"}: ${describe(fits[cv]!)}`)
        }
        if (theirs.length > 0) Object.assign(sk[cv]!, { seconds: median(theirs.map((r) => r.seconds)), times: theirs.map((r) => r.seconds), best: best(theirs) })
        const reference = sk[cv]
        // GridSearchCV picks alpha by the mean of per-fold R², prefpipe by pooled out-of-fold R²: their alphas may differ.
        if (reference !== undefined) console.log(`  scikit-learn ${cv === "kfold" ? "GridSearchCV KFold(5)" : "RidgeCV"}: ${reference.seconds.toFixed(2)} s${spread(reference.times)}, alpha ${reference.alpha.toPrecision(3)}, peak RSS ${reference.memory.toFixed(2)}× the activations${fits[cv] === undefined ? "" : `  → ratio ${(fits[cv]!.seconds / reference.seconds).toFixed(2)}×${reference.times.length > 1 ? `, fastest fits ${fits[cv]!.best!.toFixed(3)} s against ${reference.best!.toFixed(3)} s: ${(fits[cv]!.best! / reference.best!).toFixed(2)}×` : ""}`}`)
        if (cv === "loo" && sk.loo !== undefined && fits.loo !== undefined) {
          console.log(`  agreement with RidgeCV: alpha ${fits.loo.alpha === sk.loo.alpha ? "same" : "DIFFERENT"}, LOO R² ${fits.loo.cvR2.toFixed(6)} vs ${sk.loo.r2.toFixed(6)}, weights max |Δ|/max|w| ${maxRelative(fits.loo.weightsStd, sk.loo.coef).toExponential(1)} (scikit-learn scales the float32 input in float32)`)
        }
        // The fallback's JavaScript tridiagonalization is O(size³) at about 1 GFlop/s: timed up to size 1,024.
        if (Math.min(n - Math.floor(n / folds), d) <= 1024) {
          const fallback = runChild(n, d, cv, "fallback", threads)
          console.log(`  fallback (onnxruntime Gemm + JavaScript) ${cv}: ${fallback.seconds.toFixed(2)} s`)
          fits[`${cv}-fallback`] = fallback
        }
      }
      const ratio = (cv: "kfold" | "loo") => {
        const ours = fits[cv], theirs = sk[cv]
        if (ours === undefined || theirs === undefined) return "–"
        const fastest = ours.best === undefined || theirs.best === undefined ? "" : ` (fastest ${(ours.best / theirs.best).toFixed(2)})`
        return `${(ours.seconds / theirs.seconds).toFixed(2)}${fastest}`
      }
      const secs = (r: { seconds: number } | undefined) => (r === undefined ? "–" : r.seconds.toFixed(r.seconds < 10 ? 2 : 1))
      const peak = Math.max(...["kfold", "loo"].map((k) => (fits[k] === undefined ? 0 : (fits[k]!.peakRss - fits[k]!.rssBeforeData) / fits[k]!.dataBytes)))
      const theirPeak = Math.max(...(["kfold", "loo"] as const).map((k) => sk[k]?.memory ?? 0))
      const js = Math.max(...["kfold", "loo"].map((k) => fits[k]?.largestJsProduct ?? 0))
      rows.push(`| ${n} × ${d} | ${secs(fits.kfold)} | ${secs(sk.kfold)} | ${ratio("kfold")} | ${secs(fits.loo)} | ${secs(sk.loo)} | ${ratio("loo")} | ${peak.toFixed(2)}×${theirPeak > 0 ? ` (${theirPeak.toFixed(2)}×)` : ""} | ${(js / 1e6).toFixed(1)}M | ${secs(fits["kfold-fallback"])} / ${secs(fits["loo-fallback"])} |`)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }
  console.log("\n| n × d | 5-fold s | GridSearchCV s | ratio | LOO s | RidgeCV s | ratio | peak memory / activations (scikit-learn's) | largest JS product | fallback 5-fold / LOO s |")
  console.log("|---|---|---|---|---|---|---|---|---|---|")
  for (const r of rows) console.log(r)
  console.log(`\nload average at the end ${os.loadavg().map((l) => l.toFixed(2)).join(" ")}`)
}

const [flag, n, d, cv, kernels, threads] = process.argv.slice(2)
;(flag === "--child" ? child(Number(n), Number(d), cv as "kfold" | "loo", kernels as "native" | "fallback", Number(threads)) : main()).catch((e) => {
  console.error(e)
  process.exit(1)
})
