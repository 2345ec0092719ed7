import { describe, expect, it } from "@effect/vitest"
import { OrganismSpec } from "../../../model/OrganismSpec"
import { mergePatch, overridesJsonSchema } from "../../../pipeline/mcp/Overrides"
import { tools } from "../../../pipeline/mcp/Tools"

describe("mergePatch", () => {
  // RFC 7386 Appendix A, every example in order: [target, patch, result]
  const examples: ReadonlyArray<readonly [unknown, unknown, unknown]> = [
    [{ a: "b" }, { a: "c" }, { a: "c" }],
    [{ a: "b" }, { b: "c" }, { a: "b", b: "c" }],
    [{ a: "b" }, { a: null }, {}],
    [{ a: "b", b: "c" }, { a: null }, { b: "c" }],
    [{ a: ["b"] }, { a: "c" }, { a: "c" }],
    [{ a: "c" }, { a: ["b"] }, { a: ["b"] }],
    [{ a: { b: "c" } }, { a: { b: "d", c: null } }, { a: { b: "d" } }],
    [{ a: [{ b: "c" }] }, { a: [1] }, { a: [1] }],
    [["a", "b"], ["c", "d"], ["c", "d"]],
    [{ a: "b" }, ["c"], ["c"]],
    [{ a: "foo" }, null, null],
    [{ a: "foo" }, "bar", "bar"],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [[1, 2], { a: "b", c: null }, { a: "b" }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }]
  ]
  it("matches every example of RFC 7386", () => {
    for (const [target, patch, result] of examples) expect(mergePatch(target, patch)).toEqual(result)
  })
  it("leaves the target untouched", () => {
    const target = { a: { b: 1 } }
    mergePatch(target, { a: { b: 2 } })
    expect(target).toEqual({ a: { b: 1 } })
  })
})

type Json = Record<string, unknown>
const VALIDATING = ["type", "$ref", "enum", "const", "anyOf", "oneOf", "allOf", "not"]

/** Every subschema of a JSON Schema that carries no validation keyword, by its JSON Pointer. */
const untyped = (schema: unknown, at = "#"): string[] => {
  if (typeof schema !== "object" || schema === null) return []
  const s = schema as Json
  const own = VALIDATING.some((k) => k in s) ? [] : [at]
  const children: Array<[string, unknown]> = []
  for (const key of ["properties", "$defs", "patternProperties"])
    if (typeof s[key] === "object" && s[key] !== null) for (const [k, v] of Object.entries(s[key] as Json)) children.push([`${key}/${k}`, v])
  for (const key of ["anyOf", "oneOf", "allOf"]) if (Array.isArray(s[key])) (s[key] as unknown[]).forEach((v, i) => children.push([`${key}/${i}`, v]))
  // `items` is a schema, or a list of them for a tuple
  if (Array.isArray(s.items)) s.items.forEach((v, i) => children.push([`items/${i}`, v]))
  for (const key of ["items", "additionalProperties", "not"]) if (typeof s[key] === "object" && !Array.isArray(s[key])) children.push([key, s[key]])
  return [...own, ...children.flatMap(([k, v]) => untyped(v, `${at}/${k}`))]
}

describe("the tools' JSON Schemas", () => {
  it("give every subschema a validation keyword (no untyped additionalProperties)", () => {
    for (const t of tools) expect({ tool: t.name, untyped: untyped(t.inputSchema) }).toEqual({ tool: t.name, untyped: [] })
  })

  it("type the organism spec from OrganismSpec's own fields, closed to unknown ones", () => {
    const model = (overridesJsonSchema.jsonSchema.properties as Json).model as { anyOf: Json[] }
    const organism = model.anyOf.find((m) => ((m.properties as Json).kind as Json).enum?.toString() === "organism")!
    const spec = (organism.properties as Json).spec as Json
    expect(spec.type).toBe("object")
    expect(spec.additionalProperties).toBe(false)
    expect(Object.keys(spec.properties as Json).sort()).toEqual(Object.keys(OrganismSpec.fields).sort())
    expect(spec.required ?? []).toEqual([])
    const fields = spec.properties as Record<string, Json>
    expect(fields.hiddenSize!.enum).toEqual([64, 96, 128])
    expect(fields.calibrationTiming!.enum).toEqual(["pre", "post"])
    expect(fields.constant).toMatchObject({ type: "number", minimum: 50, maximum: 1000 })
    expect(fields.originMeans).toMatchObject({ type: "object", additionalProperties: { type: "number" } })
  })
})
