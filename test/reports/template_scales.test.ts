import { beforeAll, describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { pearsonWithInterval } from "../../stats/metrics"
import { ols } from "../../stats/regression"
import { scalesFindings } from "../../reports/template_scales"
import { experimentWorkspace, pngSize, readCsv, shippedTemplate, tinyExperiment } from "../support/experiment"

const template = (id: string) => shippedTemplate(id) as Record<string, any>


describe("reports/template_scales end to end on the organism", () => {
  const w = experimentWorkspace()
  const ids = ["qualitative_post_v1", "stated_pre_v1", "stated_pre_v2"]
  const templates = ids.map(template)
  const out = () => path.join(w.out, "reports/template_scales")
  let summary: any

  beforeAll(async () => {
    w.writeConfig({ ...tinyExperiment, templates })
    await w.build("reports/template_scales")
    summary = JSON.parse(fs.readFileSync(path.join(out(), "summary.json"), "utf8")).summary
  }, 600_000)

  it("writes the tables and figures, PNGs of the expected size", () => {
    for (const file of ["README.md", "index.html", "template_pairs.csv", "template_pairs.parquet", "task_means.csv", "templates.parquet"]) {
      expect(fs.statSync(path.join(out(), file)).size).toBeGreaterThan(0)
    }
    for (const figure of ["correlations", "slope_vs_r"]) {
      const png = pngSize(fs.readFileSync(path.join(out(), `${figure}.png`)))
      expect(png.width).toBeGreaterThan(400)
      expect(png.height).toBeGreaterThan(200)
    }
  })

  it("covers every pair of templates, each template normalized by its own declared range", () => {
    expect(summary.pairs.map((p: any) => `${p.a}/${p.b}`)).toEqual(["qualitative_post_v1/stated_pre_v1", "qualitative_post_v1/stated_pre_v2", "stated_pre_v1/stated_pre_v2"])
    const ranges = Object.fromEntries(templates.map((t) => [
      t.id,
      t.kind === "stated" ? t.scale : { min: Math.min(...t.options.map((o: any) => o.value)), max: Math.max(...t.options.map((o: any) => o.value)) }
    ]))
    for (const t of summary.templates) expect(t.range).toEqual(ranges[t.template])
    const means = readCsv(path.join(out(), "task_means.csv"))
    for (const m of means) {
      const r = ranges[m.template as string]
      expect(m.normalized).toBeCloseTo(((m.value as number) - r.min) / (r.max - r.min), 12)
    }
  })

  it("reports the Pearson r, interval and slope recomputed from the task means", () => {
    const means = readCsv(path.join(out(), "task_means.csv"))
    const byTask = (id: string) => new Map(means.filter((m) => m.template === id).map((m) => [m.task_id as string, m.normalized as number]))
    const a = byTask("stated_pre_v1"), b = byTask("stated_pre_v2")
    const shared = [...a.keys()].filter((t) => b.has(t)).sort()
    const xa = shared.map((t) => a.get(t)!), xb = shared.map((t) => b.get(t)!)
    const expected = pearsonWithInterval(xa, xb)
    const pair = summary.pairs.find((p: any) => p.a === "stated_pre_v1" && p.b === "stated_pre_v2")
    expect(pair.n).toBe(shared.length)
    expect(pair.r).toBeCloseTo(expected.r, 12)
    expect(pair.lo).toBeCloseTo(expected.lo, 12)
    expect(pair.hi).toBeCloseTo(expected.hi, 12)
    expect(pair.slope).toBeCloseTo(ols(xa, xb).coefficients[1]!, 12)
    expect(pair.r).toBeGreaterThan(0.5)
    const fit = ols(summary.pairs.map((p: any) => p.r), summary.pairs.map((p: any) => p.slope))
    expect(summary.slope_vs_r.n).toBe(3)
    expect(summary.slope_vs_r.slope).toBeCloseTo(fit.coefficients[1]!, 12)
  })

  it("flags pairs scored on fewer than 30 tasks", () => {
    const readme = fs.readFileSync(path.join(out(), "README.md"), "utf8")
    expect(readme.match(/`few-tasks`/g)?.length).toBe(3)
    expect(readme).not.toContain("`orientation`")
  })
})

describe("scalesFindings", () => {
  it("gives the median r, the weakest and strongest pairs, the slopes' range and reversed templates", () => {
    const pair = (a: string, b: string, r: number, slope: number) => ({ a, b, n: 40, r, lo: r - 0.1, hi: r + 0.1, slope })
    const text = scalesFindings([pair("a", "b", 0.5, 0.4), pair("a", "c", 0.9, 1.1), pair("b", "c", 0.7, 0.8)], 1)
    expect(text).toContain("Across 3 pairs of templates, task means correlate with median r 0.700; the weakest pair is a / b, r 0.500 [0.400, 0.600] over 40 tasks, the strongest a / c, r 0.900 [0.800, 1.00] over 40 tasks.")
    expect(text).toContain("OLS slopes between normalized scales run from 0.400 to 1.10")
    expect(text).toContain("1 template correlates negatively with most others")
    expect(scalesFindings([{ a: "a", b: "b", n: 2, r: null, lo: null, hi: null, slope: null }], 0)).toBe("No two templates scored enough tasks in common to be compared.")
  })
})
