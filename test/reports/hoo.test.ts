import { beforeAll, describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { hooFindings } from "../../reports/hoo"
import { experimentWorkspace, pngSize, readCsv, shippedTemplate, tinyExperiment } from "../support/experiment"

const template = (id: string) => shippedTemplate(id) as { id: string; text: string }

describe("reports/hoo end to end on the organism", () => {
  const w = experimentWorkspace()
  const qualitative = template("qualitative_post_v1")
  const stated = template("stated_pre_v1")
  const config = { ...tinyExperiment, templates: [qualitative, stated], content: { providers: ["tfidf", "model"] } }
  let first: Awaited<ReturnType<typeof w.build>>

  beforeAll(async () => {
    w.writeConfig(config)
    first = await w.build("reports/hoo")
  }, 600_000)

  it("builds every stage cold and writes the promised files", () => {
    expect(first.executed).toBe(first.stages.length)
    const out = path.join(w.out, "reports/hoo")
    for (const file of ["README.md", "index.html", "summary.json", "hoo.csv", "hoo.parquet", "train2test2.csv", "probes.parquet"]) {
      expect(fs.statSync(path.join(out, file)).size).toBeGreaterThan(0)
    }
    const written = JSON.parse(fs.readFileSync(path.join(out, "summary.json"), "utf8"))
    expect(written.build.hash).toBe(first.build)
    const summary = written.summary
    expect(summary.probes.map((p: { template: string; layer: number }) => `${p.template}@${p.layer}`)).toEqual(["qualitative_post_v1@1", "stated_pre_v1@1"])
    const heldOut = summary.probes[1].held_out
    expect(Object.keys(heldOut).sort()).toEqual(["alpaca", "bailbench", "math", "wildchat"])
    for (const metric of ["r2", "r2_mean_adjusted", "pearson_r"]) {
      const m = heldOut.math[metric]
      expect(m.lo).toBeLessThanOrEqual(m.estimate)
      expect(m.hi).toBeGreaterThanOrEqual(m.estimate)
    }
    // Mean adjustment can only help: it removes the offset part of the squared error.
    for (const probe of summary.probes) {
      for (const h of Object.values(probe.held_out) as Array<{ r2: { estimate: number }; r2_mean_adjusted: { estimate: number } }>) {
        expect(h.r2_mean_adjusted.estimate).toBeGreaterThanOrEqual(h.r2.estimate - 1e-12)
      }
    }
    expect(fs.readFileSync(path.join(out, "README.md"), "utf8")).toContain(first.build)
    const png = pngSize(fs.readFileSync(path.join(out, "hoo_stated_pre_v1_L1.png")))
    expect(png.width).toBeGreaterThan(500)
    expect(png.height).toBeGreaterThan(300)
  })

  it("opens with findings from its numbers: per template, held-out r and R² averaged over datasets with intervals, and what they mean", () => {
    const readme = fs.readFileSync(path.join(w.out, "reports/hoo/README.md"), "utf8")
    const headings = readme.split("\n").filter((l) => l.startsWith("## "))
    expect(headings[0]).toBe("## Findings")
    const findings = readme.slice(readme.indexOf("## Findings"), readme.indexOf("## Held-one-origin-out"))
    const summary = JSON.parse(fs.readFileSync(path.join(w.out, "reports/hoo/summary.json"), "utf8")).summary
    for (const p of summary.probes) {
      const r = p.mean_held_out.pearson_r
      const groups = Object.values(p.held_out) as Array<{ pearson_r: { estimate: number } }>
      expect(r.n).toBe(4)
      expect(r.estimate).toBeCloseTo(groups.reduce((a, g) => a + g.pearson_r.estimate, 0) / 4, 12)
      expect(findings).toMatch(new RegExp(`^${p.template}: `, "m"))
    }
    expect(findings).toContain("**generalization**")
    expect(findings).toContain("![Held-out Pearson r, averaged over held-out origins](held_out_pearson_r.png)")
    expect(fs.existsSync(path.join(w.out, "reports/hoo/generalization.csv"))).toBe(true)
    // Train-2-test-2 rows are correlations from few tasks too.
    expect(readme).toMatch(/`few-tasks`: stated_pre_v1 layer 1, train-2-test-2 trained on alpaca\+bailbench: correlation from \d+ tasks/)
  })

  it("prints one noise ceiling and single-sample r per template, the same in hoo, probe_r2 and seed_sensitivity", async () => {
    await w.build("reports/probe_r2")
    await w.build("reports/seed_sensitivity")
    const summary = (name: string) => JSON.parse(fs.readFileSync(path.join(w.out, `reports/${name}/summary.json`), "utf8")).summary
    const hoo = summary("hoo").probes
    const r2 = summary("probe_r2").probes
    const seeds = summary("seed_sensitivity").templates
    for (const id of ["qualitative_post_v1", "stated_pre_v1"]) {
      const ceiling = hoo.find((p: { template: string }) => p.template === id).noise_ceiling
      const r1 = hoo.find((p: { template: string }) => p.template === id).single_sample_r.estimate
      expect(Number.isFinite(ceiling)).toBe(true)
      expect(r2.find((p: { template: string }) => p.template === id).noise_ceiling).toBe(ceiling)
      expect(seeds.find((t: { template: string }) => t.template === id).noise_ceiling).toBe(ceiling)
      expect(seeds.find((t: { template: string }) => t.template === id).single_sample_r.estimate).toBe(r1)
    }
  })

  it("sets the content baselines beside every held-out R², from the probe's own held-out tasks", () => {
    const out = path.join(w.out, "reports/hoo")
    const summary = JSON.parse(fs.readFileSync(path.join(out, "summary.json"), "utf8")).summary
    for (const probe of summary.probes) {
      expect(Object.keys(probe.content).sort()).toEqual(["model", "tfidf"])
      for (const provider of ["model", "tfidf"]) {
        for (const kind of ["content_only", "content_orthogonal"]) {
          const heldOut = probe.content[provider][kind].held_out
          expect(Object.keys(heldOut).sort()).toEqual(Object.keys(probe.held_out).sort())
          for (const [group, h] of Object.entries<any>(heldOut)) expect(h.n).toBe(probe.held_out[group].n)
        }
      }
    }
    // The held-out table carries the first provider's baselines; the baselines table every provider's.
    const hoo = readCsv(path.join(out, "hoo.csv"))
    const baselines = readCsv(path.join(out, "content_baselines.csv"))
    expect(baselines).toHaveLength(2 * hoo.length)
    for (const row of hoo) {
      const tfidf = baselines.find((b) => b.template === row.template && b.held_out === row.held_out && b.provider === "tfidf")!
      expect(row.content_only_r2).toBe(tfidf.content_only_r2)
      expect(row.content_orthogonal_r2).toBe(tfidf.content_orthogonal_r2)
      expect(tfidf.r2).toBe(row.r2)
    }
    expect(pngSize(fs.readFileSync(path.join(out, "content_baselines_stated_pre_v1_L1.png"))).width).toBe(640)
  })

  it("reruns nothing when nothing changed", async () => {
    const again = await w.build("reports/hoo")
    expect(again.executed).toBe(0)
    expect(again.build).toBe(first.build)
  })

  it("reruns exactly the stages downstream of one template's changed text", async () => {
    const reworded = { ...stated, text: stated.text.replace("Please rate how much", "Please, please rate how much") }
    w.writeConfig({ ...config, templates: [qualitative, reworded] })
    const planned = await w.plan("reports/hoo")
    const why = planned.stages.find((s) => s.stage === "elicit[stated_pre_v1]")!
    expect(why.reasons).toContainEqual(expect.objectContaining({ kind: "param", path: "templates.1.text" }))
    const changed = await w.build("reports/hoo")
    const ran = changed.stages.filter((s) => s.status !== "cached").map((s) => s.stage).sort()
    expect(ran).toEqual(
      [
        "activations[stated_pre_v1]", "elicit[stated_pre_v1]", "organism_truth", "parse[stated_pre_v1]", "probe_eval[stated_pre_v1@1]", "reliability[stated_pre_v1]",
        "content_probe[stated_pre_v1@1|tfidf]", "content_probe[stated_pre_v1@1|model]", "report_hoo[hoo]"
      ].sort()
    )
    // The organism does not depend on the templates; its ground truth does.
    expect(changed.stages.find((s) => s.stage === "organism")!.status).toBe("cached")
    // Content features depend on the tasks (and the model's input embeddings), never on a template.
    for (const stage of ["content_tfidf", "content_model"]) expect(changed.stages.find((s) => s.stage === stage)!.status).toBe("cached")
    expect(changed.stages.filter((s) => s.stage.includes("qualitative")).every((s) => s.status === "cached")).toBe(true)
  })

  it("plans a change of the tf-idf width as a rerun of the tf-idf features and their probes only, naming the field", async () => {
    w.writeConfig({ ...config, content: { ...config.content, tfidf: { width: 512 } } })
    const planned = await w.plan("reports/hoo")
    const running = planned.stages.filter((s) => s.run).map((s) => s.stage).sort()
    expect(running).toEqual(["content_probe[qualitative_post_v1@1|tfidf]", "content_probe[stated_pre_v1@1|tfidf]", "content_tfidf", "report_hoo[hoo]"])
    expect(planned.stages.find((s) => s.stage === "content_tfidf")!.reasons).toContainEqual(expect.objectContaining({ kind: "param", path: "content.tfidf.width" }))
  })
})

describe("hooFindings", () => {
  const m = (estimate: number, lo: number, hi: number) => ({ estimate, lo, hi, n: 4 })
  it("says a probe generalizes in ranking but misses the held-out group's mean, or that no layer generalizes", () => {
    const text = hooFindings(
      [
        { template: "stated", layer: 0, r2: m(-1, -1.6, -0.4), r2_mean_adjusted: m(0.03, 0, 0.06), pearson_r: m(0.2, 0.1, 0.3) },
        { template: "stated", layer: 1, r2: m(0.28, 0.02, 0.53), r2_mean_adjusted: m(0.78, 0.72, 0.83), pearson_r: m(0.88, 0.85, 0.91) },
        { template: "binary", layer: 1, r2: m(-0.4, -0.9, 0.1), r2_mean_adjusted: m(0.01, -0.05, 0.07), pearson_r: m(0.05, -0.1, 0.2) }
      ],
      "origin",
      (t) => (t === "stated" ? 0.886 : null)
    )
    expect(text).toContain(
      "stated: the probe at layer 1 generalizes to unseen origins, Pearson r 0.880 [0.850, 0.910] and mean-adjusted R² 0.780 [0.720, 0.830] (noise ceiling 0.886), averaged over 4 held-out origins. " +
        "Standard R² is lower, 0.280 [0.0200, 0.530]: the probe ranks an unseen origin's tasks but misses that origin's mean, so its predictions are comparable within an origin, not across origins."
    )
    expect(text).toContain("binary: no layer's probe generalizes to an unseen origin; the best, layer 1, reaches Pearson r 0.0500 [-0.100, 0.200] averaged over 4 held-out origins, an interval that includes 0.")
    const other = hooFindings(
      [
        { template: "open", layer: 1, r2: m(-3, -5, -1), r2_mean_adjusted: m(-0.2, -0.3, -0.1), pearson_r: m(-0.39, -0.66, -0.13) },
        { template: "calibrated", layer: 2, r2: m(0.7, 0.6, 0.8), r2_mean_adjusted: m(0.75, 0.65, 0.85), pearson_r: m(0.87, 0.8, 0.92) }
      ],
      "topic",
      () => null
    )
    expect(other).toContain("open: no layer's probe generalizes to an unseen topic; even the best, layer 1, anti-correlates with the held-out targets, Pearson r -0.390 [-0.660, -0.130]")
    expect(other).toContain("calibrated: the probe at layer 2 generalizes to unseen topics, Pearson r 0.870 [0.800, 0.920] and mean-adjusted R² 0.750 [0.650, 0.850], averaged over 4 held-out topics. Standard R² is close to it, 0.700 [0.600, 0.800]: the probe also predicts an unseen topic's mean.")
  })
})
