import { beforeAll, describe, expect, it } from "@effect/vitest"
import { Matrix, solve } from "ml-matrix"
import * as fs from "node:fs"
import * as path from "node:path"
import { fromTable, matrixOf } from "../../stages/tables"
import { taskRows } from "../../stages/taskRows"
import { r2Score } from "../../stats/metrics"
import { fitRidge, foldsOf } from "../../stats/ridge"
import { hashedTfidf } from "../../stats/tfidf"
import { probeR2Findings } from "../../reports/probe_r2"
import { experimentWorkspace, pngSize, readCsv, stageOutputs, tinyExperiment } from "../support/experiment"

const config = { ...tinyExperiment, templates: ["qualitative_post_v1", "stated_pre_v1"] }

describe("reports/probe_r2 end to end on the organism", () => {
  const w = experimentWorkspace()
  const out = path.join(w.out, "reports/probe_r2")
  let built: Awaited<ReturnType<typeof w.build>>
  const outputsOf = (stage: string) => stageOutputs(w.cache, built, stage)
  let summary: {
    group_by: string
    probes: Array<{
      template: string; timing: string; layer: number; n_tasks: number; cv_r2: number; noise_ceiling: number | null
      by_group: Record<string, { r2: number; lo: number; hi: number; n: number }>
      content: Record<string, { content_only: { by_group: Record<string, { estimate: number }> } }>
    }>
  }

  beforeAll(async () => {
    w.writeConfig(config)
    built = await w.build("reports/probe_r2")
    summary = JSON.parse(fs.readFileSync(path.join(out, "summary.json"), "utf8")).summary
  }, 600_000)

  it("summarizes R² per template × layer × origin, pre-task templates first, with intervals and n", () => {
    expect(summary.group_by).toBe("origin")
    expect(summary.probes.map((p) => [p.template, p.timing, p.layer])).toEqual([["stated_pre_v1", "pre", 1], ["qualitative_post_v1", "post", 1]])
    for (const p of summary.probes) {
      expect(Object.keys(p.by_group).sort()).toEqual(["alpaca", "bailbench", "math", "wildchat"])
      expect(Object.values(p.by_group).reduce((n, g) => n + g.n, 0)).toBe(p.n_tasks)
      for (const g of Object.values(p.by_group)) {
        expect(g.r2).toBeLessThanOrEqual(1)
        expect(g.lo).toBeLessThanOrEqual(g.hi)
      }
      expect(p.noise_ceiling === null || p.noise_ceiling <= 1).toBe(true)
    }
  })

  it("reports the out-of-fold R² within an origin that an independent refit of the probe gives", async () => {
    const tasks = new Map(taskRows((await outputsOf("sample")).table("tasks")).map((t) => [t.task_id, t.origin]))
    const scores = fromTable<{ task_id: string; normalized: number | null }>((await outputsOf("parse[stated_pre_v1]")).table("scores"))
    const sums = new Map<string, number[]>()
    for (const s of scores) if (s.normalized !== null) sums.set(s.task_id, [...(sums.get(s.task_id) ?? []), s.normalized])
    const table = (await outputsOf("activations[stated_pre_v1]")).table("activations")
    const keys = fromTable<{ task_id: string; layer: number; position: string }>(table.select(["task_id", "layer", "position"]))
    const matrix = matrixOf(table)
    const rows = keys.flatMap((k, r) => (k.layer === 1 && k.position === "prompt_last" && sums.has(k.task_id) ? [{ id: k.task_id, r }] : []))
    const x = { rows: rows.length, cols: matrix.dim, data: new Float64Array(rows.length * matrix.dim) }
    rows.forEach((row, i) => x.data.set(matrix.data.subarray(row.r * matrix.dim, (row.r + 1) * matrix.dim), i * matrix.dim))
    const y = Float64Array.from(rows, (row) => sums.get(row.id)!.reduce((a, b) => a + b, 0) / sums.get(row.id)!.length)
    const ids = rows.map((row) => row.id)
    const alphas = Array.from({ length: 13 }, (_, i) => 10 ** (-2 + i * 0.5))
    const fit = fitRidge(x, y, { alphas, groups: ids, k: tinyExperiment.probes.folds, seed: 20251127, cv: "kfold", rule: "one_se" })
    const within = Array.from(fit.oofRows.keys()).filter((i) => tasks.get(ids[fit.oofRows[i]!]!) === "math")
    const expected = r2Score(within.map((i) => y[fit.oofRows[i]!]!), within.map((i) => fit.oofPredictions[i]!))
    const reported = summary.probes.find((p) => p.template === "stated_pre_v1")!.by_group.math!
    expect(Number.isFinite(expected)).toBe(true)
    expect(reported.n).toBe(within.length)
    expect(reported.r2).toBeCloseTo(expected, 10)
  })

  it("reports the content-only R² within an origin that an independent tf-idf Ridge on the same tasks and folds gives", async () => {
    const tasks = taskRows((await outputsOf("sample")).table("tasks"))
    const scores = fromTable<{ task_id: string; normalized: number | null }>((await outputsOf("parse[stated_pre_v1]")).table("scores"))
    const sums = new Map<string, number[]>()
    for (const s of scores) if (s.normalized !== null) sums.set(s.task_id, [...(sums.get(s.task_id) ?? []), s.normalized])
    // The probe's rows are the activation table's tasks with a score: here every sampled task, in order.
    const probed = tasks.filter((t) => sums.has(t.task_id))
    expect(probed).toHaveLength(tasks.length)
    const hashed = hashedTfidf(tasks.map((t) => t.prompt), { width: 4096, minDf: 2 }).matrix
    // Stored as float32, as the content stage stores every feature.
    const c = Array.from({ length: hashed.rows }, (_, i) => Array.from(hashed.data.subarray(i * 4096, (i + 1) * 4096), Math.fround))
    const y = probed.map((t) => sums.get(t.task_id)!.reduce((a, b) => a + b, 0) / sums.get(t.task_id)!.length)
    const ids = probed.map((t) => t.task_id)
    // Dual closed form of a Ridge on centred covariates with penalty α·s² (s² the mean variance of the columns that vary), by LU.
    const fitPredict = (fit: number[], predict: number[], alpha: number) => {
      const mu = c[0]!.map((_, j) => fit.reduce((s, r) => s + c[r]![j]!, 0) / fit.length)
      const ybar = fit.reduce((s, r) => s + y[r]!, 0) / fit.length
      const z = new Matrix(fit.map((r) => c[r]!.map((v, j) => v - mu[j]!)))
      const k = z.mmul(z.transpose())
      const varying = c[0]!.filter((_, j) => fit.some((r) => c[r]![j] !== c[fit[0]!]![j])).length
      const s2 = k.trace() / (z.rows * varying)
      const dual = solve(k.add(Matrix.eye(fit.length).mul(alpha * s2)), Matrix.columnVector(fit.map((r) => y[r]! - ybar)))
      const zv = new Matrix(predict.map((r) => c[r]!.map((v, j) => v - mu[j]!)))
      return zv.mmul(z.transpose()).mmul(dual).to1DArray().map((v) => v + ybar)
    }
    const alphas = Array.from({ length: 13 }, (_, i) => 10 ** (-2 + i * 0.5))
    const all = ids.map((_, i) => i)
    const folds = foldsOf(Int32Array.from(all), { alphas, groups: ids, k: tinyExperiment.probes.folds, seed: 20251127 })
    const oofAt = (alpha: number) => {
      const oof = new Array<number>(all.length)
      for (const f of new Set(folds)) {
        const held = all.filter((i) => folds[i] === f)
        fitPredict(all.filter((i) => folds[i] !== f), held, alpha).forEach((v, j) => (oof[held[j]!] = v))
      }
      return oof
    }
    const sse = alphas.map((alpha) => oofAt(alpha).reduce((acc, p, i) => acc + (y[i]! - p) ** 2, 0))
    const oof = oofAt(alphas[sse.indexOf(Math.min(...sse))]!)
    const math = all.filter((i) => probed[i]!.origin === "math")
    const expected = r2Score(math.map((i) => y[i]!), math.map((i) => oof[i]!))
    const reported = readCsv(path.join(out, "r2_by_group.csv")).find((r) => r.template === "stated_pre_v1" && r.group === "math")!
    expect(Number.isFinite(expected)).toBe(true)
    expect(reported.content_only_r2 as number).toBeCloseTo(expected, 8)
    expect(summary.probes.find((p) => p.template === "stated_pre_v1")!.content.tfidf.content_only.by_group.math!.estimate).toBeCloseTo(expected, 8)
  })

  it("writes the tables, pre and post side by side, and a figure of the promised size", () => {
    for (const file of ["README.md", "index.html", "r2_by_group.csv", "r2_by_group.parquet", "r2_pre_post.csv", "r2_pre_post.parquet", "probes.csv", "content_baselines.csv", "content_baselines_stated_pre_v1_L1.png"]) {
      expect(fs.statSync(path.join(out, file)).size).toBeGreaterThan(0)
    }
    const [header, ...lines] = fs.readFileSync(path.join(out, "r2_pre_post.csv"), "utf8").trim().split("\r\n")
    expect(header!.split(",").slice(0, 5)).toEqual(["layer", "group", "stated_pre_v1", "stated_pre_v1_lo", "stated_pre_v1_hi"])
    const math = lines.find((l) => l.startsWith("1,math,"))!.split(",")
    expect(Number(math[2])).toBeCloseTo(summary.probes[0]!.by_group.math!.r2, 12)
    expect(Number(math[5])).toBeCloseTo(summary.probes[1]!.by_group.math!.r2, 12)
    const png = fs.readFileSync(path.join(out, "r2_by_origin_L1.png"))
    const svg = fs.readFileSync(path.join(out, "r2_by_origin_L1.svg"), "utf8")
    expect(png.length).toBeGreaterThan(1000)
    expect(pngSize(png)).toEqual({ width: Number(/width="(\d+)"/.exec(svg)![1]), height: Number(/height="(\d+)"/.exec(svg)![1]) })
    expect(pngSize(png).width).toBe(640)
  })
})

