import { beforeAll, describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { sharedPath } from "../support/sharedData"
import { experimentWorkspace, tinyExperiment } from "../support/experiment"

const files = ["alpaca", "bailbench", "math", "wildchat"].map((name) => [name, sharedPath(`tasks/${name}.jsonl`)] as const)
const missing = files.some(([, file]) => file === undefined)

describe.skipIf(missing)("the measurement stages on the shared public task samples", () => {
  const w = experimentWorkspace()
  let built: Awaited<ReturnType<typeof w.build>>

  beforeAll(async () => {
    w.writeConfig({
      ...tinyExperiment,
      sample: { perOrigin: 4 },
      datasets: files.map(([name, file]) => ({ name, path: file })),
      templates: ["qualitative_post_v1", "stated_pre_v1", "revealed_v1"],
      elicitation: { samples: 2, maxTokens: 8, pairsPerTask: 1 }
    })
    built = await w.build("reports/parsing")
  }, 600_000)

  it("loads every file, samples per origin, completes, elicits and parses every template", () => {
    const byStage = Object.fromEntries(built.stages.map((s) => [s.stage, s]))
    expect(byStage["tasks[alpaca]"]!.rows).toBe(900)
    expect(byStage["tasks[math]"]!.rows).toBe(400)
    expect(byStage["sample"]!.rows).toBe(16)
    expect(byStage["complete"]!.rows).toBe(16)
    expect(byStage["parse[stated_pre_v1]"]!.rows).toBe(32)
    const summary = JSON.parse(fs.readFileSync(path.join(w.out, "reports/parsing/summary.json"), "utf8")).summary
    const stated = summary.templates.find((t: { template: string }) => t.template === "stated_pre_v1")
    expect(stated.total).toBe(32)
    expect(stated.tiers.exact + stated.tiers.refusal + stated.tiers.model + stated.tiers.failed).toBe(32)
    const revealed = summary.templates.find((t: { template: string }) => t.template === "revealed_v1")
    // Each pair is asked in both orders, so the answers come in pairs.
    expect(revealed.total % 2).toBe(0)
  })
})
