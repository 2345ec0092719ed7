import { beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { loadedOutputs } from "../../pipeline/Artifact"
import { formatReason } from "../../pipeline/Plan"
import { personasReport } from "../../reports/personas"
import type { TransferEvaluation } from "../../stages/probeTransfer"
import { fromTable, ScoresSchema, TasksSchema, toTable } from "../../stages/tables"
import { pearson, spearman } from "../../stats/metrics"
import { experimentWorkspace, pngSize, stageOutputs, tinyExperiment } from "../support/experiment"

const personas = [
  { id: "neutral", system: "" },
  { id: "villain", system: "You are a villain who delights in chaos." }
]
const poet = { id: "poet", system: "You are a poet who loves quiet mornings." }
const templates = ["qualitative_post_v1", "stated_pre_v1", "revealed_v1"]
const config = { ...tinyExperiment, templates, personas }

const mean = (xs: ReadonlyArray<number>) => xs.reduce((a, b) => a + b, 0) / xs.length

describe("reports/personas end to end on the organism", () => {
  const w = experimentWorkspace()
  const out = () => path.join(w.out, "reports/personas")
  let built: Awaited<ReturnType<typeof w.build>>
  let summary: any

  beforeAll(async () => {
    w.writeConfig(config)
    built = await w.build("reports/personas")
    summary = JSON.parse(fs.readFileSync(path.join(out(), "summary.json"), "utf8")).summary
  }, 600_000)

  const taskMeans = async (stage: string) => {
    const rows = fromTable<{ task_id: string; normalized: number | null }>((await stageOutputs(w.cache, built, stage)).table("scores"))
    const byTask = new Map<string, number[]>()
    for (const r of rows) if (r.normalized !== null) byTask.set(r.task_id, [...(byTask.get(r.task_id) ?? []), r.normalized])
    return new Map([...byTask].map(([t, v]) => [t, mean(v)]))
  }

  it("fans completion, elicitation, parsing, activations and revealed choices out per persona", () => {
    const ids = built.stages.map((s) => s.stage)
    for (const p of ["neutral", "villain"]) {
      expect(ids).toContain(`complete[${p}]`)
      for (const t of templates) expect(ids).toEqual(expect.arrayContaining([`elicit[${t}|${p}]`, `parse[${t}|${p}]`]))
      for (const t of ["qualitative_post_v1", "stated_pre_v1"]) expect(ids).toContain(`activations[${t}|${p}]`)
      expect(ids).toContain(`utilities[revealed_v1|${p}]`)
    }
    // The trained persona's probe is read under every other persona, never under itself.
    expect(ids.filter((id) => id.startsWith("probe_transfer[")).sort()).toEqual(["probe_transfer[qualitative_post_v1|villain@1]", "probe_transfer[stated_pre_v1|villain@1]"])
    expect(ids.some((id) => /^complete$|^(elicit|parse|activations)\[[^|]*\]$/.test(id))).toBe(false)
    expect(summary.trained_persona).toBe("neutral")
    expect(summary.personas).toEqual(["neutral", "villain"])
  })

  it("ratings and their shift match the parsed scores, task by task", async () => {
    for (const t of ["qualitative_post_v1", "stated_pre_v1"]) {
      const base = await taskMeans(`parse[${t}|neutral]`)
      const own = await taskMeans(`parse[${t}|villain]`)
      const origin = (id: string) => id.slice(0, id.indexOf("_"))
      for (const dataset of ["all", "alpaca", "bailbench", "math", "wildchat"]) {
        const ids = [...own.keys()].filter((id) => dataset === "all" || origin(id) === dataset)
        const cell = summary.ratings.find((r: any) => r.template === t && r.persona === "villain" && r.dataset === dataset)
        expect(cell.n_tasks).toBe(ids.length)
        expect(cell.mean.estimate).toBeCloseTo(mean(ids.map((id) => own.get(id)!)), 12)
        const paired = ids.filter((id) => base.has(id))
        expect(cell.n_shift).toBe(paired.length)
        expect(cell.shift.estimate).toBeCloseTo(mean(paired.map((id) => own.get(id)! - base.get(id)!)), 12)
        expect(cell.shift.lo).toBeLessThanOrEqual(cell.shift.estimate)
        expect(cell.shift.hi).toBeGreaterThanOrEqual(cell.shift.estimate)
      }
      expect(summary.ratings.filter((r: any) => r.persona === "neutral").every((r: any) => r.shift === null)).toBe(true)
    }
  })

  it("the probe-tracks-shift numbers are the correlation of the stage's per-task predicted and measured shifts", async () => {
    for (const t of ["qualitative_post_v1", "stated_pre_v1"]) {
      const tasks = fromTable<{ target_trained: number; target: number; predicted_trained: number; predicted: number; predicted_shift_in_span: number }>(
        (await stageOutputs(w.cache, built, `probe_transfer[${t}|villain@1]`)).table("tasks")
      )
      const measured = tasks.map((k) => k.target - k.target_trained)
      const raw = tasks.map((k) => k.predicted - k.predicted_trained)
      const learned = tasks.map((k) => k.predicted_shift_in_span)
      const row = summary.transfer.find((x: any) => x.template === t && x.persona === "villain" && x.layer === 1)
      expect(row.n).toBe(24)
      expect(row.shift.pearson_r.estimate).toBeCloseTo(pearson(raw, measured), 12)
      expect(row.shift.in_span.pearson_r.estimate).toBeCloseTo(pearson(learned, measured), 12)
      expect(row.shift.mean_measured.estimate).toBeCloseTo(mean(measured), 12)
      const r = row.shift.in_span.pearson_r
      const verdict = r.lo > 0 ? "tracks" : r.hi < 0 ? "opposite" : "does_not_track"
      expect(row.verdict).toBe(verdict)
      // The finding at the top names the same verdict for the layer whose probe predicts neutral best (the only one here).
      expect(summary.findings.find((x: any) => x.template === t && x.persona === "villain").verdict).toBe(verdict)
    }
    const readme = fs.readFileSync(path.join(out(), "README.md"), "utf8")
    expect(readme.indexOf("## Findings")).toBeLessThan(readme.indexOf("## Ratings by persona and dataset"))
    expect(readme).toMatch(/- \*\*villain\*\* \(against neutral\): mean normalized rating shift qualitative_post_v1 /)
  })

  it("stability per persona: the cross-seed Pearson r of the two parsed samples over tasks with both, and its Spearman-Brown ceiling", async () => {
    for (const t of ["qualitative_post_v1", "stated_pre_v1"]) {
      for (const p of ["neutral", "villain"]) {
        const rows = fromTable<{ task_id: string; sample: number; normalized: number | null }>((await stageOutputs(w.cache, built, `parse[${t}|${p}]`)).table("scores"))
        const bySample = new Map<string, Map<number, number>>()
        for (const r of rows) if (r.normalized !== null) bySample.set(r.task_id, (bySample.get(r.task_id) ?? new Map()).set(r.sample, r.normalized))
        const both = [...bySample].filter(([, s]) => s.has(0) && s.has(1)).map(([, s]) => s)
        const r = pearson(both.map((s) => s.get(0)!), both.map((s) => s.get(1)!))
        expect(Number.isFinite(r)).toBe(true)
        const row = summary.stability.find((x: any) => x.template === t && x.persona === p)
        expect(row.samples).toBe(2)
        expect(row.n_tasks).toBe(both.length)
        expect(row.single_sample_r.estimate).toBeCloseTo(r, 12)
        expect(row.single_sample_r.lo).toBeLessThanOrEqual(r)
        expect(row.single_sample_r.hi).toBeGreaterThanOrEqual(r)
        expect(row.noise_ceiling).toBeCloseTo((2 * r) / (1 + r), 12)
      }
    }
  })

  it("revealed utilities per persona, rank-correlated with the trained persona's", async () => {
    const mu = async (p: string) =>
      new Map(fromTable<{ task_id: string; mu: number }>((await stageOutputs(w.cache, built, `utilities[revealed_v1|${p}]`)).table("utilities")).map((u) => [u.task_id, u.mu]))
    const base = await mu("neutral")
    const own = await mu("villain")
    const shared = [...own.keys()].filter((id) => base.has(id))
    const row = summary.utilities.find((u: any) => u.template === "revealed_v1" && u.persona === "villain")
    expect(row.n_shared).toBe(shared.length)
    expect(row.spearman_with_trained.estimate).toBeCloseTo(spearman(shared.map((id) => own.get(id)!), shared.map((id) => base.get(id)!)), 12)
  })

  it("draws one panel per persona in the shift figure, and writes every table", () => {
    const svg = fs.readFileSync(path.join(out(), "shift_tracking_qualitative_post_v1_L1.svg"), "utf8")
    expect(svg).toContain(">villain<")
    expect(svg).not.toContain(">neutral<")
    expect(pngSize(fs.readFileSync(path.join(out(), "shift_tracking_qualitative_post_v1_L1.png"))).width).toBeGreaterThan(400)
    for (const table of ["ratings", "stability", "utilities", "utilities_by_dataset", "transfer", "shift_tasks"]) {
      expect(fs.statSync(path.join(out(), `${table}.parquet`)).size).toBeGreaterThan(0)
    }
  })

  it("plan names a changed persona by its config path; adding a persona runs only its column and the report", async () => {
    w.writeConfig({ ...config, personas: [personas[0], { ...personas[1], system: "You are a villain who loves order." }] })
    const planned = await w.plan("reports/personas")
    const complete = planned.stages.find((s) => s.stage === "complete[villain]")!
    expect(complete.run).toBe(true)
    expect(complete.reasons.map(formatReason)).toContain('parameter personas.1.system changed: "You are a villain who delights in chaos." -> "You are a villain who loves order."')
    expect(planned.stages.find((s) => s.stage === "complete[neutral]")!.run).toBe(false)

    w.writeConfig({ ...config, personas: [...personas, poet] })
    const added = await w.build("reports/personas")
    const executed = added.stages.filter((s) => s.status === "executed").map((s) => s.stage).sort()
    expect(executed).toEqual(
      [
        "organism_truth[poet]", "complete[poet]",
        ...templates.flatMap((t) => [`elicit[${t}|poet]`, `parse[${t}|poet]`]),
        "activations[qualitative_post_v1|poet]", "activations[stated_pre_v1|poet]",
        "utilities[revealed_v1|poet]",
        "probe_transfer[qualitative_post_v1|poet@1]", "probe_transfer[stated_pre_v1|poet@1]",
        "report_personas[personas]"
      ].sort()
    )
  }, 600_000)
})

describe("report_personas on hand-made inputs", () => {
  // Twelve tasks of two origins, two samples each. Persona "a" answers 0.25 on x-tasks and 0.75 on y-tasks; "b" answers
  // 1 everywhere (collapsed) except three failed rows (12.5%), so b's shift is +0.75 on x and +0.25 on y.
  const ids = Array.from({ length: 12 }, (_, k) => `${k < 6 ? "x" : "y"}_${k}`)
  const tasks = toTable(TasksSchema, ids.map((task_id) => ({ task_id, origin: task_id[0]!, prompt: "p", meta: "{}" })))
  const scoreRows = (value: (task: string, sample: number) => number | null) =>
    ids.flatMap((task_id) => [0, 1].map((sample) => {
      const v = value(task_id, sample)
      return { task_id, template_id: "q", sample, value: v, normalized: v, expected: null, tier: v === null ? "failed" : "exact", reason: null, pair_task_id: null, order: null }
    }))
  const a = scoreRows((t) => (t.startsWith("x") ? 0.25 : 0.75))
  const b = scoreRows((t, sample) => (sample === 1 && ["x_0", "x_1", "y_6"].includes(t) ? null : 1))
  const interval = (estimate: number, lo: number, hi: number) => ({ estimate, lo, hi, resamples: 100 })
  type Iv = { estimate: number; lo: number; hi: number; resamples: number }
  const transfer = (r: Iv, raw: Iv): TransferEvaluation => ({
    template_id: "q", layer: 1, position: "prompt_last", measure: "answers", n_tasks: 12, folds: 3, probe: { alpha: 1, cv_r2: 0.5 },
    trained: { r2: interval(0.5, 0.3, 0.7), r2_mean_adjusted: interval(0.5, 0.3, 0.7), pearson_r: interval(0.7, 0.5, 0.8) },
    transfer: { r2: interval(0.1, -0.2, 0.3), r2_mean_adjusted: interval(0.4, 0.2, 0.6), pearson_r: interval(0.6, 0.4, 0.8) },
    shift: {
      pearson_r: raw, slope: interval(0.9, 0.5, 1.3), mean_measured: interval(0.5, 0.4, 0.6), mean_predicted: interval(0.4, 0.3, 0.5), sd_measured: 0.25, sd_predicted: 0.2, ceiling: 0.97,
      in_span: { pearson_r: r, slope: interval(0.9, 0.5, 1.3), mean_predicted: interval(0.4, 0.3, 0.5), sd_predicted: 0.2 }, outside_share: 0.3
    }
  })
  const shiftTasks = toTable(
    {
      task_id: ["utf8", false], origin: ["utf8", false], target_trained: ["float64", false], target: ["float64", false], predicted_trained: ["float64", false],
      predicted: ["float64", false], predicted_shift_in_span: ["float64", false], outside_share: ["float64", true], fold: ["int32", false]
    },
    ids.map((task_id, k) => ({ task_id, origin: task_id[0]!, target_trained: 0.5, target: 0.5 + k / 20, predicted_trained: 0.5, predicted: 0.5 + k / 25, predicted_shift_in_span: k / 25, outside_share: 0.3, fold: k % 3 }))
  )
  const run = (r: Iv, raw: Iv = r) =>
    Effect.runPromise(
      personasReport.run({
        node: "report_personas[personas]",
        key: "k",
        params: { config: {}, trained: "a", personas: ["a", "b"], scored: ["q"], ranges: { q: { min: 0, max: 1 } }, revealed: [], layers: [1], samples: 2, bootstrap: { resamples: 100, seed: 1 } },
        inputs: {
          tasks: loadedOutputs("sample", { tasks: { _tag: "Table", table: tasks } }),
          "scores:q|a": loadedOutputs("parse[q|a]", { scores: { _tag: "Table", table: toTable(ScoresSchema, a) } }),
          "scores:q|b": loadedOutputs("parse[q|b]", { scores: { _tag: "Table", table: toTable(ScoresSchema, b) } }),
          "transfer:q|b@1": loadedOutputs("probe_transfer[q|b@1]", { transfer: { _tag: "Json", value: transfer(r, raw) }, tasks: { _tag: "Table", table: shiftTasks } })
        },
        progress: { total: () => Effect.void, done: () => Effect.void }
      })
    ).then((out) => (out.document as { value: any }).value)

  it("hand-worked shifts per dataset, and a collapsed persona with 12.5% parse failures flagged by name", async () => {
    const doc = await run(interval(0.9, 0.8, 0.95))
    const cell = (dataset: string) => doc.summary.ratings.find((r: any) => r.persona === "b" && r.dataset === dataset)
    expect(cell("x").shift.estimate).toBeCloseTo(0.75, 12)
    expect(cell("y").shift.estimate).toBeCloseTo(0.25, 12)
    expect(cell("all").shift.estimate).toBeCloseTo(0.5, 12)
    expect(cell("all").mean.estimate).toBe(1)
    const messages = doc.diagnostics.map((d: any) => `${d.code}: ${d.message}`)
    expect(messages).toContainEqual(expect.stringMatching(/^collapse: q under persona b: 100% of 21 answers are 1/))
    expect(messages).toContainEqual(expect.stringMatching(/^parse-failures: q under persona b: 3 of 24 answers \(13%\)/))
    expect(messages.some((m: string) => m.includes("under persona a:") && !m.startsWith("few-tasks"))).toBe(false)
    expect(doc.sections[0].heading).toBe("Findings")
    expect(doc.sections[0].text).toContain("- **b** (against a): mean normalized rating shift q 0.50 [")
    expect(doc.sections[0].text).toContain("the probe tracks its shift on q at layer 1 (shift r = 0.90 [0.80, 0.95] over 12 tasks, at most 0.97 through the measurement's noise; slope 0.90)")
    expect(doc.summary.findings).toEqual([{
      persona: "b", template: "q", layer: 1, verdict: "tracks", shift_r: interval(0.9, 0.8, 0.95), ceiling: 0.97, slope: interval(0.9, 0.5, 1.3), n: 12,
      raw_shift_r: interval(0.9, 0.8, 0.95), outside_share: 0.3
    }])
    expect(doc.diagnostics.map((d: any) => d.code)).not.toContain("extrapolated-shift")
  })

  it("says so when the probe does not track a persona's shift, or predicts the same shift for every task", async () => {
    const flat = await run(interval(0.1, -0.2, 0.4))
    expect(flat.sections[0].text).toContain("the probe does not track its shift on q at layer 1 (shift r = 0.10 [-0.20, 0.40]")
    expect(flat.summary.findings[0].verdict).toBe("does_not_track")
    // The raw probe tracks, its learned directions do not: the verdict follows the learned directions, and says why they differ.
    const extrapolated = await run(interval(0.02, -0.2, 0.25), interval(0.88, 0.8, 0.93))
    expect(extrapolated.summary.findings[0].verdict).toBe("does_not_track")
    expect(extrapolated.sections[0].text).toContain("though the raw probe's prediction gives r = 0.88 [0.80, 0.93]: 30% of the activation change lies along directions that never varied under a")
    expect(extrapolated.diagnostics.find((d: any) => d.code === "extrapolated-shift").message).toContain("q layer 1, b:")
    const constant = await run({ estimate: null, lo: null, hi: null, resamples: 0 } as never)
    expect(constant.summary.findings[0].verdict).toBe("undefined")
    expect(constant.sections[0].text).toContain("the probe predicts the same shift for every task, so it does not track the shift on q at layer 1")
    expect(constant.diagnostics.map((d: any) => d.code)).toContain("constant-prediction")
  })
})
