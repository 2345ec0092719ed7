import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { execFile, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { CacheDir } from "../../cache/CacheDir"
import { collectGarbage } from "../../cache/Gc"
import { RowMemo } from "../../cache/Memo"
import { objectPath } from "../../cache/Objects"
import { getAction } from "../../cache/Actions"
import { buildJson, buildTarget, planTarget } from "../../pipeline/BuildTarget"
import { formatReason } from "../../pipeline/Plan"
import { Progress } from "../../pipeline/Progress"
import { reproduce, showHash } from "../../pipeline/Provenance"
import { demoSpec } from "../support/demoStages"

const supportDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../support")

const workspace = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prefpipe-build-"))
  const cache = path.join(dir, "cache")
  const config = path.join(dir, "experiment.json")
  const writeConfig = (value: unknown) => fs.writeFileSync(config, JSON.stringify(value))
  const layer = Layer.mergeAll(
    CacheDir.layer(cache),
    RowMemo.layerSqlite.pipe(Layer.provide(CacheDir.layer(cache))),
    Progress.layerSilent
  )
  const run = <A, E>(effect: Effect.Effect<A, E, any>) => Effect.runPromise(Effect.scoped(Effect.provide(effect, layer)) as Effect.Effect<A, E>)
  const build = () =>
    run(
      buildTarget({ target: "targets/demo", spec: demoSpec, config: { file: config }, concurrency: 2, outRoot: path.join(dir, "out"), root: supportDir })
    ).then(buildJson)
  const plan = () => run(planTarget({ target: "targets/demo", spec: demoSpec, config: { file: config }, root: supportDir }))
  return { dir, cache, config, writeConfig, run, build, plan }
}

const base = { count: 6, templates: { q1: { text: "how was it?", factor: 2 }, q2: { text: "rate it", factor: 3 } } }
const statuses = (b: ReturnType<typeof buildJson>) => Object.fromEntries(b.stages.map((s) => [s.stage, s.status]))

describe("build", () => {
  it("runs everything cold, nothing on an unchanged rebuild, and writes the root's files", async () => {
    const w = workspace()
    w.writeConfig(base)
    const first = await w.build()
    expect(first.executed).toBe(5)
    expect(fs.readFileSync(path.join(w.dir, "out/targets/demo/README.md"), "utf8")).toContain('"scale[q1]":42')
    const second = await w.build()
    expect(second.executed).toBe(0)
    expect(second.cached).toBe(5)
    expect(second.build).toBe(first.build)
  })

  it("reruns exactly the stages downstream of a changed template", async () => {
    const w = workspace()
    w.writeConfig(base)
    await w.build()
    w.writeConfig({ ...base, templates: { ...base.templates, q1: { text: "how was it?", factor: 5 } } })
    const changed = await w.build()
    expect(statuses(changed)).toEqual({
      numbers: "cached",
      "scale[q1]": "executed",
      "scale[q2]": "cached",
      total: "executed",
      report: "executed"
    })
  })

  it("stops propagation when a rerun yields identical bytes (early cutoff)", async () => {
    const w = workspace()
    w.writeConfig(base)
    await w.build()
    w.writeConfig({ ...base, label: "renamed" })
    const b = await w.build()
    expect(statuses(b)).toEqual({ numbers: "cutoff", "scale[q1]": "cached", "scale[q2]": "cached", total: "cached", report: "cached" })
    expect(b.cutoff).toBe(1)
  })

  it("plans without running and names the changed config field", async () => {
    const w = workspace()
    w.writeConfig(base)
    const cold = await w.plan()
    expect(cold.stages.every((s) => s.run)).toBe(true)
    await w.build()
    w.writeConfig({ ...base, templates: { ...base.templates, q2: { text: "rate it now", factor: 3 } } })
    const planned = await w.plan()
    const byStage = Object.fromEntries(planned.stages.map((s) => [s.stage, s]))
    expect(planned.stages.filter((s) => s.run).map((s) => s.stage)).toEqual(["scale[q2]", "total", "report"])
    expect(byStage["scale[q2]"]!.reasons).toEqual([{ kind: "param", path: "templates.q2.text", before: "rate it", after: "rate it now" }])
    expect(formatReason(byStage["total"]!.reasons[0]!)).toContain("scale[q2]")
    expect(fs.existsSync(path.join(w.cache, "builds", "log.jsonl"))).toBe(true)
  })

  it("detects a corrupt object, reports it, and rebuilds its producer", async () => {
    const w = workspace()
    w.writeConfig(base)
    const first = await w.build()
    const scaleKey = first.stages.find((s) => s.stage === "scale[q1]")!.key
    const action = await w.run(getAction(scaleKey))
    const file = objectPath(w.cache, action!.outputs["scaled"]!.hash)
    fs.chmodSync(file, 0o644)
    const bytes = fs.readFileSync(file)
    bytes[bytes.length - 20] ^= 0xff
    fs.writeFileSync(file, bytes)
    // Force the reader of the corrupt object to run: change a parameter of nothing but... the reader's own input set.
    w.writeConfig({ ...base, templates: { ...base.templates, q2: { text: "rate it", factor: 4 } } })
    const repaired = await w.build()
    expect(statuses(repaired)["scale[q1]"]).toBe("executed")
    expect(statuses(repaired)["total"]).toBe("executed")
    expect(fs.readFileSync(path.join(w.dir, "out/targets/demo/README.md"), "utf8")).toContain('"scale[q1]":42')
    // Truncation is caught by the cheap size check at lookup.
    const truncated = objectPath(w.cache, action!.outputs["scaled"]!.hash)
    fs.truncateSync(truncated, 10)
    const again = await w.build()
    expect(statuses(again)["scale[q1]"]).toBe("executed")
  })

  it("repairs several damaged inputs at once, and an input whose own input is damaged", async () => {
    const w = workspace()
    w.writeConfig(base)
    const first = await w.build()
    const keyOf = (stage: string) => first.stages.find((s) => s.stage === stage)!.key
    for (const [stage, output] of [["numbers", "numbers"], ["scale[q1]", "scaled"], ["scale[q2]", "scaled"]] as const) {
      const file = objectPath(w.cache, (await w.run(getAction(keyOf(stage))))!.outputs[output]!.hash)
      const bytes = fs.readFileSync(file)
      bytes[bytes.length - 20] ^= 0xff
      fs.writeFileSync(file, bytes)
    }
    // total must run and read both scales; rebuilding scale[q1] then reads the damaged numbers
    fs.rmSync(path.join(w.cache, "actions", keyOf("total").slice(0, 2), `${keyOf("total").slice(2)}.json`))
    const repaired = await w.build()
    expect(repaired.build).toBe(first.build)
    expect(statuses(repaired)).toMatchObject({ numbers: "executed", "scale[q1]": "executed", "scale[q2]": "executed", total: "executed" })
    expect(fs.readdirSync(path.join(w.cache, "quarantine/objects"), { recursive: true }).filter((f) => String(f).length > 3)).toHaveLength(3)
  })

  it("rejects an invalid config before any stage runs, naming the field", async () => {
    const w = workspace()
    w.writeConfig({ ...base, count: -2 })
    await expect(w.build()).rejects.toThrow(/field "count"/)
    expect(fs.existsSync(path.join(w.cache, "actions"))).toBe(false)
  })

  it("reproduces a recorded build from its snapshot, shows provenance, and collects garbage by reachability", async () => {
    const w = workspace()
    w.writeConfig(base)
    const first = await w.build()
    w.writeConfig({ ...base, count: 4 })
    await w.build()
    fs.rmSync(w.config)
    const report = await w.run(reproduce(first.build, demoSpec, { concurrency: 1, reuseCache: false, root: supportDir }))
    expect(report.identical).toBe(true)
    expect(report.stages).toHaveLength(5)
    const tree = await w.run(showHash(first.build.slice(0, 10)))
    expect(tree).toContain("scale[q1]")
    expect(tree).toContain('"factor":2')
    const gc = await w.run(collectGarbage(1))
    expect(gc.removedBuilds).toBe(1)
    expect(gc.removedActions).toBeGreaterThan(0)
    w.writeConfig({ ...base, count: 4 })
    const kept = await w.build()
    expect(kept.executed).toBe(0)
  })
})

