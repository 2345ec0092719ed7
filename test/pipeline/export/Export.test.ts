import { DuckDBInstance, type DuckDBListValue } from "@duckdb/node-api"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect, Either } from "effect"
import { getAction } from "../../../cache/Actions"
import * as Artifact from "../../../pipeline/Artifact"
import { exportOutputs, matrixArrays, type ExportFormat, type ExportManifest } from "../../../pipeline/export/Export"
import { projectRoot } from "../../../pipeline/Target"
import { fromTable, matrixOf, toMatrixTable } from "../../../stages/tables"
import { experimentWorkspace, stageOutputs } from "../../support/experiment"
import { pythonWithNumpy, runPython } from "../../support/externalTools"

const defaultConfig = JSON.parse(fs.readFileSync(path.join(projectRoot, "experiments/default.json"), "utf8"))
const w = experimentWorkspace()
let build: Awaited<ReturnType<typeof w.build>>
const exported = (name: string) => path.join(w.dir, "exports", name)
const exportTo = (name: string, format: ExportFormat, hash = build.build) =>
  w.run(exportOutputs({ hash, to: exported(name), format })) as Promise<ExportManifest>
const manifests: Partial<Record<ExportFormat, ExportManifest>> = {}

/** The files of an `.npy` header parsed by the format's rules: magic, version 1.0, a dict literal, 64-byte alignment. */
const parseNpy = (bytes: Buffer) => {
  expect([...bytes.subarray(0, 8)]).toEqual([0x93, ..."NUMPY"].map((c) => (typeof c === "number" ? c : c.charCodeAt(0))).concat([1, 0]))
  const length = bytes.readUInt16LE(8)
  expect((10 + length) % 64).toBe(0)
  const header = bytes.subarray(10, 10 + length).toString("latin1")
  expect(header.endsWith("\n")).toBe(true)
  const m = /^\{'descr': '([^']+)', 'fortran_order': (True|False), 'shape': \(([^)]*)\), \} *\n$/.exec(header)
  expect(m).not.toBeNull()
  const shape = m![3]!.split(",").map((s) => s.trim()).filter((s) => s !== "").map(Number)
  return { descr: m![1]!, fortran: m![2] === "True", shape, data: bytes.subarray(10 + length) }
}

/** The named `.npy` members of a stored `.npz`, read from its local headers. */
const npzMembers = (zip: Buffer): Map<string, Buffer> => {
  const members = new Map<string, Buffer>()
  let at = 0
  while (zip.readUInt32LE(at) === 0x04034b50) {
    expect(zip.readUInt16LE(at + 8)).toBe(0)
    const size = zip.readUInt32LE(at + 18)
    const nameLength = zip.readUInt16LE(at + 26)
    const start = at + 30 + nameLength + zip.readUInt16LE(at + 28)
    members.set(zip.subarray(at + 30, at + 30 + nameLength).toString("utf8"), zip.subarray(start, start + size))
    at = start + size
  }
  return members
}

const filesUnder = (dir: string): string[] =>
  fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.relative(dir, path.join(e.parentPath, e.name))).sort()

const activationsOf = async (template: string) => {
  const table = (await stageOutputs(w.cache, build, `activations[${template}]`)).table("activations")
  return { rows: fromTable<{ task_id: string; layer: number }>(table.select(["task_id", "layer"])), matrix: matrixOf(table) }
}

