import { describe, expect, it } from "@effect/vitest"
import { canonical, diffValues, hashValue } from "../../core/Key"

describe("canonical key encoding", () => {
  it("ignores object insertion order", () => {
    expect(hashValue({ a: 1, b: [1, 2], c: { x: "y", z: null } })).toBe(hashValue({ c: { z: null, x: "y" }, b: [1, 2], a: 1 }))
  })
  it("keeps types apart", () => {
    expect(canonical(1)).not.toBe(canonical("1"))
    expect(canonical(true)).not.toBe(canonical("true"))
    expect(canonical(null)).not.toBe(canonical("null"))
    expect(canonical([])).not.toBe(canonical({}))
  })
  it("is delimited so concatenations cannot collide", () => {
    expect(hashValue(["ab", "c"])).not.toBe(hashValue(["a", "bc"]))
    expect(hashValue({ a: "b:c" })).not.toBe(hashValue({ "a:b": "c" }))
  })
  it("drops undefined members like absent ones", () => {
    expect(canonical({ a: 1, b: undefined })).toBe(canonical({ a: 1 }))
  })
  it("names changed leaves by path", () => {
    const changes = diffValues({ t: { text: "a", n: 1 }, k: [1, 2] }, { t: { text: "b", n: 1 }, k: [1, 3] })
    expect(changes.map((c) => c.path)).toEqual(["k.1", "t.text"])
  })
})
