import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Schema } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { ExperimentConfig } from "../../pipeline/Config"
import { steeringFindings, steeringTemplates } from "../../reports/steering"
import { experimentWorkspace, pngSize, reportSummary, shippedTemplate, tinyExperiment } from "../support/experiment"

const template = (id: string) => shippedTemplate(id) as { id: string }

interface DirectionSummary {
  slope: number | null
  slope_lo: number | null
  slope_hi: number | null
  p_value: number | null
  clustered_p_value: number | null
  logit_slope: number | null
  logit_p_value: number | null
  n: number
  excluded: { refusal: number; failed: number }
  by_coefficient: Array<{ coefficient: number; p: number; lo: number; hi: number; n: number }>
  option_curve: Array<{ coefficient: number; p: number; n: number }>
}

// Coefficients in mean residual norms: the organism's residual norm (≈700) is mostly its constant channel, while
// valence lives on a scale of 1 along the planted direction, so a few thousandths of a norm already move the answers.
const coefficients = [-0.004, -0.002, 0, 0.002, 0.004]

// The probe is trained on 100 tasks with 4 answers each: with fewer (40 tasks, 2 answers) its direction is noisy
// enough that at some experiment seeds its slope misses p < 0.001.
const steeringConfig = (seed?: number) => ({
  ...tinyExperiment,
  ...(seed === undefined ? {} : { seed }),
  sample: { perOrigin: 25 },
  elicitation: { samples: 4, maxTokens: 8 },
  templates: [template("qualitative_post_v1")],
  steering: { tasks: 16, samples: 4, coefficients }
})

const slopesHold = (directions: Record<string, DirectionSummary>) => {
  const { probe, control } = directions
  expect(probe!.slope!).toBeGreaterThan(0)
  expect(probe!.p_value!).toBeLessThan(0.001)
  expect(probe!.clustered_p_value!).toBeLessThan(0.001)
  expect(probe!.slope_lo!).toBeGreaterThan(0)
  expect(control!.slope_lo!).toBeLessThanOrEqual(0)
  expect(control!.slope_hi!).toBeGreaterThanOrEqual(0)
}

describe("reports/steering end to end on the organism", () => {
  const w = experimentWorkspace()
  const config = steeringConfig()
  let build: Awaited<ReturnType<typeof w.build>>
  let summary: { positions: string; normalization: string; template: string; layers: Array<{ layer: number; mean_norm: number; coefficients: number[]; directions: Record<string, DirectionSummary> }> }

  beforeAll(async () => {
    w.writeConfig(config)
    build = await w.build("reports/steering")
    summary = JSON.parse(fs.readFileSync(path.join(w.out, "reports/steering/summary.json"), "utf8")).summary
  }, 600_000)
  afterAll(() => fs.rmSync(w.dir, { recursive: true, force: true }))

  it("writes the dose-response figure, the per-direction and slope tables, and records positions and normalization", () => {
    expect(build.stages.map((s) => s.stage)).toContain("steer[qualitative_post_v1@1]")
    const out = path.join(w.out, "reports/steering")
    for (const file of ["README.md", "index.html", "summary.json", "slopes_L1.csv", "pgood_probe_L1.csv", "pgood_control_L1.parquet", "pgood_mean_difference_L1.csv", "dose_response_L1.svg"]) {
      expect(fs.statSync(path.join(out, file)).size).toBeGreaterThan(0)
    }
    expect(pngSize(fs.readFileSync(path.join(out, "dose_response_L1.png"))).width).toBeGreaterThan(300)
    expect(summary.template).toBe("qualitative_post_v1")
    expect(summary.positions).toBe("all")
    expect(summary.normalization).toBe("residual_norm")
    const layer = summary.layers[0]!
    expect(layer.layer).toBe(1)
    expect(layer.mean_norm).toBeGreaterThan(0)
    expect(layer.coefficients).toEqual(coefficients)
    expect(Object.keys(layer.directions).sort()).toEqual(["control", "mean_difference", "planted", "probe"])
    for (const d of Object.values(layer.directions)) {
      for (const b of d.by_coefficient) {
        expect(b.lo).toBeLessThanOrEqual(b.p + 1e-12)
        expect(b.hi).toBeGreaterThanOrEqual(b.p - 1e-12)
      }
      expect(d.option_curve.map((o) => o.coefficient)).toEqual(coefficients)
    }
  })

  it("shares the unsteered baseline: every direction has the same outcomes at coefficient 0", () => {
    const at0 = Object.values(summary.layers[0]!.directions).map((d) => JSON.stringify(d.by_coefficient.find((b) => b.coefficient === 0)))
    expect(new Set(at0).size).toBe(1)
  })

  it("steering along the probe raises P(good) (p < 0.001, plain and task-clustered), while the random control's slope interval contains 0", () => {
    const { probe } = summary.layers[0]!.directions
    slopesHold(summary.layers[0]!.directions)
    // The noise-free companion curve rises too.
    const curve = probe!.option_curve
    expect(curve[curve.length - 1]!.p).toBeGreaterThan(curve[0]!.p)
  })

  it("steering along the planted direction moves P(good) from near 0 to near 1 (the plumbing works end to end)", () => {
    const planted = summary.layers[0]!.directions.planted!
    expect(planted.by_coefficient[0]!.p).toBeLessThan(0.2)
    expect(planted.by_coefficient[planted.by_coefficient.length - 1]!.p).toBeGreaterThan(0.8)
    expect(planted.clustered_p_value!).toBeLessThan(1e-6)
  })
})