describe("the default build, exported", () => {
  beforeAll(async () => {
    w.writeConfig(defaultConfig)
    build = await w.build("reports/hoo")
    for (const format of ["parquet", "npz", "csv"] as const) manifests[format] = await exportTo(format, format)
  }, 600_000)

  afterAll(() => fs.rmSync(w.dir, { recursive: true, force: true }))

  describe("pipeline export of the default build", () => {
    it("writes one .npz per template whose arrays numpy's format rules accept: task_ids, samples and layer_{L} as <f4 in C order", async () => {
      const { rows, matrix } = await activationsOf("qualitative_post_v1")
      const tasks = [...new Set(rows.map((r) => r.task_id))]
      const members = npzMembers(fs.readFileSync(path.join(exported("npz"), "activations/qualitative_post_v1.npz")))
      expect([...members.keys()]).toEqual(["task_ids.npy", "samples.npy", "layer_0.npy", "layer_1.npy", "layer_2.npy"])
      const ids = parseNpy(members.get("task_ids.npy")!)
      const width = Math.max(...tasks.map((t) => [...t].length))
      expect(ids).toMatchObject({ descr: `<U${width}`, fortran: false, shape: [tasks.length] })
      const decoded = [...Array(tasks.length).keys()].map((i) =>
        String.fromCodePoint(...[...Array(width).keys()].map((j) => ids.data.readUInt32LE((i * width + j) * 4)).filter((c) => c !== 0))
      )
      expect(decoded).toEqual(tasks)
      expect(parseNpy(members.get("samples.npy")!)).toMatchObject({ descr: "<i4", shape: [tasks.length] })
      for (const layer of [0, 1, 2]) {
        const array = parseNpy(members.get(`layer_${layer}.npy`)!)
        expect(array).toMatchObject({ descr: "<f4", fortran: false, shape: [tasks.length, matrix.dim] })
        expect(array.data.length).toBe(tasks.length * matrix.dim * 4)
        // row i of layer_L is task i's vector at that layer (C order: a row's values are contiguous)
        tasks.forEach((task, i) => {
          const source = rows.findIndex((r) => r.task_id === task && r.layer === layer)
          const expected = matrix.data.subarray(source * matrix.dim, (source + 1) * matrix.dim)
          expect(new Float32Array(array.data.buffer.slice(array.data.byteOffset + i * matrix.dim * 4, array.data.byteOffset + (i + 1) * matrix.dim * 4))).toEqual(expected)
        })
      }
    })

    it("writes layer_{L}.npy and task_ids.txt per template with --format csv, and tables as CSV", async () => {
      const { rows } = await activationsOf("stated_pre_v1")
      const dir = path.join(exported("csv"), "activations/stated_pre_v1")
      expect(fs.readdirSync(dir).sort()).toEqual(["layer_0.npy", "layer_1.npy", "layer_2.npy", "samples.npy", "task_ids.txt"])
      expect(fs.readFileSync(path.join(dir, "task_ids.txt"), "utf8")).toBe([...new Set(rows.map((r) => r.task_id))].map((t) => `${t}\n`).join(""))
      const npz = npzMembers(fs.readFileSync(path.join(exported("npz"), "activations/stated_pre_v1.npz")))
      expect(Buffer.compare(fs.readFileSync(path.join(dir, "layer_1.npy")), npz.get("layer_1.npy")!)).toBe(0)
      const csv = fs.readFileSync(path.join(exported("csv"), "parse/stated_pre_v1/scores.csv"), "utf8").split("\r\n")
      expect(csv[0]).toBe("task_id,template_id,sample,value,normalized,expected,tier,reason,pair_task_id,order")
      expect(csv.length - 2).toBe((await stageOutputs(w.cache, build, "parse[stated_pre_v1]")).table("scores").numRows)
    })

    it("writes Parquet that DuckDB reads: activations with a float vector per row, and tables equal to their CSV", async () => {
      const { rows, matrix } = await activationsOf("qualitative_post_v1")
      const db = await DuckDBInstance.create(":memory:")
      const connection = await db.connect()
      try {
        const file = path.join(exported("parquet"), "activations/qualitative_post_v1.parquet")
        const result = await connection.runAndReadAll(`SELECT task_id, layer, vector FROM '${file}'`)
        expect(result.columnNames()).toEqual(["task_id", "layer", "vector"])
        const got = result.getRows()
        expect(got.length).toBe(rows.length)
        got.forEach(([task, layer, vector], i) => {
          expect([task, layer]).toEqual([rows[i]!.task_id, rows[i]!.layer])
          expect(Float32Array.from((vector as DuckDBListValue).items as number[])).toEqual(matrix.data.subarray(i * matrix.dim, (i + 1) * matrix.dim))
        })
        const scores = path.join(exported("parquet"), "parse/qualitative_post_v1/scores.parquet")
        const csv = path.join(exported("csv"), "parse/qualitative_post_v1/scores.csv")
        const differ = await connection.runAndReadAll(
          `SELECT count(*) FROM ((SELECT * FROM '${scores}' EXCEPT ALL SELECT * FROM read_csv('${csv}', header = true)) UNION ALL (SELECT * FROM read_csv('${csv}', header = true) EXCEPT ALL SELECT * FROM '${scores}'))`
        )
        expect(Number(differ.getRows()[0]![0])).toBe(0)
      } finally {
        connection.closeSync()
        db.closeSync()
      }
    })

    it("names each file's stage, key, output and content hash in manifest.json", async () => {
      for (const format of ["parquet", "npz", "csv"] as const) {
        const manifest = manifests[format]!
        expect(manifest.source).toEqual({ build: build.build, target: "reports/hoo" })
        expect(JSON.parse(fs.readFileSync(path.join(exported(format), "manifest.json"), "utf8"))).toEqual(manifest)
        expect(manifest.files.map((f) => f.path)).toEqual(filesUnder(exported(format)).filter((f) => f !== "manifest.json"))
        expect(new Set(manifest.files.map((f) => f.node))).toEqual(new Set(build.stages.map((s) => s.stage)))
        for (const file of manifest.files) {
          const action = await w.run(getAction(file.key))
          expect(action?.node).toBe(file.node)
          const output = action!.outputs[file.output]!
          expect([output.hash, ...Object.values(output.files ?? {}).map((f) => f.hash)]).toContain(file.hash)
          expect(fs.statSync(path.join(exported(format), file.path)).size).toBe(file.bytes)
        }
      }
      const table = manifests.parquet!.files.find((f) => f.path === "complete/completions.parquet")!
      expect(table).toMatchObject({ stage: "complete", kind: "Table", sha256: table.hash })
      expect(manifests.npz!.files.find((f) => f.path === "activations/qualitative_post_v1.npz")!.arrays!.map((a) => a.name)).toEqual(
        ["task_ids", "samples", "layer_0", "layer_1", "layer_2"]
      )
    })

    it("gives byte-identical files when exported twice, into a new folder or over the earlier export", async () => {
      const again = await exportTo("npz-again", "npz")
      await exportTo("npz", "npz")
      for (const dir of [exported("npz-again"), exported("npz")]) {
        expect(filesUnder(dir)).toEqual(filesUnder(exported("npz-again")))
        for (const f of filesUnder(dir)) expect(Buffer.compare(fs.readFileSync(path.join(dir, f)), fs.readFileSync(path.join(exported("npz-again"), f)))).toBe(0)
      }
      expect(again).toEqual(manifests.npz)
    })

    it("exports a single stage by its key", async () => {
      const key = build.stages.find((s) => s.stage === "activations[stated_pre_v1]")!.key
      const manifest = await exportTo("one-stage", "npz", key.slice(0, 10))
      expect(manifest.source).toEqual({ stage: key, node: "activations[stated_pre_v1]" })
      expect(filesUnder(exported("one-stage"))).toEqual(["activations/stated_pre_v1.npz", "manifest.json"])
    })

    it("refuses a folder that holds anything but an earlier export, and leaves it as it was", async () => {
      const dir = exported("precious")
      fs.mkdirSync(dir, { recursive: true })
      fs.writeFileSync(path.join(dir, "notes.txt"), "keep me")
      const error = await w.run(Effect.flip(exportOutputs({ hash: build.build, to: dir, format: "npz" })))
      expect(error.message).toContain("is not an earlier export")
      expect(fs.readdirSync(dir)).toEqual(["notes.txt"])
    })
  })

  describe("pipeline export on the command line", () => {
    // asynchronous, so the test worker keeps answering the runner while the CLI starts (tens of seconds under load)
    const cli = (...args: string[]) =>
      new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve, reject) => {
        const child = spawn(path.join(projectRoot, "bin/pipeline"), [...args, "--cache", w.cache], { timeout: 180_000 })
        let stdout = ""
        let stderr = ""
        child.stdout.on("data", (chunk: Buffer) => void (stdout += chunk.toString()))
        child.stderr.on("data", (chunk: Buffer) => void (stderr += chunk.toString()))
        child.on("error", reject)
        child.on("close", (status) => resolve({ status, stdout, stderr }))
      })

    it("fails naming a hash that is not in the cache, writing nothing", async () => {
      const run = await cli("export", "0123456789abcdef", "--to", exported("nothing"))
      expect(run.status).toBe(1)
      expect(run.stderr).toContain("0123456789abcdef: no build or stage with this hash in the cache")
      expect(fs.existsSync(exported("nothing"))).toBe(false)
    })

    it("exports a build by a hash prefix and says where", async () => {
      const run = await cli("export", build.build.slice(0, 8), "--to", exported("cli"), "--format", "npz")
      expect(run.status).toBe(0)
      expect(run.stdout).toContain(`of build ${build.build} to ${exported("cli")}`)
      expect(run.stderr).toMatch(/\[\d+\/\d+ outputs\] activations\/qualitative_post_v1\.npz [\d.]+ MB \([\d.]+ MB\/s, ~\d+ s left\)/)
      expect(fs.readFileSync(path.join(exported("cli"), "manifest.json"), "utf8")).toBe(fs.readFileSync(path.join(exported("npz"), "manifest.json"), "utf8"))
    })
  })

  describe("numpy reads the export", () => {
    const python = pythonWithNumpy()
    it.skipIf(python === undefined)("np.load opens every .npz and .npy without pickles, with the shapes the manifest states", async () => {
      const { matrix } = await activationsOf("qualitative_post_v1")
      const read = JSON.parse(
        runPython(
          python!,
          `
  import glob, json, os, sys, numpy as np
  out = {}
  for f in sorted(glob.glob(os.path.join(sys.argv[1], "**", "*.npz"), recursive=True)):
      z = np.load(f, allow_pickle=False)
      out[os.path.relpath(f, sys.argv[1])] = {k: [z[k].dtype.str, list(z[k].shape), bool(z[k].flags.c_contiguous)] for k in z.files}
      if "layer_1" in z.files: out[os.path.relpath(f, sys.argv[1])]["_sum_layer_1"] = float(z["layer_1"].astype("f8").sum())
  for f in sorted(glob.glob(os.path.join(sys.argv[2], "**", "*.npy"), recursive=True)):
      a = np.load(f, allow_pickle=False)
      out[os.path.relpath(f, sys.argv[2])] = [a.dtype.str, list(a.shape), bool(a.flags.c_contiguous)]
  print(json.dumps(out))`,
          [exported("npz"), exported("csv")]
        )
      )
      for (const file of manifests.npz!.files.filter((f) => f.path.endsWith(".npz"))) {
        const arrays = read[file.path]
        for (const a of file.arrays!) expect(arrays[a.name]).toEqual([a.dtype, a.shape, true])
      }
      for (const file of manifests.csv!.files.filter((f) => f.path.endsWith(".npy"))) {
        expect(read[file.path]).toEqual([file.arrays![0]!.dtype, file.arrays![0]!.shape, true])
      }
      const rows = matrix.rows / 3
      const layer1 = (await activationsOf("qualitative_post_v1")).rows.flatMap((r, i) => (r.layer === 1 ? [i] : []))
      expect(layer1.length).toBe(rows)
      const sum = layer1.reduce((s, i) => s + matrix.data.subarray(i * matrix.dim, (i + 1) * matrix.dim).reduce((a, b) => a + b, 0), 0)
      expect(read["activations/qualitative_post_v1.npz"]._sum_layer_1).toBeCloseTo(sum, 6)
    })
  })
})

