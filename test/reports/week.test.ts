import { beforeAll, describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { weeklyReports } from "../../reports/week"
import { experimentWorkspace, pngSize, tinyExperiment } from "../support/experiment"

const config = {
  ...tinyExperiment,
  templates: ["qualitative_post_v1", "stated_pre_v1"],
  steering: { coefficients: [-3, 0, 3], samples: 1, tasks: 6, calibration: 4 }
}
const names = weeklyReports.map(([name]) => name)
const read = (file: string) => fs.readFileSync(file, "utf8")
const diagnosticLines = (readme: string) => readme.slice(readme.indexOf("## Diagnostics")).split("\n").filter((l) => l.startsWith("- **"))

describe("reports/week end to end on the organism", () => {
  const w = experimentWorkspace()
  const out = path.join(w.out, "reports/week")
  let week: { summary: Record<string, unknown> }

  beforeAll(async () => {
    w.writeConfig(config)
    await w.build("reports/week")
    // Each report alone reuses every stage the weekly build ran.
    for (const name of ["parsing", "probe_r2", "steering"]) await w.build(`reports/${name}`)
    week = JSON.parse(read(path.join(out, "summary.json")))
  }, 600_000)

  it("gathers every report target, each summary under its name as the report alone writes it", () => {
    expect(names).toEqual(
      expect.arrayContaining(["hoo", "probe_r2", "probe_similarity", "seed_sensitivity", "template_scales", "ratings", "steering", "utilities", "parsing"])
    )
    expect(Object.keys(week.summary).sort()).toEqual([...names].sort())
    for (const name of ["parsing", "probe_r2", "steering"]) {
      expect(week.summary[name]).toEqual(JSON.parse(read(path.join(w.out, `reports/${name}/summary.json`))).summary)
    }
  })

  it("prefixes headings with the report name and merges every report's diagnostics", () => {
    const readme = read(path.join(out, "README.md"))
    const headings = readme.split("\n").filter((l) => l.startsWith("## ")).map((l) => l.slice(3))
    expect(headings[0]).toBe("Contents")
    expect(headings.slice(1, -2).every((h) => names.some((n) => h.startsWith(`${n}: `)))).toBe(true)
    expect(names.every((n) => headings.some((h) => h.startsWith(`${n}: `)))).toBe(true)
    const merged = diagnosticLines(readme)
    for (const name of ["parsing", "probe_r2", "steering"]) {
      const own = diagnosticLines(read(path.join(w.out, `reports/${name}/README.md`)))
      expect(merged.filter((l) => l.includes(`\`: ${name}: `))).toHaveLength(own.length)
    }
  })

  it("writes every report's figures and tables under prefixed names, PNGs at their SVG's size", () => {
    const files = fs.readdirSync(out)
    for (const file of fs.readdirSync(path.join(w.out, "reports/probe_r2")).filter((f) => /\.(png|csv|parquet)$/.test(f))) {
      expect(files).toContain(`probe_r2-${file}`)
    }
    const pngs = files.filter((f) => f.endsWith(".png"))
    expect(names.filter((n) => n !== "utilities").every((n) => pngs.some((f) => f.startsWith(`${n}-`)))).toBe(true)
    for (const png of pngs) {
      const bytes = fs.readFileSync(path.join(out, png))
      const svg = read(path.join(out, png.replace(/\.png$/, ".svg")))
      expect(bytes.length).toBeGreaterThan(1000)
      expect(pngSize(bytes)).toEqual({ width: Number(/width="(\d+)"/.exec(svg)![1]), height: Number(/height="(\d+)"/.exec(svg)![1]) })
    }
  })
})