// Each experiment seed is another organism and task sample.
describe.each([1, 2, 3])("reports/steering at experiment seed %i", (seed) => {
  let directions: Record<string, DirectionSummary>

  beforeAll(async () => {
    directions = (await reportSummary(steeringConfig(seed), "steering")).layers[0].directions
  }, 600_000)

  it("steering along the probe raises P(good) (p < 0.001, plain and task-clustered), while the random control's slope interval contains 0", () => {
    slopesHold(directions)
  })
})

describe("reports/steering on revealed choices with differential steering", () => {
  const w = experimentWorkspace()
  const config = {
    ...tinyExperiment,
    sample: { perOrigin: 4 },
    templates: [template("qualitative_post_v1"), template("revealed_v1")],
    steering: { template: "revealed_v1", positions: "differential", tasks: 8, samples: 2, coefficients: [-0.004, 0, 0.004] }
  }
  let summary: { kind: string; outcome: string; positions: string; layers: Array<{ tasks: number; units: number; samples: number; directions: Record<string, DirectionSummary & { answers: Array<{ coefficient: number; total: number }> }> }> }

  beforeAll(async () => {
    w.writeConfig(config)
    await w.build("reports/steering")
    summary = JSON.parse(fs.readFileSync(path.join(w.out, "reports/steering/summary.json"), "utf8")).summary
  }, 600_000)
  afterAll(() => fs.rmSync(w.dir, { recursive: true, force: true }))

  it("asks both orders of each pair and reads P(choose Task A) against the coefficient", () => {
    expect([summary.kind, summary.outcome, summary.positions]).toEqual(["revealed", "Task A", "differential"])
    const layer = summary.layers[0]!
    expect(layer.tasks).toBe(8)
    expect(layer.units % 2).toBe(0)
    expect(layer.units).toBeGreaterThanOrEqual(layer.tasks)
    for (const d of Object.values(layer.directions)) {
      expect(d.answers.map((a) => [a.coefficient, a.total])).toEqual([-0.004, 0, 0.004].map((c) => [c, layer.units * layer.samples]))
    }
    // +c on Task A's span and −c on Task B's moves some direction's choices: the spans are found and steered.
    const moved = Object.values(layer.directions).some((d) => new Set(d.by_coefficient.map((b) => b.p)).size > 1)
    expect(moved).toBe(true)
  })
})

