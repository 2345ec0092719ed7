// Activation matrices stored as Arrow IPC (today) against Parquet with a FixedSizeList<float32> column: size,
// encode time and read time (bytes to the row-major Float32Array the probes use), plus the .npz export, at
// probe widths. The store keeps Arrow IPC unless Parquet costs at most 10% more in both size and read time.
// Run: npm run bench:artifacts [-- ROWS WIDTH]
import { decodeIpc, decodeParquet, encodeIpc, encodeParquet } from "../cache/TableCodecs"
import * as Artifact from "../pipeline/Artifact"
import { matrixArrays } from "../pipeline/export/Export"
import { npyData, npyHeader } from "../pipeline/export/Numpy"
import { zipStored } from "../pipeline/export/Zip"
import { matrixOf, toMatrixTable } from "../stages/tables"
import { pcg64 } from "../stats/random"
import { Either } from "effect"

const rows = Number(process.argv[2] ?? 2000)
const width = Number(process.argv[3] ?? 4096)
const layers = 2
const tasks = rows / layers
const rng = pcg64(7)
const normal = () => Math.sqrt(-2 * Math.log(1 - rng.nextDouble())) * Math.cos(2 * Math.PI * rng.nextDouble())
const vectors = Array.from({ length: rows }, () => Float32Array.from({ length: width }, () => 3 * normal()))
const keys = {
  task_id: Array.from({ length: rows }, (_, i) => `alpaca_${String(i % tasks).padStart(6, "0")}`),
  template_id: Array.from({ length: rows }, () => "qualitative_post_v1"),
  sample: Array.from({ length: rows }, () => 0),
  layer: Array.from({ length: rows }, (_, i) => Math.floor(i / tasks)),
  position: Array.from({ length: rows }, () => "prompt_last")
}
const { table } = Artifact.matrix(toMatrixTable(keys, vectors, width), { rows: ["task_id", "sample"], arrays: "layer_{layer}" }) as { table: Parameters<typeof encodeIpc>[0] }

/** Best of `runs` wall times in ms (the machine is shared; the minimum is the least disturbed run). */
const best = <A>(runs: number, f: () => A): { ms: number; value: A } => {
  let ms = Infinity
  let value: A | undefined
  for (let i = 0; i < runs; i++) {
    const t = performance.now()
    value = f()
    ms = Math.min(ms, performance.now() - t)
  }
  return { ms, value: value! }
}

const formats = [
  { name: "Arrow IPC (stored today)", encode: () => encodeIpc(table), decode: (b: Uint8Array) => decodeIpc(b) },
  { name: "Parquet, zstd", encode: () => encodeParquet(table), decode: (b: Uint8Array) => decodeParquet(b) },
  { name: "Parquet, uncompressed (export)", encode: () => encodeParquet(table, "uncompressed"), decode: (b: Uint8Array) => decodeParquet(b) }
]
console.log(`${rows} rows × ${width} float32 (${((rows * width * 4) / 1e6).toFixed(1)} MB raw), node ${process.version}; best of 5 reads, 2 encodes`)
console.log(`${"format".padEnd(32)} ${"bytes".padStart(12)} ${"size ×".padStart(7)} ${"encode ms".padStart(10)} ${"read ms".padStart(9)} ${"read ×".padStart(8)}`)
let reference: { bytes: number; read: number } | undefined
for (const f of formats) {
  const encoded = best(2, f.encode)
  const read = best(5, () => matrixOf(f.decode(encoded.value)))
  if (read.value.data.length !== rows * width) throw new Error(`${f.name}: read ${read.value.data.length} values`)
  reference ??= { bytes: encoded.value.byteLength, read: read.ms }
  console.log(
    `${f.name.padEnd(32)} ${String(encoded.value.byteLength).padStart(12)} ${(encoded.value.byteLength / reference.bytes).toFixed(3).padStart(7)} ` +
      `${encoded.ms.toFixed(0).padStart(10)} ${read.ms.toFixed(1).padStart(9)} ${(read.ms / reference.read).toFixed(1).padStart(8)}`
  )
}
const npz = best(2, () => {
  const { rowKeys, groups } = Either.getOrThrow(matrixArrays(table))
  return zipStored([...rowKeys, ...groups].map((a) => ({ name: `${a.name}.npy`, parts: [npyHeader(a), npyData(a)] })))
})
console.log(`${".npz export (in memory)".padEnd(32)} ${String(npz.value.reduce((n, p) => n + p.byteLength, 0)).padStart(12)} ${"".padStart(7)} ${npz.ms.toFixed(0).padStart(10)}`)
