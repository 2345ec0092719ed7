import { describe, expect, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..")
const run = (args: ReadonlyArray<string>, input: string) =>
  spawnSync(process.execPath, ["--import", "tsx", path.join(root, "test/elicitation/parseCli.ts"), ...args], {
    cwd: root,
    input,
    encoding: "utf8"
  })

describe("parse command", () => {
  it("prints one JSON object per response line", () => {
    const input = ["Good.", "not bad", "I can't help with that.", JSON.stringify("Honestly?\n**Bad**"), "Rating: 7"].join("\n") + "\n"
    const result = run(["qualitative_post_v1"], input)
    expect(result.stderr).toBe("")
    expect(result.status).toBe(0)
    expect(result.stdout.trim().split("\n").map((l) => JSON.parse(l))).toEqual([
      { value: 1, tier: "exact", reason: null },
      { value: null, tier: "failed", reason: "negated option" },
      { value: null, tier: "refusal", reason: "refusal: cannot help" },
      { value: 0, tier: "exact", reason: null },
      { value: null, tier: "failed", reason: "no option word" }
    ])
    const stated = run(["stated_pre_v1", "--templates", path.join(root, "templates")], "8/10\n7-8\n")
    expect(stated.stdout.trim().split("\n").map((l) => JSON.parse(l).value)).toEqual([8, null])
  })

  it("fails naming the known templates when the id is unknown", () => {
    const result = run(["no_such_template"], "good\n")
    expect(result.status).not.toBe(0)
    expect(result.stdout + result.stderr).toContain("qualitative_post_v1")
  })
})
