/**
 * Acceptance of the persona axis on the planted-preference organism, through the real stages: experiments/personas.json
 * as shipped (the four built-in task sets; neutral, "villain" planted along the preference direction, "poet" planted on
 * the behavioural channel; qualitative and stated post-task templates and a revealed one) builds reports/personas, and
 * what it measures is compared with what the organism plants.
 *
 * A planted shift is recovered when the closed-form expected answers' mean shift over a persona × origin's tasks (the
 * planted value, in the template's 0-1 units) lies in the 95% interval the report gives the measured mean shift of the
 * sampled answers over the same tasks. Origins a persona plants nothing on are held to the closed form's own small
 * side effect of the system prompt (a few thousandths), which the same seeds under both personas often leave unsampled. The probe-tracks-shift criteria read the shift the trained probe's learned
 * directions predict (reports/personas.ts says why not its raw output), at the planted layer.
 */
import { beforeAll, describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import type { OrganismGroundTruth } from "../../model/Organism"
import { fromTable } from "../../stages/tables"
import { experimentWorkspace, stageOutputs } from "../support/experiment"

const shipped = JSON.parse(fs.readFileSync(path.resolve(__dirname, "../../experiments/personas.json"), "utf8"))
const scored = { qualitative_post_v1: { min: 0, max: 1 }, stated_post_v1: { min: 1, max: 10 } } as const
const origins = ["alpaca", "bailbench", "math", "wildchat"]
const mean = (xs: ReadonlyArray<number>) => xs.reduce((a, b) => a + b, 0) / xs.length

describe("personas on the organism: planted shifts recovered, the probe tracks only the on-direction persona", () => {
  const w = experimentWorkspace()
  const out = () => path.join(w.out, "reports/personas")
  let built: Awaited<ReturnType<typeof w.build>>
  let summary: any

  beforeAll(async () => {
    w.writeConfig(shipped)
    built = await w.build("reports/personas")
    summary = JSON.parse(fs.readFileSync(path.join(out(), "summary.json"), "utf8")).summary
  }, 1_800_000)

  it("the shipped experiment plants villain on the direction, poet on the behaviour channel, and the report reads both", () => {
    expect(summary.personas).toEqual(["neutral", "villain", "poet"])
    const planted = (p: string) => summary.planted.find((x: any) => x.persona === p)
    expect([planted("villain").keyword, planted("villain").channel]).toEqual(["villain", "direction"])
    expect([planted("poet").keyword, planted("poet").channel]).toEqual(["poet", "behaviour"])
    const spec = Object.fromEntries(shipped.model.spec.personas.map((p: any) => [p.keyword, p.shifts]))
    for (const x of summary.planted.filter((r: any) => r.dataset !== "all")) expect(x.planted_valence_shift).toBe(spec[x.keyword][x.dataset] ?? 0)
  })

  it("every planted shift is recovered: each persona × origin's expected shift lies in the measured shift's 95% interval", async () => {
    const truth = async (p: string) => (await stageOutputs(w.cache, built, `organism_truth[${p}]`)).json<OrganismGroundTruth>("truth")
    const [neutral, villain, poet] = await Promise.all(["neutral", "villain", "poet"].map(truth))
    const truths: Record<string, OrganismGroundTruth> = { neutral: neutral!, villain: villain!, poet: poet! }
    const origin = new Map(neutral!.tasks.map((t) => [t.task_id, t.origin]))
    for (const [template, range] of Object.entries(scored)) {
      const answers = async (p: string) => {
        const rows = fromTable<{ task_id: string; value: number | null }>((await stageOutputs(w.cache, built, `parse[${template}|${p}]`)).table("scores"))
        const byTask = new Map<string, number[]>()
        for (const r of rows) if (r.value !== null) byTask.set(r.task_id, [...(byTask.get(r.task_id) ?? []), (r.value - range.min) / (range.max - range.min)])
        return new Map([...byTask].map(([t, v]) => [t, mean(v)]))
      }
      const expected = (p: string) =>
        new Map(truths[p]!.expected.filter((e) => e.template_id === template && e.persona_id === p).map((e) => [e.task_id, (e.expected_value - range.min) / (range.max - range.min)]))
      const base = await answers("neutral")
      for (const p of ["villain", "poet"]) {
        const own = await answers(p)
        for (const o of origins) {
          const tasks = [...own.keys()].filter((t) => origin.get(t) === o && base.has(t))
          const row = summary.planted.find((x: any) => x.persona === p && x.template === template && x.dataset === o)
          // The report's numbers, recomputed from the stages' outputs.
          expect(row.measured_shift.estimate).toBeCloseTo(mean(tasks.map((t) => own.get(t)! - base.get(t)!)), 12)
          expect(row.expected_shift).toBeCloseTo(mean(tasks.map((t) => expected(p).get(t)! - expected("neutral").get(t)!)), 12)
          const what = `${p} ${template} ${o}: expected ${row.expected_shift} vs measured ${JSON.stringify(row.measured_shift)}`
          if (row.planted_valence_shift === 0) {
            // Nothing planted: the system prompt alone barely moves the expected answers, and the measurement agrees (an
            // interval of one point, every answer alike under both personas, cannot hold a shift of a few thousandths).
            expect(Math.abs(row.expected_shift), what).toBeLessThan(0.02)
            if (row.recovered === null) expect(Math.abs(row.measured_shift.estimate - row.expected_shift), what).toBeLessThan(0.02)
            else expect(row.recovered, what).toBe(true)
          } else {
            // Planted: the expected answers move in the planted direction, and the measured shift's interval holds them.
            expect(Math.sign(row.expected_shift), what).toBe(Math.sign(row.planted_valence_shift))
            expect(Math.abs(row.expected_shift), what).toBeGreaterThan(0.1)
            expect(row.recovered, what).toBe(true)
            expect(row.measured_shift.lo).toBeLessThanOrEqual(row.expected_shift)
            expect(row.measured_shift.hi).toBeGreaterThanOrEqual(row.expected_shift)
          }
        }
      }
    }
  })

  it("the probe tracks the on-direction persona's shift (r > 0.8) and not the off-direction one's (its interval holds 0), and the report says so", () => {
    const layer = shipped.activations.layers[0]
    for (const template of Object.keys(scored)) {
      const transfer = (p: string) => summary.transfer.find((x: any) => x.template === template && x.persona === p && x.layer === layer)
      expect(transfer("villain").shift.in_span.pearson_r.estimate).toBeGreaterThan(0.8)
      expect(transfer("villain").verdict).toBe("tracks")
      const poet = transfer("poet").shift.in_span.pearson_r
      expect(poet.lo).toBeLessThanOrEqual(0)
      expect(poet.hi).toBeGreaterThanOrEqual(0)
      expect(transfer("poet").verdict).toBe("does_not_track")
    }
    const findings = fs.readFileSync(path.join(out(), "README.md"), "utf8").split("## Ratings by persona")[0]!
    const line = (p: string) => findings.split("\n").find((l) => l.startsWith(`- **${p}**`))!
    expect(line("villain")).toContain("the probe tracks its shift on qualitative_post_v1 at layer 1")
    expect(line("villain")).toContain("should track its shift (as found)")
    expect(line("poet")).toContain("the probe does not track its shift on qualitative_post_v1 at layer 1")
    expect(line("poet")).toContain("should not track its shift (as found)")
  })

  it("adding a fourth persona to the built cache executes only that persona's stages and the report", async () => {
    w.writeConfig({ ...shipped, personas: [...shipped.personas, { id: "critic", system: "You are a critic." }] })
    const added = await w.build("reports/personas")
    const executed = added.stages.filter((s) => s.status === "executed").map((s) => s.stage).sort()
    const templates = shipped.templates as string[]
    expect(executed).toEqual(
      [
        "organism_truth[critic]", "complete[critic]",
        ...templates.flatMap((t) => [`elicit[${t}|critic]`, `parse[${t}|critic]`]),
        ...Object.keys(scored).flatMap((t) => [`activations[${t}|critic]`, `probe_transfer[${t}|critic@1]`]),
        "utilities[revealed_v1|critic]",
        "report_personas[personas]"
      ].sort()
    )
  }, 1_800_000)
})
