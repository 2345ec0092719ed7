import { beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { getAction } from "../../cache/Actions"
import { CacheDir } from "../../cache/CacheDir"
import { loadedOutputs } from "../../pipeline/Artifact"
import { loadOutput } from "../../pipeline/Build"
import { fromTable } from "../../stages/tables"
import { pearson } from "../../stats/metrics"
import { seedFindings } from "../../reports/seed_sensitivity"
import { experimentWorkspace, pngSize, tinyExperiment } from "../support/experiment"

const samples = 4
const config = { ...tinyExperiment, elicitation: { ...tinyExperiment.elicitation, samples }, templates: ["stated_pre_v1"] }

interface ByK { k: number; r: number; lo: number; hi: number; n: number; spearman_brown: number }

describe("reports/seed_sensitivity end to end on the organism", () => {
  const w = experimentWorkspace()
  const out = path.join(w.out, "reports/seed_sensitivity")
  let built: Awaited<ReturnType<typeof w.build>>
  let summary: { samples: number; max_k: number; templates: Array<{ template: string; timing: string; n_tasks: number; n_incomplete: number; by_k: ByK[]; single_sample_r: { estimate: number } | null; noise_ceiling: number | null }> }

  beforeAll(async () => {
    w.writeConfig(config)
    built = await w.build("reports/seed_sensitivity")
    summary = JSON.parse(fs.readFileSync(path.join(out, "summary.json"), "utf8")).summary
  }, 600_000)

  it("measures k = 1..samples/2 with n and an interval on every correlation", () => {
    expect(summary.samples).toBe(samples)
    expect(summary.max_k).toBe(samples / 2)
    expect(summary.templates.map((t) => [t.template, t.timing])).toEqual([["stated_pre_v1", "pre"]])
    const t = summary.templates[0]!
    expect(t.n_tasks + t.n_incomplete).toBe(4 * tinyExperiment.sample.perOrigin)
    expect(t.by_k.map((b) => b.k)).toEqual([1, 2])
    for (const b of t.by_k) {
      expect(b.n).toBe(t.n_tasks)
      expect(b.lo).toBeLessThanOrEqual(b.r)
      expect(b.hi).toBeGreaterThanOrEqual(b.r)
    }
  })

  it("matches cross-seed correlations recomputed from the scores, and Spearman-Brown in closed form", async () => {
    const scores = await Effect.runPromise(
      Effect.gen(function* () {
        const record = (yield* getAction(built.stages.find((s) => s.stage === "parse[stated_pre_v1]")!.key))!
        return loadedOutputs("parse", { scores: yield* loadOutput(record.outputs.scores!) }).table("scores")
      }).pipe(Effect.provide(CacheDir.layer(w.cache)))
    )
    const byTask = new Map<string, Array<number | null>>()
    for (const s of fromTable<{ task_id: string; sample: number; normalized: number | null }>(scores)) {
      const row = byTask.get(s.task_id) ?? Array.from({ length: samples }, () => null)
      row[s.sample] = s.normalized
      byTask.set(s.task_id, row)
    }
    const complete = [...byTask.values()].filter((row) => row.every((v) => v !== null)) as number[][]
    const t = summary.templates[0]!
    expect(t.n_tasks).toBe(complete.length)
    const column = (s: number) => complete.map((row) => row[s]!)
    const halves1 = pearson(column(0), column(2))
    const halves2 = pearson(complete.map((s) => (s[0]! + s[1]!) / 2), complete.map((s) => (s[2]! + s[3]!) / 2))
    expect(Number.isFinite(halves1) && Number.isFinite(halves2)).toBe(true)
    expect(t.by_k[0]!.r).toBeCloseTo(halves1, 12)
    expect(t.by_k[1]!.r).toBeCloseTo(halves2, 12)
    // r₁ is the mean over all six pairs of samples, the one value every report prints; predictions and ceiling follow from it.
    const pairs = [[0, 1], [0, 2], [0, 3], [1, 2], [1, 3], [2, 3]].map(([a, b]) => pearson(column(a!), column(b!)))
    const r1 = pairs.reduce((a, b) => a + b, 0) / pairs.length
    expect(t.single_sample_r!.estimate).toBeCloseTo(r1, 12)
    expect(t.by_k[0]!.spearman_brown).toBeCloseTo(r1, 12)
    expect(t.by_k[1]!.spearman_brown).toBeCloseTo((2 * r1) / (1 + r1), 12)
    expect(t.noise_ceiling!).toBeCloseTo((4 * r1) / (1 + 3 * r1), 12)
  })

  it("flags correlations from fewer than 30 tasks and draws measured vs predicted at the promised size", () => {
    const readme = fs.readFileSync(path.join(out, "README.md"), "utf8")
    expect(readme).toContain("`few-tasks`: stated_pre_v1 cross-seed r")
    expect(fs.readFileSync(path.join(out, "seed_sensitivity.csv"), "utf8").split("\r\n")[0]).toBe("template,timing,k,n,r,r_lo,r_hi,spearman_brown")
    const png = fs.readFileSync(path.join(out, "seed_sensitivity_stated_pre_v1.png"))
    const svg = fs.readFileSync(path.join(out, "seed_sensitivity_stated_pre_v1.svg"), "utf8")
    expect(png.length).toBeGreaterThan(1000)
    expect(pngSize(png)).toEqual({ width: Number(/width="(\d+)"/.exec(svg)![1]), height: Number(/height="(\d+)"/.exec(svg)![1]) })
    expect(pngSize(png).width).toBe(640)
  })
})

describe("seedFindings", () => {
  it("gives r₁ and the ceiling, and whether k-sample means follow Spearman-Brown (only from k = 2)", () => {
    const template = (r2: number, lo: number, hi: number) => ({
      template: "q", n_tasks: 40, noise_ceiling: 0.8, single_sample_r: { estimate: 0.5, lo: 0.4, hi: 0.6 },
      by_k: [{ k: 1, r: 0.5, lo: 0.4, hi: 0.6, spearman_brown: 0.5 }, { k: 2, r: r2, lo, hi, spearman_brown: 2 / 3 }]
    })
    expect(seedFindings([template(0.65, 0.55, 0.75)], 4)).toBe(
      "q: one sampled answer correlates 0.500 [0.400, 0.600] with another across 40 tasks; the mean of all 4 has reliability 0.800, the ceiling on any probe's R². " +
        "Means of 2 samples correlate 0.650 across seeds, as Spearman-Brown predicts (0.667): the samples behave as exchangeable draws."
    )
    expect(seedFindings([template(0.3, 0.2, 0.4)], 4)).toContain("outside the Spearman-Brown prediction 0.667: the samples are not exchangeable draws")
    expect(seedFindings([{ ...template(0.3, 0.2, 0.4), by_k: [template(0, 0, 0).by_k[0]!] }], 2)).not.toContain("Spearman-Brown")
  })
})
