import { describe, expect, it } from "@effect/vitest"
import {
  collapse,
  contentExplains,
  fewTasks,
  missingControl,
  orientation,
  parseFailures,
  parseNotice,
  positionBias,
  type TemplateTaskMeans
} from "../../../reports/render/diagnostics"

const means = (templateId: string, construct: string, values: ReadonlyArray<number>): TemplateTaskMeans => ({
  templateId,
  construct,
  taskMeans: new Map(values.map((v, i) => [`task${i}`, v]))
})

describe("fewTasks", () => {
  it("warns below 30 tasks and not at 30", () => {
    const found = fewTasks([
      { label: "hoo wildchat", n: 29 },
      { label: "hoo alpaca", n: 30 }
    ])
    expect(found).toEqual([
      {
        level: "warning",
        code: "few-tasks",
        message: "hoo wildchat: correlation from 29 tasks (fewer than 30); its interval is too wide to rank against others"
      }
    ])
  })
})

describe("orientation", () => {
  // a and b rise together over the 4 tasks; c is their mirror image (r = −1 with both); d measures another construct.
  const templates = [
    means("a", "enjoyment", [1, 2, 3, 4]),
    means("b", "enjoyment", [2, 4, 5, 9]),
    means("c", "enjoyment", [9, 7, 5, 3]),
    means("d", "difficulty", [9, 7, 5, 3])
  ]

  it("flags only the template that correlates negatively with most of its construct", () => {
    const found = orientation(templates)
    expect(found.map((d) => [d.level, d.code])).toEqual([["error", "orientation"]])
    expect(found[0]!.message).toBe(
      'c: task means correlate negatively with 2 of 2 other templates of construct "enjoyment"; its scale is probably reversed'
    )
  })

  it("needs a strict majority: negative with 1 of 2 peers is not flagged", () => {
    const found = orientation([...templates, means("e", "enjoyment", [1, 3, 2, 4])])
    // Now c is negative with a, b and e (3 of 3) while a is negative only with c (1 of 3).
    expect(found.map((d) => d.message.split(":")[0])).toEqual(["c"])
    // p and q correlate negatively (r = −0.8) but both correlate positively with r: each is negative with 1 of 2 peers.
    expect(orientation([means("p", "k", [1, 2, 3, 4]), means("q", "k", [4, 2, 3, 1]), means("r", "k", [0, -1, 1, 0])])).toEqual([])
  })

  it("ignores peers sharing fewer than 3 tasks", () => {
    const sparse: TemplateTaskMeans = { templateId: "s", construct: "enjoyment", taskMeans: new Map([["task0", 9], ["task1", 1]]) }
    expect(orientation([means("a", "enjoyment", [1, 2, 3, 4]), sparse])).toEqual([])
  })
})

describe("collapse", () => {
  it("warns when more than 60% of the non-missing answers are one value", () => {
    const found = collapse([
      { templateId: "rating", values: [7, 7, 7, 7, 3, 5, null, null] },
      { templateId: "even", values: [7, 7, 7, 3, 5] },
      { templateId: "choice", values: ["A", "A", "A", "A", "B"] },
      { templateId: "empty", values: [null] }
    ])
    expect(found).toEqual([
      { level: "warning", code: "collapse", message: "rating: 67% of 6 answers are 7; the template barely discriminates between tasks" },
      { level: "warning", code: "collapse", message: "choice: 80% of 5 answers are A; the template barely discriminates between tasks" }
    ])
  })
})

describe("parseFailures", () => {
  it("warns above 10% and not at exactly 10%", () => {
    const found = parseFailures([
      { templateId: "t1", failed: 11, total: 100 },
      { templateId: "t2", failed: 10, total: 100 },
      { templateId: "t3", failed: 0, total: 0 }
    ])
    expect(found.map((d) => d.message)).toEqual([
      "t1: 11 of 100 answers (11%) failed to parse; the scores may be biased towards parseable answers"
    ])
    expect(found[0]!.code).toBe("parse-failures")
  })
})