describe("steeringTemplates", () => {
  const decode = (overrides: Record<string, unknown>) =>
    Schema.decodeUnknownSync(ExperimentConfig)({ templates: [template("qualitative_post_v1"), template("stated_pre_v1"), template("revealed_v1")], ...overrides })
  const ids = (chosen: ReturnType<typeof steeringTemplates>) => ("field" in chosen ? chosen : [chosen.template.id, chosen.probe.id])
  const problem = (chosen: ReturnType<typeof steeringTemplates>) => ("field" in chosen ? `${chosen.field}: ${chosen.reason}` : "runs")

  it("steers the first two-option qualitative template along its own probe by default", () => {
    expect(ids(steeringTemplates(decode({})))).toEqual(["qualitative_post_v1", "qualitative_post_v1"])
  })

  it("takes a revealed template's directions from the first template with a probe", () => {
    expect(ids(steeringTemplates(decode({ steering: { template: "revealed_v1", positions: "differential" } })))).toEqual(["revealed_v1", "qualitative_post_v1"])
  })

  it("names the config field of the setting that cannot run", () => {
    expect(problem(steeringTemplates(decode({ steering: { template: "stated_pre_v1" } })))).toMatch(/^steering.template: .*neither a qualitative template with two options nor a revealed one/)
    expect(problem(steeringTemplates(decode({ steering: { template: "nope" } })))).toMatch(/^steering.template: "nope" is not among/)
    expect(problem(steeringTemplates(decode({ steering: { probeTemplate: "revealed_v1" } })))).toMatch(/^steering.probeTemplate: .*probes are trained on/)
    expect(problem(steeringTemplates(decode({ activations: { layers: [1] }, steering: { layers: [1, 2] } })))).toMatch(/^steering.layers.1: layer 2 is not among activations.layers \(1\)/)
    expect(problem(steeringTemplates(decode({ steering: { positions: "differential" } })))).toMatch(/^steering.positions: .*needs a revealed template/)
    expect(problem(steeringTemplates(decode({ templates: [template("stated_pre_v1")] })))).toMatch(/^templates: needs a template to steer/)
  })
})

describe("reports/steering with coefficients calibrated on the model (none in the config)", () => {
  let summary: { layers: Array<{ coefficients: number[]; calibration: { baseline: number; chosen: number; levels: Array<{ residual_norms: number; parsed: number }> } | null; directions: Record<string, DirectionSummary & { answers: Array<{ coefficient: number; total: number; parsed: number }> }> }> }
  let readme: string

  beforeAll(async () => {
    const w = experimentWorkspace()
    try {
      const { steering, ...rest } = steeringConfig()
      const { coefficients: _, ...uncalibrated } = steering
      w.writeConfig({ ...rest, steering: uncalibrated })
      await w.build("reports/steering")
      summary = JSON.parse(fs.readFileSync(path.join(w.out, "reports/steering/summary.json"), "utf8")).summary
      readme = fs.readFileSync(path.join(w.out, "reports/steering/README.md"), "utf8")
    } finally {
      fs.rmSync(w.dir, { recursive: true, force: true })
    }
  }, 600_000)

  it("sweeps to half the largest magnitude that kept the answers parseable, and every coefficient's answers parse", () => {
    const layer = summary.layers[0]!
    const calibration = layer.calibration!
    expect(calibration.baseline).toBeGreaterThan(0.5)
    expect(calibration.levels.some((l) => l.parsed >= 0.8 * calibration.baseline)).toBe(true)
    expect(calibration.levels.some((l) => l.parsed < 0.8 * calibration.baseline)).toBe(true)
    const c = Math.max(...layer.coefficients)
    expect(layer.coefficients).toEqual([-c, expect.any(Number), 0, expect.any(Number), c])
    expect(c).toBeLessThanOrEqual(calibration.chosen / 2)
    for (const d of Object.values(layer.directions)) {
      for (const a of d.answers) expect(a.parsed / a.total).toBeGreaterThan(0.8)
    }
    slopesHold(layer.directions)
    expect(readme).toContain("**calibration_L1**")
    expect(readme).not.toContain("steering-breaks-answers")
  })
})

