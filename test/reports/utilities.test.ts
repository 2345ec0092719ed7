import { beforeAll, describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { spearman } from "../../stats/metrics"
import { wilson } from "../../stats/regression"
import { experimentWorkspace, pngSize, readCsv, reportSummary, shippedTemplate, tinyExperiment } from "../support/experiment"

const template = (id: string) => shippedTemplate(id) as unknown

// Enough pairs per task for a stable fit: each task meets most of the others, each pair asked in both orders twice.
// The end-to-end build probes the utilities from 40 tasks: from 24, the probe's held-out Pearson r ranges over
// -0.1-0.8 across experiment seeds (0.14-0.74 with the organism before its vocabulary became fixed).
const utilitiesConfig = (seed?: number, perOrigin = 6) => ({
  ...tinyExperiment,
  ...(seed === undefined ? {} : { seed }),
  sample: { perOrigin },
  elicitation: { ...tinyExperiment.elicitation, pairsPerTask: 16 },
  templates: [template("stated_pre_v1"), template("revealed_v1")]
})

describe("reports/utilities end to end on the organism", () => {
  const w = experimentWorkspace()
  const config = utilitiesConfig(undefined, 10)
  const out = () => path.join(w.out, "reports/utilities")
  let build: Awaited<ReturnType<typeof w.build>>
  let summary: any

  beforeAll(async () => {
    w.writeConfig(config)
    build = await w.build("reports/utilities")
    summary = JSON.parse(fs.readFileSync(path.join(out(), "summary.json"), "utf8")).summary
  }, 600_000)

  it("writes the promised files, with figures of the expected size", () => {
    expect(build.stages.map((s) => s.stage)).toContain("utilities[revealed_v1]")
    for (const file of ["README.md", "index.html", "summary.json", "fits.csv", "fits.parquet", "utilities.csv", "utilities_by_dataset.parquet", "position_bias.csv", "probes.csv", "planted.csv"]) {
      expect(fs.statSync(path.join(out(), file)).size).toBeGreaterThan(0)
    }
    for (const figure of ["held_out_accuracy", "utilities_by_dataset", "planted_revealed_v1"]) {
      expect(fs.statSync(path.join(out(), `${figure}.svg`)).size).toBeGreaterThan(0)
      const png = pngSize(fs.readFileSync(path.join(out(), `${figure}.png`)))
      expect(png.width).toBeGreaterThan(500)
      expect(png.height).toBeGreaterThan(200)
    }
    expect(fs.readFileSync(path.join(out(), "README.md"), "utf8")).toContain("## Diagnostics")
  })

  it("recovers the planted valences: Thurstonian utilities rank-correlate at least 0.9 with them", () => {
    const t = summary.templates[0]
    expect(t.template).toBe("revealed_v1")
    expect(t.planted.n).toBe(40)
    expect(t.planted.spearman_full).toBeGreaterThanOrEqual(0.9)
    expect(t.planted.spearman_case_v).toBeGreaterThanOrEqual(0.9)
    const rows = readCsv(path.join(out(), "utilities.csv"))
    expect(rows.length).toBe(40)
    expect(spearman(rows.map((r) => r.mu as number), rows.map((r) => r.planted_valence as number))).toBeCloseTo(t.planted.spearman_full, 12)
  })

  it("matches summary statistics recomputed from the written tables", () => {
    const t = summary.templates[0]
    const rows = readCsv(path.join(out(), "utilities.csv"))
    for (const origin of ["alpaca", "bailbench", "math", "wildchat"]) {
      const mus = rows.filter((r) => r.origin === origin).map((r) => r.mu as number)
      expect(t.by_dataset[origin].n).toBe(mus.length)
      expect(t.by_dataset[origin].mu).toBeCloseTo(mus.reduce((a, b) => a + b, 0) / mus.length, 12)
      expect(t.by_dataset[origin].lo).toBeLessThanOrEqual(t.by_dataset[origin].mu)
      expect(t.by_dataset[origin].hi).toBeGreaterThanOrEqual(t.by_dataset[origin].mu)
    }
    // Every choice has one winner and two participants.
    const wins = rows.reduce((a, r) => a + (r.wins as number), 0)
    expect(wins).toBe(t.n_choices)
    expect(rows.reduce((a, r) => a + (r.choices as number), 0)).toBe(2 * t.n_choices)
    const bias = t.position_bias
    const recomputed = wilson(Math.round(bias.p_first * bias.n), bias.n)
    expect(bias.n).toBe(t.n_choices)
    expect(bias.lo).toBeCloseTo(recomputed.lo, 12)
    expect(bias.hi).toBeCloseTo(recomputed.hi, 12)
    for (const fit of ["case_v", "full", "trueskill"]) {
      expect(t.fits[fit].records).toBeGreaterThan(0)
      expect(t.fits[fit].records).toBeLessThanOrEqual(t.held_out.test_records)
      expect(t.fits[fit].accuracy).toBeGreaterThan(0.6)
    }
    expect(t.held_out.pairs).toBe(Math.floor(0.2 * t.n_pairs))
  })

  it("probes the utilities from the activations of the pre-task template", () => {
    expect(summary.probe_template).toBe("stated_pre_v1")
    const [probe] = summary.templates[0].probes
    expect(probe.layer).toBe(1)
    expect(probe.n).toBe(40)
    expect(probe.pearson_r.estimate).toBeGreaterThan(0.5)
    expect(probe.r2.lo).toBeLessThanOrEqual(probe.r2.estimate)
    expect(probe.pair_accuracy).toBeGreaterThan(0.6)
    expect(probe.pair_records).toBe(summary.templates[0].fits.case_v.records)
    // The Bradley-Terry probe, trained on the choices alone, also orders the held-out pairs better than chance.
    expect(probe.bt_pair_accuracy).toBeGreaterThan(0.6)
    const table = readCsv(path.join(out(), "probes.csv"))
    expect(table[0]!.pearson_r).toBeCloseTo(probe.pearson_r.estimate, 12)
  })
})

// Each experiment seed is another organism (and another task sample): the recovery is not a property of one draw.
describe.each([1, 2, 3])("reports/utilities at experiment seed %i", (seed) => {
  let planted: { spearman_full: number; spearman_case_v: number }

  beforeAll(async () => {
    planted = (await reportSummary(utilitiesConfig(seed), "utilities")).templates[0].planted
  }, 600_000)

  it("recovers the planted valences: Thurstonian utilities rank-correlate at least 0.9 with them", () => {
    expect(planted.spearman_full).toBeGreaterThanOrEqual(0.9)
    expect(planted.spearman_case_v).toBeGreaterThanOrEqual(0.9)
  })
})