describe("parseNotice", () => {
  it("names every template where more than half the answers failed to parse, and none at exactly half", () => {
    const notice = parseNotice([
      { templateId: "t1", failed: 51, total: 100 },
      { templateId: "t2", failed: 50, total: 100 },
      { templateId: "t3", failed: 0, total: 0 },
      { templateId: "t4", failed: 8, total: 8 }
    ])
    expect(notice).toBe(
      "most answers failed to parse for t1 (51 of 100, 51%), t4 (8 of 8, 100%); " +
        "what follows rests on the few answers that parsed and may be biased towards answers that are easy to parse (see the parsing report)"
    )
    expect(parseNotice([{ templateId: "t2", failed: 50, total: 100 }])).toBeUndefined()
  })
})

describe("positionBias", () => {
  it("uses the Wilson 95% interval: 70/100 gives [0.604, 0.781] (hand-worked)", () => {
    // centre = (0.7 + 1.96²/200)/(1 + 1.96²/100) = 0.719207/1.038415 = 0.69260,
    // half = 1.96·√(0.0021 + 1.96²/40000)/1.038415 = 0.08845
    expect(positionBias([{ label: "pairs", chooseFirst: 70, total: 100 }])[0]!.message).toBe(
      "pairs: P(choose first) = 0.700 [0.604, 0.781] over 100 choices; order, not content, may drive the choices"
    )
  })

  it("flags an interval excluding 0.5 even when close to it, and a distant rate even when the interval is wide", () => {
    const labels = positionBias([
      { label: "close but certain", chooseFirst: 560, total: 1000 }, // 0.56, Wilson [0.529, 0.591]
      { label: "far but uncertain", chooseFirst: 7, total: 10 }, // 0.70, Wilson [0.397, 0.892]
      { label: "balanced", chooseFirst: 55, total: 100 }, // 0.55, Wilson [0.452, 0.644]
      { label: "none", chooseFirst: 0, total: 0 }
    ]).map((d) => d.message.split(":")[0])
    expect(labels).toEqual(["close but certain", "far but uncertain"])
  })

  it("rejects counts outside 0..total", () => {
    expect(() => positionBias([{ label: "x", chooseFirst: 11, total: 10 }])).toThrow(/positionBias: choices "x" has chooseFirst 11 outside 0..10/)
  })
})

describe("missingControl", () => {
  it("errors on steering results without a control direction", () => {
    const found = missingControl([
      { label: "layer 12", directions: ["probe", "mean difference"] },
      { label: "layer 14", directions: ["probe", "random control"] },
      { label: "layer 16", directions: [] }
    ])
    expect(found.map((d) => [d.level, d.code, d.message.split(":")[0]])).toEqual([
      ["error", "missing-control", "layer 12"],
      ["error", "missing-control", "layer 16"]
    ])
    expect(found[0]!.message).toContain("probe, mean difference")
  })
})

describe("contentExplains", () => {
  it("warns when the content-only R² reaches 90% of a positive activation R², and only then", () => {
    const found = contentExplains([
      { label: "q layer 1", activation: 0.4, contentOnly: 0.36, contentOrthogonal: 0.05 },
      { label: "q layer 2", activation: 0.4, contentOnly: 0.359, contentOrthogonal: 0.2 },
      { label: "q layer 3", activation: -0.1, contentOnly: 0.2, contentOrthogonal: -0.1 },
      { label: "q layer 4", activation: 0.3, contentOnly: 0.5, contentOrthogonal: 0 }
    ])
    expect(found.map((d) => [d.level, d.code, d.message.split(":")[0]])).toEqual([
      ["warning", "content-explains", "q layer 1"],
      ["warning", "content-explains", "q layer 4"]
    ])
    expect(found[0]!.message).toContain("0.360 is 90% of the activation probe's 0.400")
    expect(found[0]!.message).toContain("content-orthogonal R² 0.050")
  })
})