describe("reports/steering at coefficients that break the answers (the week config's former ±5 residual norms)", () => {
  let readme: string
  let summary: { layers: Array<{ directions: Record<string, { answers: Array<{ coefficient: number; total: number; parsed: number }> }> }> }

  beforeAll(async () => {
    const w = experimentWorkspace()
    try {
      w.writeConfig({ ...steeringConfig(), sample: { perOrigin: 10 }, elicitation: { samples: 2, maxTokens: 8 }, steering: { tasks: 4, samples: 2, coefficients: [-5, 0, 5] } })
      await w.build("reports/steering")
      summary = JSON.parse(fs.readFileSync(path.join(w.out, "reports/steering/summary.json"), "utf8")).summary
      readme = fs.readFileSync(path.join(w.out, "reports/steering/README.md"), "utf8")
    } finally {
      fs.rmSync(w.dir, { recursive: true, force: true })
    }
  }, 600_000)

  it("says at the top of the layer's section, not only in the diagnostics, that most steered answers failed to parse", () => {
    const answers = Object.values(summary.layers[0]!.directions).flatMap((d) => d.answers)
    const at = (c: number) => answers.filter((a) => a.coefficient === c).reduce((acc, a) => ({ parsed: acc.parsed + a.parsed, total: acc.total + a.total }), { parsed: 0, total: 0 })
    for (const c of [-5, 5]) expect(at(c).parsed).toBeLessThan(at(c).total / 2)
    expect(at(0).parsed).toBeGreaterThan(at(0).total / 2)
    const section = readme.slice(readme.indexOf("## Layer 1"))
    const { parsed: pm, total: tm } = at(-5)
    const { parsed: pp, total: tp } = at(5)
    expect(section.split("\n")[2]).toBe(
      `> **Note:** at coefficient -5 (${pm} of ${tm} parsed), 5 (${pp} of ${tp} parsed) most steered answers failed to parse: ` +
        "the intervention breaks the answer format there, and P(good) rests on the few answers left"
    )
  })
})

describe("steeringFindings", () => {
  const direction = (p0: number, p1: number, slope: number, lo: number, hi: number) => ({
    slope, slope_lo: lo, slope_hi: hi, clustered_p_value: lo > 0 ? 1e-12 : 0.4, error: null,
    by_coefficient: [{ coefficient: -0.1, p: p0, lo: p0 / 2, hi: (1 + p0) / 2, n: 80, successes: 0 }, { coefficient: 0.1, p: p1, lo: p1 / 2, hi: (1 + p1) / 2, n: 80, successes: 0 }]
  })
  const result = (control: ReturnType<typeof direction>) =>
    ({
      layer: 1, kind: "qualitative", outcome: "good", probe_template_id: "q", coefficients: [-0.1, 0, 0.1], calibration: null,
      directions: { probe: direction(0.1, 0.9, 4, 3, 5), control }
    }) as never

  it("says whether the effect is specific to the probe's direction, from the slopes' intervals", () => {
    const specific = steeringFindings([result(direction(0.4, 0.42, 0.1, -0.5, 0.7))])
    expect(specific).toBe(
      "Layer 1, coefficients -0.100 to 0.100 (set by the config): steering along the q probe moves P(good) from 0.100 [0.0500, 0.550] to 0.900 [0.450, 0.950] " +
        "(task-clustered slope p 1.00e-12); along the random control from 0.400 [0.200, 0.700] to 0.420 [0.210, 0.710]: the control's slope interval includes 0, so the effect is specific to the probe's direction."
    )
    expect(steeringFindings([result(direction(0.3, 0.6, 1.5, 0.2, 2.8))])).toContain("the control's slope interval excludes 0 too, so part of the effect is generic perturbation")
  })
})
