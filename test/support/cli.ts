import { execFileSync, spawn } from "node:child_process"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { projectRoot } from "../../pipeline/Target"
import { tinyExperiment } from "./experiment"

/** What one run of `bin/pipeline` printed and how it exited. */
export interface CliRun {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs `bin/pipeline` as a child process (at most `timeoutMs`, then killed) and collects its output. */
export const pipelineCli = (args: ReadonlyArray<string>, options: { readonly env?: Record<string, string>; readonly timeoutMs?: number } = {}) =>
  new Promise<CliRun>((resolve) => {
    const child = spawn(path.join(projectRoot, "bin", "pipeline"), args, {
      env: { ...process.env, ...options.env },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d) => (stdout += d))
    child.stderr.on("data", (d) => (stderr += d))
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 600_000)
    child.on("exit", (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })

/** Every file under a folder (recursively) with its sha256, by relative path. */
export const folderHashes = (dir: string): Record<string, string> =>
  Object.fromEntries(
    (fs.readdirSync(dir, { recursive: true }) as string[])
      .filter((name) => fs.statSync(path.join(dir, name)).isFile())
      .sort()
      .map((name) => [name, createHash("sha256").update(fs.readFileSync(path.join(dir, name))).digest("hex")])
  )

/** A cache built through the CLI with `reports/hoo` on the tiny experiment, kept as the pristine copy tests damage copies of. */
export interface ReferenceCache {
  readonly dir: string
  readonly config: string
  readonly cache: string
  readonly out: string
  readonly build: string
  readonly outputs: Record<string, string>
}

/** Builds the reference cache: `pipeline build reports/hoo` on the tiny experiment, in a temporary folder. */
export const buildReferenceCache = async (): Promise<ReferenceCache> => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prefpipe-damage-"))
  const config = path.join(dir, "experiment.json")
  fs.writeFileSync(config, JSON.stringify(tinyExperiment))
  const cache = path.join(dir, "reference-cache")
  const out = path.join(dir, "reference-out")
  const run = await pipelineCli(["build", "reports/hoo", "--config", config, "--cache", cache, "--out", out, "--json"])
  if (run.code !== 0) throw new Error(`reference build failed (${run.code}):\n${run.stderr}`)
  const build = (JSON.parse(run.stdout) as { build: string }).build
  return { dir, config, cache, out, build, outputs: folderHashes(path.join(out, "reports/hoo")) }
}

/** A copy of the reference cache (hard links inside it kept, as `cp -a` does) and a fresh output folder. */
export const copyCache = (ref: ReferenceCache, name: string) => {
  const cache = path.join(ref.dir, `${name}-cache`)
  const out = path.join(ref.dir, `${name}-out`)
  fs.rmSync(cache, { recursive: true, force: true })
  fs.rmSync(out, { recursive: true, force: true })
  execFileSync("cp", ["-a", ref.cache, cache])
  const build = () => pipelineCli(["build", "reports/hoo", "--config", ref.config, "--cache", cache, "--out", out, "--json"])
  return { cache, out, build }
}

/** The stage record of a node in a cache's recorded build, read as plain JSON, with its file path. */
export const stageRecord = (cache: string, build: string, node: string) => {
  const record = JSON.parse(fs.readFileSync(path.join(cache, "builds", `${build}.json`), "utf8")) as { stages: Array<{ node: string; key: string }> }
  const stage = record.stages.find((s) => s.node === node)
  if (stage === undefined) throw new Error(`no stage ${node} in build ${build.slice(0, 12)} (stages: ${record.stages.map((s) => s.node).join(", ")})`)
  const file = path.join(cache, "actions", stage.key.slice(0, 2), `${stage.key.slice(2)}.json`)
  const action = JSON.parse(fs.readFileSync(file, "utf8")) as {
    key: string
    outputs: Record<string, { kind: string; hash: string; files?: Record<string, { hash: string }> }>
  }
  return { file, ...action }
}

/** The path of an object in a cache. */
export const objectFile = (cache: string, hash: string) => path.join(cache, "objects", hash.slice(0, 2), hash.slice(2))

/** Flips every bit of the byte at `at` (default: the middle) of a file, keeping its size. */
export const flipByte = (file: string, at?: number) => {
  const bytes = fs.readFileSync(file)
  bytes[at ?? Math.floor(bytes.length / 2)]! ^= 0xff
  fs.writeFileSync(file, bytes)
}

/** The `! ...` lines a run printed on stderr (what the store and the engine found and did). */
export const noticeLines = (run: CliRun) => run.stderr.split("\n").filter((l) => l.startsWith("! ") || l.startsWith("… "))
