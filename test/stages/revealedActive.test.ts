import { beforeAll, describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { decodeParquet } from "../../cache/TableCodecs"
import { fromTable } from "../../stages/tables"
import { spearman } from "../../stats/metrics"
import { experimentWorkspace } from "../support/experiment"

const supportDir = path.resolve(__dirname, "../support")

describe("revealed preferences by active learning on the organism", () => {
  const w = experimentWorkspace()
  let fit: { rounds: number; converged: boolean; comparisons: number; utilities: Record<string, number> }
  let comparisons: Array<{ task_a: string; task_b: string; choice: string }>
  let valences: Map<string, number>

  beforeAll(async () => {
    w.writeConfig({ sample: { perOrigin: 8 }, templates: ["revealed_v1"], elicitation: { maxTokens: 4 } })
    await w.build("targets/active", supportDir)
    fit = JSON.parse(fs.readFileSync(path.join(w.out, "targets/active/fit.json"), "utf8"))
    comparisons = fromTable(decodeParquet(fs.readFileSync(path.join(w.out, "targets/active/comparisons.parquet"))))
    const truth = JSON.parse(fs.readFileSync(path.join(w.out, "targets/active/truth.json"), "utf8")) as { tasks: Array<{ task_id: string; valence: number }> }
    valences = new Map(truth.tasks.map((t) => [t.task_id, t.valence]))
  }, 600_000)

  it("recovers the planted order from far fewer comparisons than all pairs, and stops when fits agree", () => {
    const ids = Object.keys(fit.utilities)
    expect(ids).toHaveLength(32)
    const rho = spearman(ids.map((id) => fit.utilities[id]!), ids.map((id) => valences.get(id)!))
    // Over experiment seeds 1-5 the recovery from this budget ranges over 0.80-0.92 (0.73-0.93 with the organism
    // before its vocabulary became fixed); 0.83 at the default seed.
    expect(rho).toBeGreaterThanOrEqual(0.8)
    expect(fit.comparisons).toBe(comparisons.length)
    expect(fit.comparisons).toBeLessThan(12 * 40 + 32)
    expect(fit.rounds).toBeGreaterThan(1)
  })

  it("shows each pair in both orders over the rounds, so position bias averages out", () => {
    const first = comparisons.filter((c) => c.choice !== "refusal")
    const shownFirstWins = first.filter((c) => c.choice === "a").length / first.length
    expect(shownFirstWins).toBeGreaterThan(0.3)
    expect(shownFirstWins).toBeLessThan(0.7)
  })
})
