import { NodeFileSystem } from "@effect/platform-node"
import { afterAll, describe, expect, it } from "@effect/vitest"
import * as arrow from "apache-arrow"
import { Effect, Either } from "effect"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { readParquet } from "parquet-wasm"
import { flattenConfig, MAX_INLINE_ROWS, type ReportDocument, renderMarkdown, writeReport } from "../../../reports/render/document"
import { doseResponse, heatmap } from "../../../reports/render/figures"
import type { Table } from "../../../reports/render/tables"

const root = fs.mkdtempSync(path.join(os.tmpdir(), "prefpipe-report-test-"))
afterAll(() => fs.rmSync(root, { recursive: true, force: true }))

const table: Table = {
  name: "hoo_r2",
  columns: [
    { name: "dataset", type: "utf8" },
    { name: "r2", type: "float64" },
    { name: "r2_lo", type: "float64" },
    { name: "r2_hi", type: "float64" }
  ],
  rows: [
    { dataset: "alpaca", r2: 0.7341, r2_lo: 0.62, r2_hi: 0.81 },
    { dataset: "<math>", r2: 0.5, r2_lo: 0.4, r2_hi: 0.6 }
  ]
}

const doc: ReportDocument = {
  title: "Held-one-out <probes> & steering",
  buildHash: "b3f1c9e2aa",
  configSummary: { model: { name: "tiny", layers: [4, 8] }, seed: 7, datasets: "alpaca,math" },
  findings: { text: "Probes generalize to unseen datasets: Pearson r 0.73 [0.62, 0.81]." },
  sections: [
    {
      heading: "Generalisation",
      text: "Probes trained on three datasets, tested on the fourth.\n\nIntervals are 95% bootstrap intervals over test tasks.",
      tables: [table],
      figures: [
        heatmap({
          name: "similarity",
          title: "Probe cosine similarity",
          cells: [
            { row: "a", column: "a", value: 1 },
            { row: "a", column: "b", value: -0.3 },
            { row: "b", column: "a", value: -0.3 },
            { row: "b", column: "b", value: 1 }
          ],
          rowTitle: "probe",
          columnTitle: "probe",
          valueTitle: "cosine"
        })
      ]
    },
    {
      heading: "Steering",
      notice: "at coefficient 5 most steered answers failed to parse",
      tables: [{ name: "per_task", columns: [{ name: "task_id", type: "utf8" }], rows: [{ task_id: "t1" }, { task_id: "t2" }], detail: true }],
      figures: [
        doseResponse({
          name: "dose",
          title: "Steering dose-response",
          points: ["probe", "control"].flatMap((direction) =>
            [-1, 0, 1].map((coefficient) => ({ direction, coefficient, p: 0.5, lo: 0.4, hi: 0.6 }))
          )
        })
      ]
    }
  ],
  diagnostics: [
    { level: "warning", code: "few-tasks", message: "hoo math: correlation from 12 tasks" },
    { level: "error", code: "orientation", message: "t7: scale reversed" }
  ],
  summary: { r2: { alpaca: 0.7341 } }
}

const promised = [
  "README.md",
  "dose.png",
  "dose.svg",
  "hoo_r2.csv",
  "hoo_r2.parquet",
  "index.html",
  "per_task.csv",
  "per_task.parquet",
  "similarity.png",
  "similarity.svg",
  "summary.json"
]

