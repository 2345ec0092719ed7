import { beforeAll, describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { fromTable, matrixOf } from "../../stages/tables"
import { taskRows } from "../../stages/taskRows"
import { cosine } from "../../stats/metrics"
import { fitRidge } from "../../stats/ridge"
import { similarityFindings } from "../../reports/probe_similarity"
import { experimentWorkspace, pngSize, stageOutputs, tinyExperiment } from "../support/experiment"

const config = { ...tinyExperiment, templates: ["stated_pre_v1"] }
const origins = ["alpaca", "bailbench", "math", "wildchat"]

describe("reports/probe_similarity end to end on the organism", () => {
  const w = experimentWorkspace()
  const out = path.join(w.out, "reports/probe_similarity")
  let built: Awaited<ReturnType<typeof w.build>>
  const outputsOf = (stage: string) => stageOutputs(w.cache, built, stage)
  let summary: { group_by: string; probes: Array<{ template: string; layer: number; labels: string[]; n: number[]; cosine: number[][] }> }

  beforeAll(async () => {
    w.writeConfig(config)
    built = await w.build("reports/probe_similarity")
    summary = JSON.parse(fs.readFileSync(path.join(out, "summary.json"), "utf8")).summary
  }, 600_000)

  it("summarizes one symmetric cosine matrix per template × layer with a unit diagonal", () => {
    expect(summary.group_by).toBe("origin")
    expect(summary.probes).toHaveLength(1)
    const p = summary.probes[0]!
    expect([p.template, p.layer]).toEqual(["stated_pre_v1", 1])
    expect(p.labels).toEqual(origins)
    expect(p.n).toEqual(origins.map(() => tinyExperiment.sample.perOrigin))
    p.cosine.forEach((row, i) => {
      expect(row[i]).toBeCloseTo(1, 12)
      row.forEach((c, j) => {
        expect(Math.abs(c)).toBeLessThanOrEqual(1 + 1e-12)
        expect(c).toBeCloseTo(p.cosine[j]![i]!, 12)
      })
    })
  })

  it("reports the cosine of raw-space weights that independent per-origin refits give", async () => {
    const origin = new Map(taskRows((await outputsOf("sample")).table("tasks")).map((t) => [t.task_id, t.origin]))
    const scores = fromTable<{ task_id: string; normalized: number | null }>((await outputsOf("parse[stated_pre_v1]")).table("scores"))
    const values = new Map<string, number[]>()
    for (const s of scores) if (s.normalized !== null) values.set(s.task_id, [...(values.get(s.task_id) ?? []), s.normalized])
    const table = (await outputsOf("activations[stated_pre_v1]")).table("activations")
    const keys = fromTable<{ task_id: string; layer: number; position: string }>(table.select(["task_id", "layer", "position"]))
    const matrix = matrixOf(table)
    const rows = keys.flatMap((k, r) => (k.layer === 1 && k.position === "prompt_last" && values.has(k.task_id) ? [{ id: k.task_id, r }] : []))
    const x = { rows: rows.length, cols: matrix.dim, data: new Float64Array(rows.length * matrix.dim) }
    rows.forEach((row, i) => x.data.set(matrix.data.subarray(row.r * matrix.dim, (row.r + 1) * matrix.dim), i * matrix.dim))
    const y = Float64Array.from(rows, (row) => values.get(row.id)!.reduce((a, b) => a + b, 0) / values.get(row.id)!.length)
    const ids = rows.map((row) => row.id)
    const setup = { alphas: Array.from({ length: 13 }, (_, i) => 10 ** (-2 + i * 0.5)), groups: ids, k: tinyExperiment.probes.folds, seed: 20251127, cv: "kfold" as const, rule: "one_se" as const }
    const weights = (name: string) =>
      fitRidge(x, y, { ...setup, rows: Int32Array.from(ids.flatMap((id, i) => (origin.get(id) === name ? [i] : []))) }).weightsRaw
    const expected = cosine(weights("alpaca"), weights("math"))
    expect(Number.isFinite(expected)).toBe(true)
    expect(summary.probes[0]!.cosine[0]![2]).toBeCloseTo(expected, 10)
  })

  it("writes the matrix as a table and a heatmap of the promised size", () => {
    const [header, ...lines] = fs.readFileSync(path.join(out, "similarity_stated_pre_v1_L1.csv"), "utf8").trim().split("\r\n")
    expect(header!.split(",")).toEqual(["trained_on", "n", ...origins])
    expect(lines.map((l) => l.split(",")[0])).toEqual(origins)
    expect(Number(lines[1]!.split(",")[2 + 3])).toBeCloseTo(summary.probes[0]!.cosine[1]![3]!, 12)
    expect(fs.statSync(path.join(out, "similarity.parquet")).size).toBeGreaterThan(0)
    const png = fs.readFileSync(path.join(out, "similarity_stated_pre_v1_L1.png"))
    const svg = fs.readFileSync(path.join(out, "similarity_stated_pre_v1_L1.svg"), "utf8")
    expect(png.length).toBeGreaterThan(1000)
    expect(pngSize(png)).toEqual({ width: Number(/width="(\d+)"/.exec(svg)![1]), height: Number(/height="(\d+)"/.exec(svg)![1]) })
    // Four square cells of at least 36 px each, plus axes and legend.
    expect(pngSize(png).width).toBeGreaterThan(4 * 36)
    expect(pngSize(png).height).toBeGreaterThan(4 * 36)
  })
})

describe("similarityFindings", () => {
  it("reports the layer where per-group probes agree most and what their mean cosine means", () => {
    const matrix = (c: number) => [[1, c, c], [c, 1, c], [c, c, 1]]
    const text = similarityFindings(
      [
        { template: "q", layer: 0, labels: ["a", "b", "c"], cosine: matrix(0.1) },
        { template: "q", layer: 1, labels: ["a", "b", "c"], cosine: matrix(0.6) },
        { template: "s", layer: 1, labels: ["a", "b", "c"], cosine: matrix(0.05) }
      ],
      "origin"
    )
    expect(text).toContain("q: probes trained on one origin each agree most at layer 1, mean cosine 0.600 between 3 origins: they read preference along largely the same direction in every origin.")
    expect(text).toContain("s: probes trained on one origin each agree most at layer 1, mean cosine 0.0500 between 3 origins: each origin's probe points its own way")
  })
})
