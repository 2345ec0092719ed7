import { beforeAll, describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { experimentWorkspace, pngSize, shippedTemplate, tinyExperiment } from "../support/experiment"

const template = (id: string) => shippedTemplate(id) as { id: string; text: string }

describe("reports/hoo end to end on the organism", () => {
  const w = experimentWorkspace()
  const qualitative = template("qualitative_post_v1")
  const stated = template("stated_pre_v1")
  const config = { ...tinyExperiment, templates: [qualitative, stated] }
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
      ["activations[stated_pre_v1]", "elicit[stated_pre_v1]", "organism_truth", "parse[stated_pre_v1]", "probe_eval[stated_pre_v1@1]", "report_hoo[hoo]"].sort()
    )
    // The organism does not depend on the templates; its ground truth does.
    expect(changed.stages.find((s) => s.stage === "organism")!.status).toBe("cached")
    expect(changed.stages.filter((s) => s.stage.includes("qualitative")).every((s) => s.status === "cached")).toBe(true)
  })
})
