import { Command } from "@effect/cli"
import { NodeContext } from "@effect/platform-node"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { GROUND_TRUTH_FILE, type OrganismGroundTruth } from "../../model/Organism"
import { organismCommand } from "../../pipeline/OrganismCommand"
import { projectRoot } from "../../pipeline/Target"

const builtin = path.join(projectRoot, "datasets", "builtin")
const hasBuiltin = fs.existsSync(builtin) && fs.readdirSync(builtin).some((f) => f.endsWith(".jsonl"))
const cli = Command.run(organismCommand, { name: "organism", version: "test" })
const run = (...args: string[]) => cli(["node", "organism", ...args]).pipe(Effect.provide(NodeContext.layer))
const made: string[] = []
const tmp = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prefpipe-organism-cli-"))
  made.push(dir)
  return dir
}

describe.skipIf(!hasBuiltin)("organism command", () => {
  afterAll(() => {
    for (const d of made) fs.rmSync(d, { recursive: true, force: true })
  })

  it.effect("writes the same checkpoint for the same seed, built over the built-in tasks and templates", () =>
    Effect.gen(function* () {
      const [a, b] = [tmp(), tmp()]
      yield* run("--out", a, "--seed", "3")
      yield* run("--out", b, "--seed", "3")
      const names = fs.readdirSync(a).sort()
      expect(names).toEqual(
        ["config.json", "generation_config.json", GROUND_TRUTH_FILE, "model.safetensors", "special_tokens_map.json", "tokenizer.json", "tokenizer_config.json"].sort()
      )
      for (const name of names) expect(fs.readFileSync(path.join(a, name)).equals(fs.readFileSync(path.join(b, name))), name).toBe(true)
      const truth = JSON.parse(fs.readFileSync(path.join(a, GROUND_TRUTH_FILE), "utf8")) as OrganismGroundTruth
      const rows = fs.readdirSync(builtin).filter((f) => f.endsWith(".jsonl"))
        .flatMap((f) => fs.readFileSync(path.join(builtin, f), "utf8").split("\n").filter((l) => l.trim() !== ""))
      expect(truth.tasks.map((t) => t.task_id).sort()).toEqual(rows.map((l) => JSON.parse(l).id).sort())
      expect(truth.seed).toBe(3)
    }))

  it.effect("applies a spec file and reports an invalid one", () =>
    Effect.gen(function* () {
      const dir = tmp()
      const spec = path.join(dir, "spec.json")
      fs.writeFileSync(spec, JSON.stringify({ originMeans: {}, postSignal: 2 }))
      yield* run("--out", path.join(dir, "model"), "--seed", "1", "--spec", spec)
      const truth = JSON.parse(fs.readFileSync(path.join(dir, "model", GROUND_TRUTH_FILE), "utf8")) as OrganismGroundTruth
      expect(truth.signal.post).toBe(2)
      for (const mean of Object.values(truth.originMeans)) expect(Math.abs(mean)).toBeLessThan(1e-9)
      fs.writeFileSync(spec, JSON.stringify({ spread: -1 }))
      const error = yield* Effect.flip(run("--out", path.join(dir, "bad"), "--seed", "1", "--spec", spec))
      expect(String((error as { message?: string }).message)).toContain("spec.json")
    }))
})
