import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { getDefaultEnvironment, StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js"
import type { Progress as ProgressNotification } from "@modelcontextprotocol/sdk/types.js"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { parseResponse } from "../../elicitation/parse/Parse"
import { decodeTemplate, type ScoredTemplate } from "../../elicitation/Template"
import { projectRoot } from "../../pipeline/Target"
import { recordingServer } from "../support/recordingServer"

const serverScript = path.join(projectRoot, "test/pipeline/mcp/server.ts")
const tiny = { sample: { perOrigin: 5 }, templates: ["qualitative_post_v1"], elicitation: { samples: 2 }, activations: { layers: [1] }, probes: { bootstrap: 50 } }
const secret = "sk-test-0123456789abcdef"
const otherSecret = "other-secret-0123456789"

type Json = Record<string, any>
interface Stage {
  readonly stage: string
  readonly run: boolean
  readonly why: ReadonlyArray<string>
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "prefpipe-mcp-"))
const dirs = {
  root: projectRoot,
  templatesDir: path.join(tmp, "templates"),
  experimentsDir: path.join(tmp, "experiments"),
  cacheDir: path.join(tmp, "cache"),
  outDir: path.join(tmp, "out")
}
let stderr = ""
const client = new Client({ name: "prefpipe-test", version: "0" })
let firstPlan: Json
let built: Json
const progress: ProgressNotification[] = []

const call = async (name: string, args: Json = {}, options: Parameters<Client["callTool"]>[2] = {}) =>
  client.callTool({ name, arguments: args }, undefined, { timeout: 300_000, ...options })
const ok = async (name: string, args: Json = {}) => {
  const result = await call(name, args)
  if (result.isError === true) throw new Error(`${name} failed: ${JSON.stringify(result.content)}`)
  return result.structuredContent as Json
}
const failure = async (name: string, args: Json) => {
  const result = await call(name, args)
  expect(result.isError).toBe(true)
  return (result.content as Array<{ text: string }>)[0]!.text
}
const stagesOf = (plan: Json) => plan.stages as ReadonlyArray<Stage>

beforeAll(async () => {
  fs.cpSync(path.join(projectRoot, "templates"), dirs.templatesDir, { recursive: true })
  fs.cpSync(path.join(projectRoot, "experiments"), dirs.experimentsDir, { recursive: true })
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: ["--import", "tsx", serverScript, JSON.stringify(dirs)],
    cwd: projectRoot,
    env: { ...getDefaultEnvironment(), FAKE_API_KEY: secret, OTHER_SECRET_TOKEN: otherSecret },
    stderr: "pipe"
  })
  transport.stderr?.on("data", (chunk: Buffer) => void (stderr += chunk.toString()))
  // starting the server transpiles the whole engine; on a busy machine that outlasts the default 60 s
  await client.connect(transport, { timeout: 300_000 })
  firstPlan = await ok("plan", { target: "reports/hoo", overrides: tiny })
  built = await (async () => {
    const result = await call("build", { target: "reports/hoo", overrides: tiny }, { onprogress: (p) => void progress.push(p), resetTimeoutOnProgress: true })
    if (result.isError === true) throw new Error(`build failed: ${JSON.stringify(result.content)}\n${stderr}`)
    return result.structuredContent as Json
  })()
})

afterAll(async () => {
  await client.close()
  fs.rmSync(tmp, { recursive: true, force: true })
})

