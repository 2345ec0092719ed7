import { describe, expect, it } from "@effect/vitest"
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { projectRoot, targetNames } from "../../pipeline/Target"
import { pipelineCli } from "../support/cli"
import { tinyExperiment } from "../support/experiment"
import { recordingServer } from "../support/recordingServer"

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prefpipe-cli-"))
const tsxLoader = `file://${path.join(projectRoot, "node_modules/tsx/dist/loader.mjs")}`

/** Runs the CLI with its output piped (not a terminal), as a script or a pipe would. */
const cli = (...args: string[]) => pipelineCli(args)

const config = (value: unknown) => {
  const file = path.join(dir, `config-${Math.random().toString(36).slice(2)}.json`)
  fs.writeFileSync(file, JSON.stringify(value))
  return file
}

describe("the command line", () => {
  it("prints help without colour codes when piped, without padding, and lists every target with its description", async () => {
    const help = await cli("--help")
    expect(help.code).toBe(0)
    expect(help.stdout).not.toMatch(/\x1b\[/)
    expect(help.stdout).not.toMatch(/\S {30,}\S/)
    expect(help.stdout).toContain("  - build [--config file] [--cache directory] [--out directory] [--json] [--concurrency integer] <target>\n      build a target")
    const targets = help.stdout.slice(help.stdout.indexOf("TARGETS"))
    for (const name of targetNames()) expect(targets).toMatch(new RegExp(`^  ${name} +\\S`, "m"))
    expect(targets).toMatch(/^  reports\/hoo +held-one-out probe generalization/m)
    const sub = await cli("build", "--help")
    expect(sub.stdout).not.toMatch(/\x1b\[/)
    expect(sub.stdout).toContain("reports/week")
  }, 600_000)

  it("names the nearest target and lists them all for a misspelled one; with --json the error is JSON", async () => {
    const text = await cli("build", "reports/hooo", "--cache", path.join(dir, "cache"))
    expect(text.code).toBe(1)
    expect(text.stderr).toMatch(/^error: target reports\/hooo: no such target; did you mean reports\/hoo\? Targets: reports\/hoo, .*reports\/week$/m)
    const json = await cli("build", "reports/hooo", "--json", "--cache", path.join(dir, "cache"))
    expect(json.code).toBe(1)
    const error = JSON.parse(json.stdout).error
    expect(error).toMatchObject({ type: "TargetError", target: "reports/hooo" })
    expect(error.message).toContain("did you mean reports/hoo?")
  }, 600_000)

  it("refuses at plan time, naming the field, layers the model lacks and a report the config cannot feed", async () => {
    const layers = await cli("plan", "reports/hoo", "--json", "--config", config({ templates: ["stated_pre_v1"], activations: { layers: [0, 7] } }), "--cache", path.join(dir, "cache"))
    expect(layers.code).toBe(1)
    expect(JSON.parse(layers.stdout).error).toMatchObject({
      type: "ConfigError",
      field: "activations.layers.1",
      reason: expect.stringContaining("layer 7 does not exist: the model has 3 decoder blocks, so layers 0-2")
    })
    const selector = await cli("plan", "reports/probe_r2", "--config", config({ templates: ["stated_pre_v1"], activations: { selectors: ["eot"] } }), "--cache", path.join(dir, "cache"))
    expect(selector.stderr).toMatch(/field "activations.selectors.0": reports\/probe_r2: eot is the end of the model's own turn, which pre-task prompts do not have \(stated_pre_v1\)/)
    const utilities = await cli("plan", "reports/utilities", "--json", "--config", config({ templates: ["qualitative_post_v1", "stated_pre_v1"] }), "--cache", path.join(dir, "cache"))
    expect(JSON.parse(utilities.stdout).error).toMatchObject({ type: "ConfigError", field: "templates", reason: expect.stringContaining("reports/utilities: needs a revealed template") })
  }, 600_000)
})

/** Every file under a folder whose bytes contain `needle`. */
const filesContaining = (dir: string, needle: string): string[] =>
  fs.existsSync(dir)
    ? (fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) => {
        const file = path.join(dir, f)
        return fs.statSync(file).isFile() && fs.readFileSync(file).includes(needle)
      })
    : []

describe("pipeline CLI refusals", { timeout: 600_000 }, () => {
  it("refuses --concurrency 0 and -1 in every command that takes it", async () => {
    // A private cache and output folder, so that a regression here cannot build into the project's own.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prefpipe-cli-concurrency-"))
    const config = path.join(dir, "experiment.json")
    fs.writeFileSync(config, JSON.stringify(tinyExperiment))
    const where = ["--cache", path.join(dir, "cache")]
    const runs = await Promise.all([
      pipelineCli(["build", "reports/hoo", "--config", config, "--out", path.join(dir, "out"), ...where, "--concurrency", "0"]),
      pipelineCli(["build", "reports/hoo", "--config", config, "--out", path.join(dir, "out"), ...where, "--concurrency", "-1"]),
      pipelineCli(["reproduce", "0123456789ab", ...where, "--concurrency", "0"]),
      pipelineCli(["mcp", ...where, "--concurrency", "0"])
    ])
    fs.rmSync(dir, { recursive: true, force: true })
    for (const run of runs) {
      expect(run.code).toBe(1)
      expect(run.stderr).toContain("--concurrency takes a whole number of at least 1")
    }
  })

  it("refuses a key inside a baseUrl before anything runs: nothing is sent, nothing stored", async () => {
    const server = await recordingServer()
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prefpipe-cli-secret-"))
    try {
      const secret = "sk-leak-0123456789abcdef"
      const config = path.join(dir, "experiment.json")
      fs.writeFileSync(config, JSON.stringify({ ...tinyExperiment, judge: { baseUrl: `http://user:${secret}@127.0.0.1:${server.port}/v1`, model: "judge" } }))
      const cache = path.join(dir, "cache")
      const run = await pipelineCli(["build", "reports/hoo", "--config", config, "--cache", cache, "--out", path.join(dir, "out")])
      expect(run.code).toBe(1)
      expect(run.stderr).toMatch(/^error: \S+experiment\.json: field "judge\.baseUrl": the URL holds a user name or password/m)
      expect(run.stdout + run.stderr).not.toContain(secret)
      expect(server.authorizations).toEqual([])
      expect(filesContaining(dir, secret)).toEqual(["experiment.json"])
    } finally {
      await server.close()
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe("pipeline CLI start-up", { timeout: 600_000 }, () => {
  // A preload that records every native addon the process opens and every CommonJS module it requires.
  const preload = `
const fs = require("node:fs")
const addons = []
const dlopen = process.dlopen
process.dlopen = function (module, file, ...rest) { addons.push(file); return dlopen.call(this, module, file, ...rest) }
process.on("exit", () => fs.writeFileSync(process.env.PREFPIPE_LOADED_OUT, JSON.stringify({ addons, modules: Object.keys(require.cache) })))
`
  const heavy = /onnxruntime|resvg|parquet-wasm|apache-arrow|vega|undici|modelcontextprotocol|linalg\.node/

  it("--help and a build that finds every stage cached open neither onnxruntime, Arrow, Parquet, the plotting stack nor the probe kernels", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prefpipe-cli-startup-"))
    try {
      fs.writeFileSync(path.join(dir, "preload.cjs"), preload)
      const config = path.join(dir, "experiment.json")
      fs.writeFileSync(config, JSON.stringify(tinyExperiment))
      const build = ["build", "reports/hoo", "--config", config, "--cache", path.join(dir, "cache"), "--out", path.join(dir, "out"), "--json"]
      const loaded = async (args: ReadonlyArray<string>) => {
        const out = path.join(dir, "loaded.json")
        const run = await pipelineCli(args, { env: { NODE_OPTIONS: `--require ${path.join(dir, "preload.cjs")}`, PREFPIPE_LOADED_OUT: out } })
        expect(run.code, run.stderr).toBe(0)
        const seen = JSON.parse(fs.readFileSync(out, "utf8")) as { addons: string[]; modules: string[] }
        return { run, heavy: [...seen.addons, ...seen.modules].filter((m) => heavy.test(m)) }
      }
      const help = await loaded(["--help"])
      expect(help.heavy).toEqual([])
      // The bundle prints the help it kept when it was built; it must be the help the sources render now.
      const fromSource = await new Promise<string>((resolve, reject) =>
        execFile(process.execPath, ["--import", tsxLoader, path.join(projectRoot, "pipeline/main.ts"), "--help"], { cwd: projectRoot }, (e, stdout) => (e ? reject(e) : resolve(stdout)))
      )
      expect(help.run.stdout).toBe(fromSource)
      const cold = await loaded(build)
      // The cold build runs the organism and writes figures: the recorder sees what it opens.
      expect(cold.heavy.some((m) => /onnxruntime/.test(m))).toBe(true)
      const again = await loaded(build)
      expect((JSON.parse(again.run.stdout) as { executed: number }).executed).toBe(0)
      expect(again.heavy).toEqual([])
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})
