import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { hashValue } from "../../core/Key"
import { prepare } from "../../pipeline/BuildTarget"
import { experimentConfig } from "../../pipeline/Config"

/** Every node of a target's resolved graph on a config: id → [stage, hash of key parameters, inputs], plus its config paths. */
const resolved = (target: string, config: unknown) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prefpipe-graph-"))
  const file = path.join(dir, "experiment.json")
  fs.writeFileSync(file, JSON.stringify(config))
  return Effect.runPromise(prepare({ target, spec: experimentConfig, config: { file } }))
    .then(({ graph }) => graph)
    .finally(() => fs.rmSync(dir, { recursive: true, force: true }))
}

const fingerprint = (graph: Awaited<ReturnType<typeof resolved>>, rename: (id: string) => string = (id) => id) =>
  Object.fromEntries(
    [...graph.nodes.entries()].map(([id, n]) => [
      rename(id),
      [n.node.stage.name, hashValue(n.keyParams), Object.entries(n.inputs).map(([k, v]) => `${k}:${rename(v)}`).sort()]
    ])
  )

const base = { templates: ["qualitative_post_v1", "stated_pre_v1"], steering: { coefficients: [-1, 0, 1] } }

describe("the experiment graph's persona axis", () => {
  it("one persona listed explicitly keys every measurement stage exactly as `system` does: only labels change", async () => {
    const implicit = await resolved("reports/week", { ...base, system: "You are terse." })
    const explicit = await resolved("reports/week", { ...base, personas: [{ id: "default", system: "You are terse." }] })
    const unlabel = (id: string) => id.replace(/\|default(?=[@\]])/, "").replace(/^(complete|organism_truth)\[default\]$/, "$1")
    // Reports print the config, which now lists personas; every stage below them is the same.
    const measurements = (f: Record<string, unknown>) => Object.fromEntries(Object.entries(f).filter(([id]) => !id.startsWith("report_")))
    expect(measurements(fingerprint(explicit, unlabel))).toEqual(measurements(fingerprint(implicit)))
    expect([...explicit.nodes.keys()]).toContain("elicit[qualitative_post_v1|default]")
  })

  it("the trained persona feeds every single-persona report, with its own system prompt", async () => {
    const personas = [{ id: "neutral", system: "" }, { id: "villain", system: "You are a villain." }]
    const graph = await resolved("reports/week", { ...base, personas, probes: { trainPersona: "villain" } })
    const ids = [...graph.nodes.keys()]
    // reports/week reads only the trained persona's column.
    expect(ids.filter((id) => id.includes("|neutral"))).toEqual([])
    expect(graph.nodes.get("report_hoo[hoo]")!.inputs["eval:qualitative_post_v1@1"]).toBe("probe_eval[qualitative_post_v1|villain@1]")
    const steer = graph.nodes.get("steer[qualitative_post_v1@1]")!
    expect((steer.params as { system: string }).system).toBe("You are a villain.")
    expect(steer.node.configPaths!.system).toBe("personas.1.system")
    expect(steer.inputs.completions).toBe("complete[villain]")
    expect((graph.nodes.get("elicit[stated_pre_v1|villain]")!.params as { system: string }).system).toBe("You are a villain.")
    expect(graph.nodes.get("elicit[stated_pre_v1|villain]")!.node.configPaths!.system).toBe("personas.1.system")
    // The choice of training persona is the graph's, not a parameter of probe_eval (which would rerun every probe).
    expect(JSON.stringify(graph.nodes.get("probe_eval[qualitative_post_v1|villain@1]")!.keyParams)).not.toContain("trainPersona")
  })
})