const runDemo = (w: ReturnType<typeof workspace>, env: Record<string, string>) =>
  new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", path.join(supportDir, "runDemo.ts"), w.cache, w.config, path.join(w.dir, "out")], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d) => (stdout += d))
    child.stderr.on("data", (d) => (stderr += d))
    child.on("exit", (code) => resolve({ code, stdout, stderr }))
  })

describe("build across processes", () => {
  it("resumes a crashed stage from the rows already finished", async () => {
    const w = workspace()
    w.writeConfig({ count: 8, templates: { q1: { text: "t", factor: 2 } } })
    const rows = path.join(w.dir, "rows.log")
    const crashed = await runDemo(w, { DEMO_CRASH_AFTER: "3", DEMO_ROW_LOG: rows })
    expect(crashed.code).toBe(3)
    expect(fs.readFileSync(rows, "utf8").trim().split("\n")).toEqual(["n0", "n1", "n2"])
    const resumed = await runDemo(w, { DEMO_ROW_LOG: rows })
    expect(resumed.code).toBe(0)
    const computed = fs.readFileSync(rows, "utf8").trim().split("\n")
    expect(computed).toEqual(["n0", "n1", "n2", "n3", "n4", "n5", "n6", "n7"])
  })

  it("two concurrent builds compute each stage once", async () => {
    const w = workspace()
    w.writeConfig({ count: 5, delayMs: 60, templates: { q1: { text: "t", factor: 2 }, q2: { text: "u", factor: 3 } } })
    const runs = path.join(w.dir, "runs.log")
    const [a, b] = await Promise.all([runDemo(w, { DEMO_RUN_LOG: runs }), runDemo(w, { DEMO_RUN_LOG: runs })])
    expect([a.code, b.code], `${a.stderr}\n${b.stderr}`).toEqual([0, 0])
    const executed = fs.readFileSync(runs, "utf8").trim().split("\n").sort()
    expect(executed).toEqual(["numbers", "report", "scale[q1]", "scale[q2]", "total"])
    expect(JSON.parse(a.stdout).build).toBe(JSON.parse(b.stdout).build)
  })

  it("prints one clear error and exits non-zero for a bad config through the CLI", async () => {
    const w = workspace()
    fs.writeFileSync(w.config, JSON.stringify({ seed: "x" }))
    const result = await promisify(execFile)(
      process.execPath,
      ["--import", "tsx", path.resolve(supportDir, "../../pipeline/main.ts"), "plan", "reports/nonexistent", "--config", w.config, "--cache", w.cache]
    ).catch((e: { code: number; stderr: string }) => e)
    expect("code" in result && result.code).toBe(1)
    expect((result as { stderr: string }).stderr).toMatch(/^error: target reports\/nonexistent: no definition/m)
  })
})