describe("pipeline mcp over stdio", () => {
  it("lists every tool with a JSON Schema derived from the config and template Schemas", async () => {
    const { tools } = await client.listTools()
    expect(tools.map((t) => t.name).sort()).toEqual(
      ["add_template", "build", "list_datasets", "list_targets", "list_templates", "parse_responses", "plan", "read_report", "show"]
    )
    const plan = tools.find((t) => t.name === "plan")!.inputSchema as Json
    expect(plan.required).toEqual(["target"])
    expect(Object.keys(plan.properties.overrides.properties)).toEqual(expect.arrayContaining(["sample", "templates", "elicitation", "probes"]))
    expect(plan.properties.overrides.properties.sample.required).toBeUndefined()
    const template = (tools.find((t) => t.name === "add_template")!.inputSchema as Json).properties.template
    expect(template.anyOf.map((a: Json) => a.properties.kind.enum[0])).toEqual(["qualitative", "stated", "open_ended", "revealed", "ranking"])
  })

  it("lists targets, templates and built-in datasets with their sizes", async () => {
    const { targets } = await ok("list_targets")
    expect(targets.map((t: Json) => t.target)).toContain("reports/hoo")
    const { templates } = await ok("list_templates")
    const ids = fs.readdirSync(path.join(projectRoot, "templates")).map((f) => f.replace(/\.json$/, ""))
    expect(templates.map((t: Json) => t.id)).toEqual(expect.arrayContaining(ids))
    const { datasets } = await ok("list_datasets")
    for (const d of datasets) {
      const lines = fs.readFileSync(path.join(projectRoot, "datasets/builtin", `${d.name}.jsonl`), "utf8").split("\n").filter((l) => l.trim() !== "")
      expect(d.tasks).toBe(lines.length)
    }
  })

  it("plans, builds with progress notifications, and plans nothing to run afterwards", async () => {
    expect(stagesOf(firstPlan).every((s) => s.run && s.why.length > 0)).toBe(true)
    expect(built.build).toMatch(/^[0-9a-f]{64}$/)
    expect(built.executed).toBe(firstPlan.run)
    const summary = JSON.parse(fs.readFileSync(path.join(dirs.outDir, "reports/hoo/summary.json"), "utf8"))
    expect(summary.build.hash).toBe(built.build)
    expect(built.summary).toEqual(summary.summary)
    expect(progress.length).toBeGreaterThan(0)
    expect(progress.every((p, i) => i === 0 || p.progress > progress[i - 1]!.progress)).toBe(true)
    expect(progress.at(-1)!.progress).toBe(firstPlan.run)
    const again = await ok("plan", { target: "reports/hoo", overrides: tiny })
    expect(again.run).toBe(0)
    const changed = await ok("plan", { target: "reports/hoo", overrides: { ...tiny, probes: { bootstrap: 60 } } })
    expect(stagesOf(changed).filter((s) => s.run && s.why.some((w) => w.includes("probes.bootstrap"))).map((s) => s.stage)).toEqual([
      "reliability[qualitative_post_v1]",
      "probe_eval[qualitative_post_v1@1]",
      "content_probe[qualitative_post_v1@1|tfidf]",
      "report_hoo[hoo]"
    ])
  })

  it("reads the report, its files as resources, and the build's provenance", async () => {
    const report = await ok("read_report", { report: "hoo" })
    expect(report.build).toBe(built.build)
    expect(report.readme).toContain(built.build)
    const { resources } = await client.listResources()
    expect(resources.map((r) => r.uri)).toEqual(expect.arrayContaining(built.resources))
    const summary = await client.readResource({ uri: `report://${built.build}/summary.json` })
    expect(JSON.parse((summary.contents[0] as { text: string }).text).build.hash).toBe(built.build)
    const png = built.resources.find((u: string) => u.endsWith(".png"))
    const image = await client.readResource({ uri: png })
    expect(image.contents[0]!.mimeType).toBe("image/png")
    expect(Buffer.from((image.contents[0] as { blob: string }).blob, "base64").subarray(1, 4).toString()).toBe("PNG")
    const { provenance } = await ok("show", { hash: built.build.slice(0, 12) })
    expect(provenance.split("\n")[0]).toBe(`build ${built.build}`)
    expect(provenance).toContain("report_hoo[hoo]")
  })

  it("adds a template and reports exactly the stages it adds", async () => {
    const base = JSON.parse(fs.readFileSync(path.join(projectRoot, "templates/qualitative_post_v1.json"), "utf8"))
    const template = { ...base, id: "qualitative_post_mcp", text: "Did you enjoy doing that task? Answer with one word: good or bad." }
    const added = await ok("add_template", { template, target: "reports/hoo", overrides: tiny })
    expect(added.id).toBe("qualitative_post_mcp")
    expect(added.templates).toEqual(["qualitative_post_v1", "qualitative_post_mcp"])
    expect(added.added.map((s: Stage) => s.stage).sort()).toEqual(
      ["activations[qualitative_post_mcp]", "content_probe[qualitative_post_mcp@1|tfidf]", "elicit[qualitative_post_mcp]", "parse[qualitative_post_mcp]", "probe_eval[qualitative_post_mcp@1]", "reliability[qualitative_post_mcp]"]
    )
    const rerun = added.rerun.map((s: Stage) => s.stage)
    expect(rerun).toContain("report_hoo[hoo]")
    expect(rerun).not.toContain("sample")
    expect(JSON.parse(fs.readFileSync(path.join(dirs.templatesDir, "qualitative_post_mcp.json"), "utf8"))).toEqual(template)
    expect(fs.existsSync(path.join(projectRoot, "templates/qualitative_post_mcp.json"))).toBe(false)
    const plan = await ok("plan", { target: "reports/hoo", overrides: { ...tiny, templates: added.templates } })
    const running = stagesOf(plan).filter((s) => s.run).map((s) => s.stage)
    expect(running).toEqual(expect.arrayContaining(added.added.map((s: Stage) => s.stage)))
    expect((await failure("add_template", { template })).toLowerCase()).toContain("exists")
  })

  it("parses responses with the template's tiers and never returns secret environment values", async () => {
    const responses = ["Good.", "bad", "I cannot answer that.", `my key is ${secret}`]
    const { results } = await ok("parse_responses", { template: "qualitative_post_v1", responses })
    const file = path.join(projectRoot, "templates/qualitative_post_v1.json")
    const template = Effect.runSync(decodeTemplate(file, JSON.parse(fs.readFileSync(file, "utf8")))) as ScoredTemplate
    for (const [i, response] of responses.entries()) {
      const expected = Effect.runSync(parseResponse(template, response))
      expect(results[i]).toMatchObject({ value: expected.value, normalized: expected.normalized, tier: expected.tier })
    }
    expect(results.map((r: Json) => r.tier)).toEqual(expect.arrayContaining(["exact", "refusal"]))
    expect(JSON.stringify(results)).not.toContain(secret)
    expect(results[3].response).toContain("[redacted FAKE_API_KEY]")
  })

  it("gives clear errors for a bad override, an unknown template and paths outside the project", async () => {
    expect(await failure("plan", { target: "reports/hoo", overrides: { ...tiny, sample: { perOrigin: -1 } } })).toMatch(
      /ConfigError: \S*experiments\/default\.json \+ overrides: field "sample\.perOrigin"/
    )
    expect(await failure("plan", { target: "reports/hoo", overrides: { ...tiny, sampel: {} } })).toContain("sampel")
    const unknown = await failure("build", { target: "reports/hoo", overrides: { ...tiny, templates: ["qualitative_post_v1", "no_such_template"] } })
    expect(unknown).toContain('field "templates.1"')
    expect(unknown).toContain("no_such_template")
    expect(await failure("parse_responses", { template: "no_such_template", responses: ["good"] })).toContain("qualitative_post_v1")
    expect(await failure("plan", { target: 42 })).toContain('argument "target"')
    for (const [tool, args] of [
      ["read_report", { report: "../../../etc" }],
      ["plan", { target: "../package" }],
      ["parse_responses", { template: "../experiments/default", responses: ["good"] }]
    ] as const) {
      expect(await failure(tool, args)).toMatch(/^OutsideFolder: refused: .* is outside /)
    }
    expect(await failure("plan", { target: "reports/hoo", experiment: "../package" })).toContain("not an experiment name")
    expect(await failure("plan", { target: "reports/hoo", overrides: { ...tiny, datasets: [{ name: "x", path: "../../etc/passwd" }] } })).toContain(
      "outside the project"
    )
    await expect(client.readResource({ uri: `report://${built.build}/../../../package.json` })).rejects.toThrow(/refused/)
    await expect(client.readResource({ uri: `report://${built.build}/nothing.md` })).rejects.toThrow(/wrote no file nothing\.md/)
  })

  it("cancels a build: the fiber is interrupted and the unfinished stage stays unrecorded", async () => {
    const overrides = { ...tiny, elicitation: { samples: 3 } }
    const controller = new AbortController()
    const cancelled = call("build", { target: "reports/hoo", overrides }, { signal: controller.signal, onprogress: () => controller.abort() })
    await expect(cancelled).rejects.toThrow()
    for (let i = 0; i < 600 && !stderr.includes("cancelled"); i++) await new Promise((r) => setTimeout(r, 100))
    expect(stderr).toContain("build of reports/hoo cancelled")
    const plan = await ok("plan", { target: "reports/hoo", overrides })
    const elicit = stagesOf(plan).find((s) => s.stage === "elicit[qualitative_post_v1]")!
    expect(elicit.run).toBe(true)
    expect(elicit.why.join(" ")).toContain("elicitation")
    expect(stagesOf(plan).find((s) => s.stage === "complete")!.run).toBe(false)
  })
})

