import { beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { getAction } from "../../cache/Actions"
import { CacheDir } from "../../cache/CacheDir"
import { loadedOutputs } from "../../pipeline/Artifact"
import { loadOutput } from "../../pipeline/Build"
import { parsingFindings, parsingReport } from "../../reports/parsing"
import type { ReportBody } from "../../reports/reportTarget"
import { ScoresSchema, fromTable, toTable } from "../../stages/tables"
import { experimentWorkspace, pngSize, tinyExperiment } from "../support/experiment"

const config = { ...tinyExperiment, templates: ["qualitative_post_v1", "stated_pre_v1"] }
const tiers = ["exact", "refusal", "model", "failed"] as const

interface TemplateSummary {
  template: string
  kind: string
  total: number
  tiers: Record<(typeof tiers)[number], number>
  failures: Record<string, number>
  failure_rate: { p: number; lo: number; hi: number }
  top_value: number | null
  top_share: number | null
}

/** Runs the report stage on hand-made scores tables, one per template. */
const reportOn = (tables: Record<string, { kind: string; rows: Array<Record<string, unknown>> }>) =>
  Effect.runPromise(
    parsingReport.run({
      node: "report_parsing[test]",
      key: "test",
      params: { config: {}, kinds: Object.fromEntries(Object.entries(tables).map(([id, t]) => [id, t.kind])) },
      inputs: Object.fromEntries(
        Object.entries(tables).map(([id, t]) => [
          `scores:${id}`,
          loadedOutputs(`parse[${id}]`, {
            scores: { _tag: "Table", table: toTable(ScoresSchema, t.rows.map((r, i) => ({ task_id: `t${i}`, template_id: id, sample: 0, tier: "exact", ...r }))) }
          })
        ])
      ),
      progress: { total: () => Effect.void, done: () => Effect.void }
    }) as Effect.Effect<Record<string, { _tag: "Json"; value: unknown }>>
  ).then((outputs) => outputs.document!.value as ReportBody & { summary: { templates: TemplateSummary[] } })

describe("reports/parsing end to end on the organism", () => {
  const w = experimentWorkspace()
  const out = path.join(w.out, "reports/parsing")
  let built: Awaited<ReturnType<typeof w.build>>
  let summary: { templates: TemplateSummary[] }

  beforeAll(async () => {
    w.writeConfig(config)
    built = await w.build("reports/parsing")
    summary = JSON.parse(fs.readFileSync(path.join(out, "summary.json"), "utf8")).summary
  }, 600_000)

  it("counts every answer's tier as the scores table records it", async () => {
    expect(summary.templates.map((t) => [t.template, t.kind])).toEqual([["qualitative_post_v1", "qualitative"], ["stated_pre_v1", "stated"]])
    const rows = await Effect.runPromise(
      Effect.gen(function* () {
        const record = (yield* getAction(built.stages.find((s) => s.stage === "parse[stated_pre_v1]")!.key))!
        return fromTable<{ tier: string; value: number | null }>(loadedOutputs("parse", { scores: yield* loadOutput(record.outputs.scores!) }).table("scores"))
      }).pipe(Effect.provide(CacheDir.layer(w.cache)))
    )
    const stated = summary.templates[1]!
    expect(stated.total).toBe(4 * tinyExperiment.sample.perOrigin * tinyExperiment.elicitation.samples)
    expect(stated.total).toBe(rows.length)
    for (const tier of tiers) expect(stated.tiers[tier]).toBe(rows.filter((r) => r.tier === tier).length)
    expect(stated.failure_rate.p).toBeCloseTo(stated.tiers.failed / stated.total, 12)
    expect(stated.failure_rate.lo).toBeLessThanOrEqual(stated.failure_rate.p)
    const parsed = rows.filter((r) => r.value !== null)
    const top = parsed.filter((r) => r.value === stated.top_value).length
    expect(stated.top_share).toBeCloseTo(top / parsed.length, 12)
    expect(parsed.every((r) => parsed.filter((q) => q.value === r.value).length <= top)).toBe(true)
  })

  it("writes the tier table and a tier-share chart of the promised size", () => {
    expect(fs.readFileSync(path.join(out, "tiers.csv"), "utf8").split("\r\n")[0]).toBe(
      "template,kind,total,exact,refusal,model,failed,failure_rate,failure_rate_lo,failure_rate_hi,top_value,top_share"
    )
    expect(fs.statSync(path.join(out, "tiers.parquet")).size).toBeGreaterThan(0)
    const png = fs.readFileSync(path.join(out, "tiers.png"))
    const svg = fs.readFileSync(path.join(out, "tiers.svg"), "utf8")
    expect(png.length).toBeGreaterThan(1000)
    expect(pngSize(png)).toEqual({ width: Number(/width="(\d+)"/.exec(svg)![1]), height: Number(/height="(\d+)"/.exec(svg)![1]) })
    expect(pngSize(png).width).toBe(640)
  })
})

describe("parsing report on hand-made scores", () => {
  it("lists failure reasons, flags failure rates above 10%, collapse above 60% and revealed position bias", async () => {
    const failing = [
      ...Array.from({ length: 7 }, (_, i) => ({ value: i + 1, normalized: i / 9 })),
      ...Array.from({ length: 2 }, () => ({ tier: "failed", reason: "no number in the answer" })),
      { tier: "failed", reason: "two numbers" },
      { tier: "refusal", reason: "declined" }
    ]
    const collapsed = [...Array.from({ length: 7 }, () => ({ value: 1, normalized: 1 })), ...Array.from({ length: 3 }, () => ({ value: 0, normalized: 0 }))]
    // Every revealed answer picks Task A: value 1 when the row's task was shown first, 0 when second.
    const revealed = Array.from({ length: 40 }, (_, i) => ({ value: i % 2 === 0 ? 1 : 0, normalized: i % 2 === 0 ? 1 : 0, order: i % 2 === 0 ? "ab" : "ba", pair_task_id: "p" }))
    const doc = await reportOn({ failing: { kind: "stated", rows: failing }, collapsed: { kind: "qualitative", rows: collapsed }, revealed: { kind: "revealed", rows: revealed } })
    const byId = Object.fromEntries(doc.summary.templates.map((t) => [t.template, t]))
    expect(byId.failing!.tiers).toEqual({ exact: 7, refusal: 1, model: 0, failed: 3 })
    expect(byId.failing!.failures).toEqual({ "no number in the answer": 2, "two numbers": 1 })
    expect(byId.collapsed!.top_share).toBeCloseTo(0.7, 12)
    expect(byId.revealed!.failure_rate.p).toBe(0)
    expect(byId.revealed!.top_share).toBeNull()
    const flagged = doc.diagnostics.map((d) => `${d.code} ${d.message.split(":")[0]}`).sort()
    expect(flagged).toEqual(["collapse collapsed", "parse-failures failing", "position-bias revealed"])
    const failures = doc.sections.flatMap((s) => s.tables ?? []).find((t) => t.name === "failures")!
    expect(failures.rows.map((r) => [r.reason, r.count])).toEqual([["no number in the answer", 2], ["two numbers", 1]])
  })
})

describe("parsingFindings", () => {
  it("gives the overall tier shares and names every template above the 10% line with its most frequent reason", () => {
    const row = (template: string, failed: number, top: number | null = null) => ({
      template, total: 100, tiers: { exact: 100 - failed, refusal: 0, model: 0, failed }, failures: (failed === 0 ? {} : { "no number": failed - 1, "range of numbers": 1 }) as Record<string, number>,
      failure_rate: { p: failed / 100, lo: failed / 200, hi: failed / 50 }, top_value: top, top_share: top === null ? null : 0.7
    })
    const text = parsingFindings([row("a", 0), row("b", 30, 7)])
    expect(text).toContain("Of 200 answers over 2 templates, 85.0% parsed exactly, 0.0% needed a parsing model, 0.0% were refusals and 15.0% failed.")
    expect(text).toContain('Above the 10% line: b fails on 0.300 [0.150, 0.600] of its answers, most often "no number"')
    expect(text).toContain("Collapsed answers: b answers 7.00 70% of the time")
    expect(parsingFindings([row("a", 5)])).toContain("No template fails on more than 10% of its answers.")
  })
})