describe("probeR2Findings", () => {
  const groups = (a: number, b: number) => ({ alpaca: { estimate: a, lo: a - 0.1, hi: a + 0.1 }, math: { estimate: b, lo: b - 0.1, hi: b + 0.1 } })
  it("gives each template's best layer against its noise ceiling, and compares pre- with post-task probes", () => {
    const text = probeR2Findings(
      [
        { template: "pre", timing: "pre", layer: 0, byGroup: groups(0.1, 0.2) },
        { template: "pre", timing: "pre", layer: 1, byGroup: groups(0.6, 0.8) },
        { template: "post", timing: "post", layer: 1, byGroup: groups(-0.3, -0.1) }
      ],
      "origin",
      (t) => (t === "pre" ? 0.8 : 0.5)
    )
    expect(text).toMatch(/^pre \(pre-task\): at layer 1, R² within an origin is 0\.700 \[0\.\d+, 0\.\d+\] on average, 88% of the noise ceiling \(0\.800\), from 0\.600 \(alpaca\) to 0\.800 \(math\)\.$/m)
    expect(text).toMatch(/^post \(post-task\): no layer's probe explains variance within an origin; the best, layer 1, has mean R² -0\.200/m)
    expect(text).toMatch(/Pre-task probes explain more within an origin: pre 0\.700/)
  })
})
