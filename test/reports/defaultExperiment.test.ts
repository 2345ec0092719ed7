/**
 * The embedded default experiment (experiments/default.json, every other field at its default) through the real
 * engine: a template edit that brings new words, and an added template, rerun that template's column (its reliability
 * included) and the report only. The organism is a fixed model (its spec, seed and task sets), so it and the other
 * template's stages stay cached; the ground truth, which holds every template's expected answers, is recomputed.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { experimentWorkspace, shippedTemplate } from "../support/experiment"

const defaultConfig = JSON.parse(fs.readFileSync(path.resolve(__dirname, "../../experiments/default.json"), "utf8")) as {
  templates: string[]
}
const layers = [0, 1, 2]
const column = (id: string) => [
  `activations[${id}]`,
  `elicit[${id}]`,
  `parse[${id}]`,
  `reliability[${id}]`,
  ...layers.map((l) => `probe_eval[${id}@${l}]`),
  ...layers.map((l) => `content_probe[${id}@${l}|tfidf]`)
]
const rerun = (build: { stages: ReadonlyArray<{ stage: string; status: string }> }) =>
  build.stages.filter((s) => s.status !== "cached").map((s) => s.stage).sort()

describe("template edits on the default experiment", () => {
  const w = experimentWorkspace()
  const [qualitativeId, statedId] = defaultConfig.templates as [string, string]
  const stated = shippedTemplate(statedId)
  let first: Awaited<ReturnType<typeof w.build>>

  beforeAll(async () => {
    expect(defaultConfig.templates).toEqual(["qualitative_post_v1", "stated_pre_v1"])
    w.writeConfig(defaultConfig)
    first = await w.build("reports/hoo")
  }, 900_000)
  afterAll(() => fs.rmSync(w.dir, { recursive: true, force: true }))

  it("builds the default report with one organism for both templates", () => {
    expect(first.executed).toBe(first.stages.length)
    expect(first.stages.map((s) => s.stage)).toEqual(expect.arrayContaining(["organism", "organism_truth", ...column(qualitativeId), ...column(statedId)]))
  })

  it("a reworded template with words no task or template used reruns only its own column and the report", async () => {
    const text = "Kindly rate how strongly you would relish undertaking this chore, from 1 to 10.\n\nTask: {task}\n\nAnswer with one number."
    w.writeConfig({ ...defaultConfig, templates: [qualitativeId, { ...stated, text }] })
    const planned = await w.plan("reports/hoo")
    expect(planned.stages.find((s) => s.stage === `elicit[${statedId}]`)!.reasons).toContainEqual(
      expect.objectContaining({ kind: "param", path: "templates.1.text" })
    )
    const edited = await w.build("reports/hoo")
    expect(rerun(edited)).toEqual([...column(statedId), "organism_truth", "report_hoo[hoo]"].sort())
    const status = new Map(edited.stages.map((s) => [s.stage, s.status]))
    expect(status.get("organism")).toBe("cached")
    expect(status.get("complete")).toBe("cached")
    expect(status.get("content_tfidf")).toBe("cached")
    for (const stage of column(qualitativeId)) expect(status.get(stage), stage).toBe("cached")
  }, 900_000)

  it("a third template runs only its own column and the report", async () => {
    const third = shippedTemplate("qualitative_post_v2")
    w.writeConfig({ ...defaultConfig, templates: [qualitativeId, statedId, third] })
    const added = await w.build("reports/hoo")
    expect(rerun(added)).toEqual([...column(third.id), "organism_truth", "report_hoo[hoo]"].sort())
    const status = new Map(added.stages.map((s) => [s.stage, s.status]))
    expect(status.get("organism")).toBe("cached")
    expect(status.get("content_tfidf")).toBe("cached")
    for (const stage of [...column(qualitativeId), ...column(statedId)]) expect(status.get(stage), stage).toBe("cached")
  }, 900_000)
})
