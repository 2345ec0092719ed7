// End-to-end benchmark of the main job: `pipeline build reports/hoo` on the embedded default from a cold cache,
// a rebuild with nothing changed (a fresh process each, so process start counts), and the stages run when one
// template's text changes.
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prefpipe-bench-e2e-"))
const cache = path.join(dir, "cache")

const build = (config: string) => {
  const started = process.hrtime.bigint()
  const out = execFileSync(path.join(root, "bin/pipeline"), ["build", "reports/hoo", "--json", "--cache", cache, "--config", config], {
    cwd: root,
    stdio: ["ignore", "pipe", "inherit"],
    maxBuffer: 1 << 26
  })
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  return { seconds, summary: JSON.parse(out.toString()) as { executed: number; cached: number; cutoff: number; stages: Array<{ stage: string; status: string }> } }
}

const defaultConfig = path.join(root, "experiments/default.json")
const cold = build(defaultConfig)
console.log(`cold build of reports/hoo on the default experiment: ${cold.seconds.toFixed(1)} s, ${cold.summary.executed} stages  [target < 300 s]`)
const warm = [build(defaultConfig), build(defaultConfig)]
console.log(`no-change rebuild (process start included): ${warm.map((w) => `${w.seconds.toFixed(2)} s`).join(", ")}; executed ${warm[0]!.summary.executed}  [target < 2 s]`)

const raw = JSON.parse(fs.readFileSync(defaultConfig, "utf8")) as { templates: string[] }
const templates = raw.templates.map((id) => JSON.parse(fs.readFileSync(path.join(root, "templates", `${id}.json`), "utf8")) as { id: string; text: string })
const last = templates[templates.length - 1]!
last.text = last.text.replace(/^(\w+)/, "$1, $1")
const changed = path.join(dir, "changed.json")
fs.writeFileSync(changed, JSON.stringify({ ...raw, templates }))
const edit = build(changed)
const ran = edit.summary.stages.filter((s) => s.status !== "cached")
console.log(`after changing the text of ${last.id}: ${edit.summary.executed} executed, ${edit.summary.cutoff} cut off, ${edit.summary.cached} cached of ${edit.summary.stages.length} (${edit.seconds.toFixed(1)} s)`)
console.log(`  ran: ${ran.map((s) => `${s.stage} (${s.status})`).join(", ")}`)
fs.rmSync(dir, { recursive: true, force: true })
