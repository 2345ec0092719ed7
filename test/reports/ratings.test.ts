import { beforeAll, describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { ratingsFindings } from "../../reports/ratings"
import { experimentWorkspace, pngSize, readCsv, shippedTemplate, tinyExperiment } from "../support/experiment"

const template = (id: string) => shippedTemplate(id) as Record<string, any>


describe("reports/ratings end to end on the organism", () => {
  const w = experimentWorkspace()
  const templates = ["qualitative_post_v1", "stated_pre_v1", "open_ended_post"].map(template)
  const out = () => path.join(w.out, "reports/ratings")
  let summary: any

  beforeAll(async () => {
    w.writeConfig({ ...tinyExperiment, templates })
    await w.build("reports/ratings")
    summary = JSON.parse(fs.readFileSync(path.join(out(), "summary.json"), "utf8")).summary
  }, 600_000)

  it("writes the tables and the category × dataset figure", () => {
    for (const file of ["README.md", "index.html", "by_category.csv", "by_category.parquet", "by_template.csv", "task_means.parquet"]) {
      expect(fs.statSync(path.join(out(), file)).size).toBeGreaterThan(0)
    }
    const png = pngSize(fs.readFileSync(path.join(out(), "by_category.png")))
    expect(png.width).toBeGreaterThan(500)
    expect(png.height).toBeGreaterThan(200)
  })

  it("has one cell per category × dataset whose mean is the answer-weighted mean of own-range normalized task means", () => {
    expect(summary.cells.map((c: any) => `${c.category}/${c.dataset}`)).toEqual(
      ["qualitative", "stated", "open_ended"].flatMap((c) => ["alpaca", "bailbench", "math", "wildchat"].map((d) => `${c}/${d}`))
    )
    const range = (id: string) => {
      const t = templates.find((x) => x.id === id)!
      return t.kind === "stated" ? t.scale : t.kind === "open_ended" ? t.range : { min: 0, max: 1 }
    }
    const kind = (id: string) => templates.find((x) => x.id === id)!.kind as string
    const means = readCsv(path.join(out(), "task_means.csv"))
    for (const cell of summary.cells) {
      const rows = means.filter((m) => kind(m.template as string) === cell.category && m.dataset === cell.dataset)
      const n = rows.reduce((a, m) => a + (m.n as number), 0)
      const { min, max } = range(rows[0]!.template as string)
      const byHand = rows.reduce((a, m) => a + (m.n as number) * (((m.value as number) - min) / (max - min)), 0) / n
      expect(cell.n).toBe(n)
      expect(cell.n_tasks).toBe(rows.length)
      expect(cell.mean).toBeCloseTo(byHand, 12)
      expect(cell.lo).toBeLessThanOrEqual(cell.mean)
      expect(cell.hi).toBeGreaterThanOrEqual(cell.mean)
    }
    // A 1-10 rating is never averaged as if it were on a 0-1 scale.
    for (const cell of summary.cells) expect(cell.mean).toBeLessThanOrEqual(1)
  })

  it("orders datasets per category and reports parsing per template", () => {
    for (const category of ["qualitative", "stated", "open_ended"]) expect([...summary.dataset_order[category]].sort()).toEqual(["alpaca", "bailbench", "math", "wildchat"])
    const stated = summary.templates.find((t: any) => t.template === "stated_pre_v1")
    expect(stated.range).toEqual({ min: 1, max: 10 })
    expect(stated.answers).toBe(24 * 2)
    const readme = fs.readFileSync(path.join(out(), "README.md"), "utf8")
    for (const t of summary.templates) {
      expect(readme.includes(`\`parse-failures\`: ${t.template}:`)).toBe(t.failed / t.answers > 0.1)
    }
  })
})

describe("ratingsFindings", () => {
  const cell = (category: string, dataset: string, mean: number) => ({ category, dataset, mean, lo: mean - 0.1, hi: mean + 0.1 })
  it("orders each category's datasets and says whether the categories agree on the most and least preferred", () => {
    const agree = ratingsFindings(
      [cell("stated", "alpaca", 0.7), cell("stated", "math", 0.2), cell("qualitative", "alpaca", 0.9), cell("qualitative", "math", 0.1)],
      { stated: ["alpaca", "math"], qualitative: ["alpaca", "math"] }
    )
    expect(agree).toContain("stated: alpaca > math, from alpaca at 0.700 [0.600, 0.800] to math at 0.200 [0.100, 0.300] on the 0-1 scale.")
    expect(agree).toContain("Every category rates alpaca highest and math lowest")
    expect(agree).toContain("The qualitative answers separate the datasets most (range 0.800).")
    const paradox = ratingsFindings(
      [cell("stated", "alpaca", 0.7), cell("stated", "bailbench", 0.2), cell("qualitative", "alpaca", 0.3), cell("qualitative", "bailbench", 0.8)],
      { stated: ["alpaca", "bailbench"], qualitative: ["bailbench", "alpaca"] }
    )
    expect(paradox).toContain("The categories disagree on which dataset the model prefers most (stated: alpaca, qualitative: bailbench)")
  })
})
