import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import { formatJsonSyntaxError, jsonErrorOffset, parseJson } from "../../core/JsonText"

describe("jsonErrorOffset", () => {
  it("points at the first character JSON.parse cannot accept", () => {
    const cases: ReadonlyArray<readonly [string, number]> = [
      ['{"a": x}', 6],
      ["[1, 2,]", 6],
      ['["ok", "bad \\q"]', 12],
      ["[1] 2", 4],
      ['{"a" 1}', 5],
      ["[tru]", 1],
      ['["open', 6]
    ]
    for (const [text, offset] of cases) {
      expect(() => JSON.parse(text)).toThrow()
      expect([text, jsonErrorOffset(text)]).toEqual([text, offset])
    }
  })
})

describe("parseJson", () => {
  it("parses what JSON.parse parses", () => {
    expect(parseJson('{"a": [1, "x", null]}')).toEqual(Either.right({ a: [1, "x", null] }))
  })

  it("names line and column and never quotes the text (V8 would echo its first bytes)", () => {
    const secret = "root:x:0:0:sk-live-0123456789abcdef:/root:/bin/bash"
    expect(() => JSON.parse(secret)).toThrow(/root:x/)
    const error = Either.getLeft(parseJson(`${secret}\n`)).pipe((o) => (o._tag === "Some" ? o.value : undefined))!
    expect(error).toEqual({ line: 1, column: 1, reason: "unexpected character" })
    expect(formatJsonSyntaxError(error)).not.toContain("root")
    const cases: ReadonlyArray<readonly [string, { line: number; column: number; reason: string }]> = [
      ['{\n  "a": 1,\n  "b": tru\n}', { line: 3, column: 8, reason: "unexpected character" }],
      ['{"key": "sk-abcdef', { line: 1, column: 19, reason: "unexpected end of input" }],
      ['{"a": 1,}', { line: 1, column: 9, reason: "expected double-quoted property name" }],
      ['{"a": 1} {"b": "token-123"}', { line: 1, column: 10, reason: "unexpected non-whitespace character after JSON" }],
      ["", { line: 1, column: 1, reason: "unexpected end of input" }]
    ]
    for (const [text, expected] of cases) {
      const left = Either.getLeft(parseJson(text))
      expect([text, left._tag === "Some" ? left.value : undefined]).toEqual([text, expected])
      expect(formatJsonSyntaxError(expected)).not.toMatch(/sk-|token|tru\b/)
    }
  })
})
