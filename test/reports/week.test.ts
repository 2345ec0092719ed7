import { beforeAll, describe, expect, it } from "@effect/vitest"
import { Layer } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { lineProgress, Progress } from "../../pipeline/Progress"
import { weeklyReports } from "../../reports/week"
import { experimentWorkspace, pngSize } from "../support/experiment"

// experiments/week.json as shipped (every template, steering coefficients left to calibration), on fewer tasks and samples.
const week = JSON.parse(fs.readFileSync(path.resolve(__dirname, "../../experiments/week.json"), "utf8"))
const config = {
  ...week,
  sample: { perOrigin: 10 },
  completion: { maxTokens: 16 },
  elicitation: { samples: 2, maxTokens: 8, pairsPerTask: 2 },
  activations: { layers: [1] },
  probes: { bootstrap: 50, folds: 3 },
  steering: { samples: 1, tasks: 8, calibration: 4 }
}
const names = weeklyReports.map(([name]) => name)
const read = (file: string) => fs.readFileSync(file, "utf8")
const diagnosticLines = (readme: string) => readme.slice(readme.indexOf("## Diagnostics")).split("\n").filter((l) => l.startsWith("- **"))

/** The README's sections by heading, each with its lines (Diagnostics and Build excluded). */
const sectionsOf = (readme: string) => {
  const body = readme.slice(0, readme.indexOf("\n## Diagnostics"))
  return body.split(/\n(?=## )/).slice(1).map((chunk) => {
    const [heading, ...lines] = chunk.split("\n")
    return { heading: heading!.slice(3), lines: lines.filter((l) => l.trim() !== "") }
  })
}