describe("writeReport", () => {
  it.effect("writes every promised file, no temporaries, and returns each with its size and sha256", () =>
    Effect.gen(function* () {
      const dir = path.join(root, "full", "nested")
      const written = yield* writeReport(dir, doc)
      expect(written.map((f) => f.path)).toEqual(promised)
      expect(fs.readdirSync(dir).sort()).toEqual(promised)
      for (const file of written) {
        const bytes = fs.readFileSync(path.join(dir, file.path))
        expect(file.bytes).toBe(bytes.byteLength)
        expect(file.bytes).toBeGreaterThan(0)
        expect(file.sha256).toBe(createHash("sha256").update(bytes).digest("hex"))
      }
      const parquet = arrow.tableFromIPC(readParquet(fs.readFileSync(path.join(dir, "hoo_r2.parquet"))).intoIPCStream())
      expect(parquet.getChild("dataset")!.toArray()).toEqual(["alpaca", "<math>"])
      expect(JSON.parse(fs.readFileSync(path.join(dir, "summary.json"), "utf8"))).toEqual({
        title: doc.title,
        build: { hash: "b3f1c9e2aa", config: doc.configSummary },
        summary: doc.summary
      })
    }).pipe(Effect.provide(NodeFileSystem.layer))
  )

  it.effect("writes the same bytes on a second run (nothing varies between honest runs)", () =>
    Effect.gen(function* () {
      const first = yield* writeReport(path.join(root, "twice-a"), doc)
      const second = yield* writeReport(path.join(root, "twice-b"), doc)
      expect(second).toEqual(first)
    }).pipe(Effect.provide(NodeFileSystem.layer))
  )

  it.effect("writes a self-contained HTML page: inline CSS and SVG, no external references, text escaped", () =>
    Effect.gen(function* () {
      const dir = path.join(root, "html")
      yield* writeReport(dir, doc)
      const html = fs.readFileSync(path.join(dir, "index.html"), "utf8")
      expect(html).not.toMatch(/https?:\/\//)
      expect(html).not.toMatch(/\b(src|href)\s*=/i)
      expect(html).not.toMatch(/<link\b|<script\b|@import|url\((?!#)/i)
      expect(html).toContain("<style>")
      expect((html.match(/<svg\b/g) ?? []).length).toBe(2)
      const ids = [...html.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1])
      expect(new Set(ids).size).toBe(ids.length)
      expect(html).toContain("Probe cosine similarity</text>")
      expect(html).toContain("<h1>Held-one-out &lt;probes&gt; &amp; steering</h1>")
      expect(html).toContain("<td>&lt;math&gt;</td>")
      expect(html).toContain('<td class="num">0.734 [0.620, 0.810]</td>')
      expect(html).toContain("b3f1c9e2aa")
      expect(html.indexOf("t7: scale reversed")).toBeLessThan(html.indexOf("hoo math: correlation from 12 tasks"))
    }).pipe(Effect.provide(NodeFileSystem.layer))
  )

  it.effect("rejects duplicate or unsafe figure and table names before writing anything", () =>
    Effect.gen(function* () {
      const dir = path.join(root, "rejected")
      const figure = doc.sections[0]!.figures![0]!
      const duplicate: ReportDocument = { ...doc, sections: [{ heading: "x", figures: [figure, figure] }] }
      const unsafe: ReportDocument = { ...doc, sections: [{ heading: "x", tables: [{ ...table, name: "../escape" }] }] }
      const messages = yield* Effect.forEach([duplicate, unsafe], (d) =>
        Effect.map(Effect.either(writeReport(dir, d)), (e) => (Either.isLeft(e) ? e.left.message : "written"))
      )
      expect(messages[0]).toMatch(/two figures are named "similarity"/)
      expect(messages[1]).toMatch(/\.\.\/escape: table name must match/)
      expect(fs.existsSync(dir)).toBe(false)
    }).pipe(Effect.provide(NodeFileSystem.layer))
  )
})

describe("renderMarkdown", () => {
  it("has findings as tables, figures inline as PNG links, errors before warnings, then build hash and config", () => {
    const md = renderMarkdown(doc)
    expect(md.startsWith("# Held-one-out <probes> & steering\n")).toBe(true)
    expect(md).toContain("| alpaca | 0.734 [0.620, 0.810] |")
    expect(md).toContain("![Probe cosine similarity](similarity.png)")
    expect(md).toContain("![Steering dose-response](dose.png)")
    expect(md).toContain("Intervals are 95% bootstrap intervals over test tasks.")
    expect(md).toContain("- **error** `orientation`: t7: scale reversed\n- **warning** `few-tasks`")
    expect(md).toContain("Build hash: `b3f1c9e2aa`")
    expect(md).toContain("| model.layers | [4,8] |")
    expect(md.indexOf("## Diagnostics")).toBeGreaterThan(md.indexOf("## Steering"))
  })

  it("opens with the findings, puts a section's notice above its text, and links per-task tables instead of printing them", () => {
    const md = renderMarkdown(doc)
    const headings = md.split("\n").filter((l) => l.startsWith("## "))
    expect(headings.slice(0, 3)).toEqual(["## Findings", "## Generalisation", "## Steering"])
    expect(md).toContain("## Findings\n\nProbes generalize to unseen datasets: Pearson r 0.73 [0.62, 0.81].")
    expect(md).toContain("## Steering\n\n> **Note:** at coefficient 5 most steered answers failed to parse\n")
    expect(md).toContain("**per_task**: 2 rows (task_id) in [per_task.csv](per_task.csv) and [per_task.parquet](per_task.parquet)")
    expect(md).not.toContain("| t1 |")
    const long = { ...table, name: "long", rows: Array.from({ length: MAX_INLINE_ROWS + 1 }, (_, k) => ({ dataset: `d${k}`, r2: 0.5, r2_lo: 0.4, r2_hi: 0.6 })) }
    const withLong = renderMarkdown({ ...doc, sections: [{ heading: "Long", tables: [long, table] }] })
    expect(withLong).toContain(`**long**: ${MAX_INLINE_ROWS + 1} rows (dataset, r2, r2_lo, r2_hi) in [long.csv](long.csv)`)
    expect(withLong).toContain("| alpaca | 0.734 [0.620, 0.810] |")
  })

  it("says so when there are no diagnostics", () => {
    expect(renderMarkdown({ ...doc, diagnostics: [] })).toContain("## Diagnostics\n\nNo diagnostics raised.")
  })
})

describe("flattenConfig", () => {
  it("flattens nested objects to sorted dotted keys with JSON leaves", () => {
    expect(flattenConfig({ z: 1, a: { c: "x", b: [1, 2], d: {} }, n: null })).toEqual([
      ["a.b", "[1,2]"],
      ["a.c", "x"],
      ["a.d", "{}"],
      ["n", "null"],
      ["z", "1"]
    ])
  })
})
