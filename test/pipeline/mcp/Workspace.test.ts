import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { inside, redact, workspace } from "../../../pipeline/mcp/Workspace"

describe("inside", () => {
  const ws = workspace({ root: "/project" })
  it("resolves paths inside the folder and refuses the ones that leave it", () => {
    expect(Effect.runSync(inside(ws.templatesDir, "a.json", ws))).toBe("/project/templates/a.json")
    expect(Effect.runSync(inside(ws.templatesDir, "sub/../b.json", ws))).toBe("/project/templates/b.json")
    for (const bad of ["../package.json", "/etc/passwd", "sub/../../x", "", "."]) {
      const result = Effect.runSync(Effect.either(inside(ws.templatesDir, bad, ws)))
      expect(Either.isLeft(result) && result.left._tag).toBe("OutsideFolder")
    }
  })
})

describe("inside, with symlinks", () => {
  it("checks real paths: a link inside the folder that points out is refused, a folder that is itself a link is not", () => {
    const base = fs.mkdtempSync(path.join(os.tmpdir(), "prefpipe-inside-"))
    const root = path.join(base, "project")
    const elsewhere = path.join(base, "elsewhere")
    fs.mkdirSync(path.join(root, "templates"), { recursive: true })
    fs.mkdirSync(elsewhere)
    fs.writeFileSync(path.join(elsewhere, "secret.json"), "{}")
    fs.symlinkSync(path.join(elsewhere, "secret.json"), path.join(root, "templates", "file-link.json"))
    fs.symlinkSync(elsewhere, path.join(root, "templates", "dir-link"))
    fs.symlinkSync(path.join(elsewhere, "not-yet.json"), path.join(root, "templates", "dangling.json"))
    fs.writeFileSync(path.join(root, "templates", "plain.json"), "{}")
    const ws = workspace({ root })
    const refused = (relative: string) => Either.isLeft(Effect.runSync(Effect.either(inside(ws.templatesDir, relative, ws))))
    expect(["file-link.json", "dir-link/secret.json", "dir-link/new.json", "dangling.json"].filter(refused)).toEqual([
      "file-link.json",
      "dir-link/secret.json",
      "dir-link/new.json",
      "dangling.json"
    ])
    expect(["plain.json", "new.json", "sub/new.json"].filter(refused)).toEqual([])
    // the folder itself may live elsewhere (a linked templates folder): its files are inside it
    const linked = path.join(base, "linked-project")
    fs.mkdirSync(linked)
    fs.symlinkSync(elsewhere, path.join(linked, "templates"))
    const linkedWs = workspace({ root: linked })
    expect(Effect.runSync(inside(linkedWs.templatesDir, "secret.json", linkedWs))).toBe(path.join(linked, "templates", "secret.json"))
  })
})

describe("redact", () => {
  it("replaces values of secret-looking variables only", () => {
    const env = { OPENAI_API_KEY: "sk-abcdefgh1234", HOME: "/home/someone-long", SHORT_TOKEN: "abc" }
    expect(redact("key sk-abcdefgh1234 home /home/someone-long abc", env)).toBe("key [redacted OPENAI_API_KEY] home /home/someone-long abc")
  })
})
