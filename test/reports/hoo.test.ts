import { beforeAll, describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
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
        "activations[stated_pre_v1]", "elicit[stated_pre_v1]", "organism_truth", "parse[stated_pre_v1]", "probe_eval[stated_pre_v1@1]",
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
