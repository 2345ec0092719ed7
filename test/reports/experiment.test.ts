import { describe, expect, it } from "@effect/vitest"
import { Schema } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { ExperimentConfig } from "../../pipeline/Config"
import { projectRoot } from "../../pipeline/Target"
import { experimentProblems } from "../../reports/experiment"
import { sharedPath } from "../support/sharedData"
import { experimentWorkspace, shippedTemplate } from "../support/experiment"

const decode = (overrides: Record<string, unknown>) =>
  Schema.decodeUnknownSync(ExperimentConfig)({ templates: [shippedTemplate("qualitative_post_v1"), shippedTemplate("stated_pre_v1")], ...overrides })

describe("experimentProblems", () => {
  it("names every layer the model does not have, in activations and in steering", () => {
    expect(experimentProblems(decode({ activations: { layers: [0, 7] }, steering: { layers: [3] } }))).toEqual([
      { field: "activations.layers.1", reason: "layer 7 does not exist: the model has 3 decoder blocks, so layers 0-2" },
      { field: "steering.layers.0", reason: "layer 3 does not exist: the model has 3 decoder blocks, so layers 0-2" }
    ])
    expect(experimentProblems(decode({ model: { kind: "organism", spec: { layers: 8 } }, activations: { layers: [0, 7] }, steering: { layers: [7] } }))).toEqual([])
  })

  it("names unknown selectors, and eot with a pre-task template", () => {
    expect(experimentProblems(decode({ activations: { selectors: ["prompt_last", "turn_boundary:2", "middle"] } }))).toEqual([
      { field: "activations.selectors.2", reason: expect.stringMatching(/^unknown selector "middle" \(known: last, first, mean, prompt_last/) }
    ])
    expect(experimentProblems(decode({ activations: { selectors: ["eot"] } }))).toEqual([
      { field: "activations.selectors.0", reason: "eot is the end of the model's own turn, which pre-task prompts do not have (stated_pre_v1)" }
    ])
    expect(experimentProblems(decode({ templates: [shippedTemplate("qualitative_post_v1")], activations: { selectors: ["eot"] } }))).toEqual([])
  })

  const stories = sharedPath("models/stories260K-hf")
  it.skipIf(stories === undefined)("reads a checkpoint's layers from its config.json (stories260K: 5 blocks)", () => {
    const config = decode({ model: { kind: "checkpoint", path: stories! }, activations: { layers: [4, 5] } })
    expect(experimentProblems(config)).toEqual([{ field: "activations.layers.1", reason: "layer 5 does not exist: the model has 5 decoder blocks, so layers 0-4" }])
  })
})

describe("the README's example experiment", () => {
  it("validates and plans reports/hoo as written (paths relative to experiments/)", async () => {
    const readme = fs.readFileSync(path.join(projectRoot, "README.md"), "utf8")
    const block = /## Experiments[\s\S]*?```json\n([\s\S]*?)\n```/.exec(readme)![1]!
    const example = JSON.parse(block) as { datasets: Array<{ path?: string }> }
    const datasets = example.datasets.map((d) => (d.path === undefined ? d : { ...d, path: path.resolve(projectRoot, "experiments", d.path) }))
    for (const d of datasets) if (d.path !== undefined) expect(fs.existsSync(d.path), d.path).toBe(true)
    const w = experimentWorkspace()
    try {
      w.writeConfig({ ...example, datasets })
      const planned = await w.plan("reports/hoo")
      expect(planned.stages.map((s) => s.stage)).toContain("probe_eval[stated_post_v1@2]")
    } finally {
      fs.rmSync(w.dir, { recursive: true, force: true })
    }
  })
})