describe("pipeline mcp keeps keys and files where they belong", () => {
  it("refuses overrides that set or change a baseUrl, an apiKeyEnv or the allowlist, at any depth", async () => {
    const server = await recordingServer()
    try {
      for (const [overrides, field] of [
        [{ ...tiny, judge: { baseUrl: server.url, model: "judge", apiKeyEnv: "OTHER_SECRET_TOKEN" } }, "overrides.judge.baseUrl"],
        [{ ...tiny, judge: { baseUrl: "http://127.0.0.1:1/v1", model: "judge", apiKeyEnv: "HOME" } }, "overrides.judge.baseUrl"],
        [{ ...tiny, model: { kind: "api", endpoints: [{ baseUrl: server.url, apiKeyEnv: "OTHER_SECRET_TOKEN" }] } }, "overrides.model.endpoints.0.baseUrl"],
        [{ ...tiny, apiKeyEnvAllowed: ["HOME"] }, "overrides.apiKeyEnvAllowed"]
      ] as const) {
        for (const tool of ["plan", "build"]) {
          const text = await failure(tool, { target: "reports/hoo", overrides })
          expect(text).toMatch(new RegExp(`^InvalidArgument: argument "${field.replaceAll(".", "\\.")}": overrides may not set or change baseUrl, apiKeyEnv, apiKeyEnvAllowed`))
        }
      }
      expect(server.authorizations).toEqual([])
    } finally {
      await server.close()
    }
  })

  it("refuses an experiment whose apiKeyEnv names a variable that is not a key, unless the file allows it", async () => {
    const file = path.join(dirs.experimentsDir, "judged.json")
    try {
      fs.writeFileSync(file, JSON.stringify({ ...tiny, judge: { baseUrl: "http://127.0.0.1:1/v1", model: "judge", apiKeyEnv: "HOME" } }))
      expect(await failure("plan", { target: "reports/hoo", experiment: "judged" })).toMatch(
        /^ConfigError: \S*judged\.json( \+ overrides)?: field "judge\.apiKeyEnv": "HOME" does not end in _API_KEY or _TOKEN/
      )
      fs.writeFileSync(file, JSON.stringify({ ...tiny, judge: { baseUrl: "http://127.0.0.1:1/v1", model: "judge", apiKeyEnv: "HOME" }, apiKeyEnvAllowed: ["HOME"] }))
      expect((await ok("plan", { target: "reports/hoo", experiment: "judged" })).target).toBe("reports/hoo")
    } finally {
      fs.rmSync(file, { force: true })
    }
  })

  it("follows no symlink out of its folders, and quotes nothing of a file that does not parse", async () => {
    const outside = path.join(tmp, "outside")
    fs.mkdirSync(outside, { recursive: true })
    const notJson = path.join(outside, "passwd")
    fs.writeFileSync(notJson, "root:sk-outside-0123456789:0:0:root:/root:/bin/bash\n")
    const json = path.join(outside, "summary.json")
    fs.writeFileSync(json, JSON.stringify({ summary: { token: "sk-outside-json-0123456789" } }))
    // A dataset override must name a file inside the project: this link is inside it (under the ignored out/) but points out.
    fs.mkdirSync(path.join(projectRoot, "out"), { recursive: true })
    const projectLinks = fs.mkdtempSync(path.join(projectRoot, "out", ".mcp-links-"))
    const links = [
      [path.join(dirs.templatesDir, "linked.json"), notJson],
      [path.join(dirs.experimentsDir, "linked.json"), notJson],
      [path.join(dirs.outDir, "reports", "linked", "summary.json"), json],
      [path.join(projectLinks, "tasks.jsonl"), notJson]
    ] as const
    try {
      for (const [link, target] of links) {
        fs.mkdirSync(path.dirname(link), { recursive: true })
        fs.symlinkSync(target, link)
      }
      const refusals = [
        await failure("list_templates", {}),
        await failure("parse_responses", { template: "linked", responses: ["good"] }),
        await failure("plan", { target: "reports/hoo", experiment: "linked" }),
        await failure("read_report", { report: "linked" })
      ]
      for (const text of refusals) expect(text).toMatch(/^OutsideFolder: refused: "(linked\.json|summary\.json)" is outside /)
      const dataset = await failure("plan", { target: "reports/hoo", overrides: { ...tiny, datasets: [{ name: "x", path: path.relative(projectRoot, links[3][0]) }] } })
      expect(dataset).toContain("is outside the project (symlinks resolved)")
      for (const text of [...refusals, dataset]) expect(text).not.toContain("sk-outside")
    } finally {
      for (const [link] of links) fs.rmSync(link, { force: true })
      fs.rmSync(projectLinks, { recursive: true, force: true })
    }

    const broken = path.join(dirs.templatesDir, "broken.json")
    const typed = path.join(dirs.experimentsDir, "typed.json")
    try {
      fs.writeFileSync(broken, "sk-inside-0123456789 is not JSON\n")
      const listed = await failure("list_templates", {})
      expect(listed).toMatch(/^TemplateError: template \S+broken\.json: \(json\): not valid JSON at line 1, column 1: unexpected character$/)
      fs.writeFileSync(broken, JSON.stringify({ id: "broken", kind: "sk-kind-0123456789", timing: "post", text: "t", options: [] }))
      const decoded = await failure("parse_responses", { template: "broken", responses: ["good"] })
      expect(decoded).toContain("broken.json")
      fs.writeFileSync(typed, JSON.stringify({ ...tiny, sample: { perOrigin: "sk-typed-0123456789" } }))
      const config = await failure("plan", { target: "reports/hoo", experiment: "typed" })
      expect(config).toMatch(/field "sample\.perOrigin": Expected/)
      for (const text of [listed, decoded, config]) expect(text).not.toMatch(/sk-(inside|kind|typed)/)
    } finally {
      fs.rmSync(broken, { force: true })
      fs.rmSync(typed, { force: true })
    }
  })
})