describe("matrixArrays", () => {
  const keys = { task_id: ["a", "b", "a", "b"], sample: [0, 0, 0, 0], layer: [3, 3, 3, 3], position: ["last", "last", "first", "first"] }
  const vectors = [0, 1, 2, 3].map((i) => Float32Array.of(i, 10 + i))
  const layout = (arrays: string, table = toMatrixTable(keys, vectors, 2)) =>
    matrixArrays((Artifact.matrix(table, { rows: ["task_id", "sample"], arrays }) as { table: Parameters<typeof matrixArrays>[0] }).table)

  it("groups rows by the layout's array names, each with the shared row keys", () => {
    const { rowKeys, groups } = Either.getOrThrow(layout("layer_{layer}_{position}"))
    expect(rowKeys.map((k) => [k.name, k.dtype, [...k.data]])).toEqual([["task_ids", "<U", ["a", "b"]], ["samples", "<i4", [0, 0]]])
    expect(groups.map((g) => [g.name, g.shape, [...g.data]])).toEqual([
      ["layer_3_last", [2, 2], [0, 10, 1, 11]],
      ["layer_3_first", [2, 2], [2, 12, 3, 13]]
    ])
  })

  it("says why when the groups' rows differ or the layout names a missing column", () => {
    expect(layout("layer_{layer}")).toEqual(Either.left('rows repeat their task_id, sample within array "layer_3"; the layout\'s array names must tell them apart'))
    const swapped = toMatrixTable({ ...keys, task_id: ["a", "b", "b", "a"] }, vectors, 2)
    expect(layout("p_{position}", swapped)).toEqual(Either.left('array "p_first" does not have the same rows (task_id, sample) in the same order as the first'))
    expect(layout("layer_{depth}")).toEqual(Either.left('its layout names a column "depth" it does not have (columns: task_id, sample, layer, position)'))
  })

  it("reads a matrix without a layout as one array with every key column per row", () => {
    const { rowKeys, groups } = Either.getOrThrow(matrixArrays(toMatrixTable(keys, vectors, 2)))
    expect(rowKeys.map((k) => k.name)).toEqual(["task_ids", "samples", "layers", "positions"])
    expect(groups.map((g) => [g.name, g.shape])).toEqual([["vector", [4, 2]]])
  })
})