describe("reports/week end to end on the organism, on a reduced copy of experiments/week.json", () => {
  const steps: string[] = []
  const w = experimentWorkspace(Layer.succeed(Progress, lineProgress((line) => steps.push(line), 0)))
  const out = path.join(w.out, "reports/week")
  let week: { summary: Record<string, any> }
  let readme: string

  beforeAll(async () => {
    w.writeConfig(config)
    await w.build("reports/week")
    // Each report alone reuses every stage the weekly build ran.
    for (const name of ["parsing", "probe_r2", "steering"]) await w.build(`reports/${name}`)
    week = JSON.parse(read(path.join(out, "summary.json")))
    readme = read(path.join(out, "README.md"))
  }, 1_200_000)

  it("has no empty section, no empty table, and no diagnostic of error severity", () => {
    const sections = sectionsOf(readme)
    expect(sections.length).toBeGreaterThan(30)
    for (const s of sections) {
      expect(s.lines.length, `section "${s.heading}" is empty`).toBeGreaterThan(0)
      // A printed table has a header, a separator and at least one row; a linked one says how many rows it has.
      s.lines.forEach((line, k) => {
        if (/^\|(---:|:---)/.test(line)) expect(s.lines[k + 1]?.startsWith("| "), `a table in "${s.heading}" has no rows`).toBe(true)
        const linked = /^\*\*[\w.-]+\*\*: (\d+) rows/.exec(line)
        if (linked !== null) expect(Number(linked[1]), `a linked table in "${s.heading}" has no rows`).toBeGreaterThan(0)
      })
    }
    expect(diagnosticLines(readme).filter((l) => l.startsWith("- **error**"))).toEqual([])
    expect(week.summary.skipped).toEqual({})
  })

  it("steers at coefficients that suit the model: every direction's answers parse at every coefficient", () => {
    const layer = week.summary.steering.layers[0]
    expect(layer.calibration).toMatchObject({ baseline: expect.any(Number), chosen: expect.any(Number) })
    for (const d of Object.values(layer.directions) as Array<{ answers: Array<{ parsed: number; total: number }>; slope: number | null }>) {
      for (const a of d.answers) expect(a.parsed).toBeGreaterThan(a.total / 2)
      expect(d.slope).not.toBeNull()
    }
    expect(readme).not.toContain("steering-breaks-answers")
  })

  it("opens with every report's findings and links per-task tables instead of printing them", () => {
    const headings = readme.split("\n").filter((l) => l.startsWith("## ")).map((l) => l.slice(3))
    expect(headings[0]).toBe("Findings")
    expect(headings[1]).toBe("Contents")
    const findings = readme.slice(readme.indexOf("## Findings"), readme.indexOf("## Contents"))
    for (const name of names) expect(findings).toMatch(new RegExp(`^${name}: \\S`, "m"))
    for (const name of names) expect(headings).toContain(`${name}: Findings`)
    expect(readme).toMatch(/^\*\*utilities-utilities\*\*: \d+ rows \(.*\) in \[utilities-utilities\.csv\]\(utilities-utilities\.csv\) and \[utilities-utilities\.parquet\]/m)
    expect(readme).toMatch(/^\*\*ratings-task_means\*\*: \d+ rows/m)
    expect(readme).not.toMatch(/^\| [\w-]+ \| alpaca_/m)
    expect(fs.statSync(path.join(out, "utilities-utilities.csv")).size).toBeGreaterThan(0)
    expect(readme.split("\n").length).toBeLessThan(1200)
  })

  it("reports the steps of report_utilities and probe_eval, which have no rows", () => {
    expect(steps.filter((l) => l.includes("report_utilities[utilities]") && l.includes("steps"))).toEqual(
      expect.arrayContaining([expect.stringMatching(/· revealed_v1: fits, datasets, position bias$/), expect.stringMatching(/· revealed_v2: probes at layer 1$/)])
    )
    expect(steps.some((l) => /probe_eval\[stated_pre_v1@1\]  \d\/5 steps .*· held-one-origin-out/.test(l))).toBe(true)
  })

  it("gathers every report target, each summary under its name as the report alone writes it", () => {
    expect(names).toEqual(
      expect.arrayContaining(["hoo", "probe_r2", "probe_similarity", "seed_sensitivity", "template_scales", "ratings", "steering", "utilities", "parsing"])
    )
    expect(Object.keys(week.summary).sort()).toEqual([...names, "skipped"].sort())
    for (const name of ["parsing", "probe_r2", "steering"]) {
      expect(week.summary[name]).toEqual(JSON.parse(read(path.join(w.out, `reports/${name}/summary.json`))).summary)
    }
  })

  it("prefixes headings with the report name and merges every report's diagnostics", () => {
    const headings = readme.split("\n").filter((l) => l.startsWith("## ")).map((l) => l.slice(3))
    expect(headings.slice(2, -2).every((h) => names.some((n) => h.startsWith(`${n}: `)))).toBe(true)
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
    expect(names.every((n) => pngs.some((f) => f.startsWith(`${n}-`)))).toBe(true)
    for (const png of pngs) {
      const bytes = fs.readFileSync(path.join(out, png))
      const svg = read(path.join(out, png.replace(/\.png$/, ".svg")))
      expect(bytes.length).toBeGreaterThan(1000)
      expect(pngSize(bytes)).toEqual({ width: Number(/width="(\d+)"/.exec(svg)![1]), height: Number(/height="(\d+)"/.exec(svg)![1]) })
    }
  })
})

describe("reports/week on a config some reports cannot build", () => {
  it("plans without the reports the config cannot feed (utilities without a revealed template) instead of failing or building an empty one", async () => {
    const w = experimentWorkspace()
    try {
      w.writeConfig({ templates: ["qualitative_post_v1", "stated_pre_v1"] })
      const planned = await w.plan("reports/week")
      expect(planned.stages.map((s) => s.stage)).not.toContain("report_utilities[utilities]")
      expect(planned.stages.map((s) => s.stage)).toContain("report_steering[steering]")
    } finally {
      fs.rmSync(w.dir, { recursive: true, force: true })
    }
  })
})
