import { describe, expect, it } from "@effect/vitest"
import { normals, streamFor } from "../../../model/organism/Random"
import { plantValences } from "../../../model/organism/Valence"

// Two origins over shared words x, y; a1 is alpaca's own word, b1 and b2 bailbench's.
const tasks = [
  { origin: "alpaca", words: ["x", "a1"] },
  { origin: "alpaca", words: ["x", "y"] },
  { origin: "alpaca", words: ["y", "."] },
  { origin: "bailbench", words: ["x", "b1"] },
  { origin: "bailbench", words: ["y", "b2"] }
]
const content = new Set(["x", "y", "a1", "b1", "b2"])
const seed = 7
const means = { alpaca: 0.4, bailbench: -0.8 }
const spread = 0.5

describe("plantValences", () => {
  it("gives each origin's marked tasks one dataset part and centres its within part, as worked out by hand", () => {
    const planted = plantValences(seed, tasks, content, content, means, spread)
    const eps = (w: string) => normals(streamFor(seed, `valence:${w}`), 1)[0]!
    const draws = [(eps("x") + eps("a1")) / 2, (eps("x") + eps("y")) / 2, eps("y"), (eps("x") + eps("b1")) / 2, (eps("y") + eps("b2")) / 2]
    const alpacaMean = (draws[0]! + draws[1]! + draws[2]!) / 3
    const bailMean = (draws[3]! + draws[4]!) / 2
    const pooled = [0, 1, 2].reduce((s, i) => s + (draws[i]! - alpacaMean) ** 2, 0) + [3, 4].reduce((s, i) => s + (draws[i]! - bailMean) ** 2, 0)
    const k = spread / Math.sqrt(pooled / 5)
    // alpaca: one task of three is marked (a1); bailbench: both are.
    const cA = (-k * alpacaMean) / (1 / 3), aA = 0.4 / (1 / 3)
    const cB = -k * bailMean, aB = -0.8
    expect(planted.marked).toEqual([true, false, false, true, true])
    expect([...planted.own.entries()].sort()).toEqual([["a1", 0], ["b1", 1], ["b2", 1]])
    const within = [k * draws[0]! + cA, k * draws[1]!, k * draws[2]!, k * draws[3]! + cB, k * draws[4]! + cB]
    const valence = [within[0]! + aA, within[1]!, within[2]!, within[3]! + aB, within[4]! + aB]
    within.forEach((v, i) => expect(planted.within[i]).toBeCloseTo(v, 12))
    valence.forEach((v, i) => expect(planted.task[i]).toBeCloseTo(v, 12))
    expect((planted.within[0]! + planted.within[1]! + planted.within[2]!) / 3).toBeCloseTo(0, 12)
    expect((planted.task[3]! + planted.task[4]!) / 2).toBeCloseTo(-0.8, 12)
    expect((planted.task[0]! + planted.task[1]! + planted.task[2]!) / 3).toBeCloseTo(0.4, 12)
    expect(planted.word.get("x")).toBeCloseTo(k * eps("x"), 12)
  })

  it("fails naming an origin none of whose tasks has a word of its own", () => {
    const withShared = [...tasks, { origin: "math", words: ["x", "y"] }]
    expect(() => plantValences(seed, withShared, content, content, { ...means, math: -0.2 }, spread)).toThrow(/origin "math" cannot be given its own mean/)
  })
})
