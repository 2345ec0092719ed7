import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
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

describe("redact", () => {
  it("replaces values of secret-looking variables only", () => {
    const env = { OPENAI_API_KEY: "sk-abcdefgh1234", HOME: "/home/someone-long", SHORT_TOKEN: "abc" }
    expect(redact("key sk-abcdefgh1234 home /home/someone-long abc", env)).toBe("key [redacted OPENAI_API_KEY] home /home/someone-long abc")
  })
})
