/**
 * Planted personas, checked with the independent float64 forward pass against the closed forms: a direction persona
 * moves valence along the planted direction by its shift on its origins only; a behaviour persona moves the answers
 * by as much, while the residual at every layer moves only along its own channel. Tolerances as for the other
 * closed forms: 0.01 on probabilities and on projections.
 */
import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import type { OrganismGroundTruth } from "../../model/Organism"
import { decodeOrganismSpec, OrganismSpec, type PlantedPersona } from "../../model/OrganismSpec"
import { classProbs, forward, loadReference } from "./organism/llamaForward"
import { messagesFor, promptTools, syntheticOrganism, syntheticTemplates } from "./organism/fixtures"

const villain: PlantedPersona = { keyword: "Villain", channel: "direction", shifts: { bailbench: 1.2, math: -0.6 } }
const pirate: PlantedPersona = { keyword: "pirate", channel: "behaviour", shifts: { alpaca: -0.9, bailbench: 0.5 } }
const personas = [
  { id: "default", system: "" },
  { id: "villain", system: "You are a villain." },
  { id: "pirate", system: "You are a PIRATE, and proud of it." }
]
const organismWith = (planted: ReadonlyArray<PlantedPersona>) => {
  const o = syntheticOrganism({ spec: OrganismSpec.make({ personas: planted }), personas })
  return { ...o, tools: promptTools(o.built.files), model: loadReference(o.built.files) }
}
const main = organismWith([villain, pirate])
// The same organism with the pirate's keyword but nothing planted on it, and with the pirate's shifts on the direction.
const inert = organismWith([villain, { ...pirate, shifts: {} }])
const onDirection = organismWith([villain, { ...pirate, channel: "direction" }])

const { tasks, gt } = main
const template = (id: string) => syntheticTemplates.find((t) => t.id === id)!
const system = (id: string) => personas.find((p) => p.id === id)!.system
type Organism = typeof main
// The persona's system prompt, then the question (after an empty completion when post-task; Task B is task `other`).
const run = (o: Organism, templateId: string, persona: string, i: number, other = i) =>
  forward(o.model, o.tools.encode([
    ...(system(persona) === "" ? [] : [{ role: "system", content: system(persona) }]),
    ...messagesFor(template(templateId), tasks[i]!.prompt, "", tasks[other]!.prompt)
  ]))
const expectedOf = (truth: OrganismGroundTruth, templateId: string, persona: string, i: number) =>
  truth.expected.find((e) => e.task_id === tasks[i]!.task_id && e.template_id === templateId && e.persona_id === persona)!.expected_value
const pGood = (o: Organism, logits: Float64Array) => classProbs(logits, [o.tools.id("good"), o.tools.id("bad")])[0]!
const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!
  return s
}
const origins = ["alpaca", "bailbench", "math", "wildchat"]
// Two tasks of each origin.
const chosen = origins.flatMap((o) => tasks.flatMap((t, i) => (t.origin === o ? [i] : [])).slice(0, 2))
const plantedLayer = gt.directions[0]!.layer
const direction = gt.directions[0]!.vector

describe("planted personas (reference forward pass)", () => {
  it("exports what each experiment persona switches on", () => {
    expect(gt.personas).toEqual([
      { id: "default", keyword: null, channel: null, shifts: {} },
      { id: "villain", keyword: "Villain", channel: "direction", shifts: villain.shifts },
      { id: "pirate", keyword: "pirate", channel: "behaviour", shifts: pirate.shifts }
    ])
    expect(gt.expected).toHaveLength(tasks.length * syntheticTemplates.length * personas.length)
  })

  it("a direction persona moves the planted direction, and P(good), by its shift on its origins and not on others", () => {
    for (const i of chosen) {
      const shift = villain.shifts[tasks[i]!.origin] ?? 0
      const base = run(main, "qual_pre", "default", i)
      const on = run(main, "qual_pre", "villain", i)
      const moved = dot(on.hidden[plantedLayer]!, direction) - dot(base.hidden[plantedLayer]!, direction)
      expect(Math.abs(moved - gt.signal.pre * shift), tasks[i]!.task_id).toBeLessThan(0.01)
      for (const [persona, r] of [["default", base], ["villain", on]] as const)
        expect(Math.abs(pGood(main, r.logits) - expectedOf(gt, "qual_pre", persona, i))).toBeLessThan(0.01)
      if (shift !== 0) expect(Math.sign(pGood(main, on.logits) - pGood(main, base.logits))).toBe(Math.sign(shift))
    }
  })

  it("a behaviour persona moves the answers as the same shift along the direction would, and the residual only along its channel", () => {
    let channel: Float64Array | undefined
    for (const i of chosen) {
      const shift = pirate.shifts[tasks[i]!.origin] ?? 0
      const planted = run(main, "qual_post", "pirate", i)
      const none = run(inert, "qual_post", "pirate", i)
      const asDirection = run(onDirection, "qual_post", "pirate", i)
      expect(Math.abs(pGood(main, planted.logits) - expectedOf(gt, "qual_post", "pirate", i))).toBeLessThan(0.01)
      expect(Math.abs(pGood(main, planted.logits) - pGood(onDirection, asDirection.logits))).toBeLessThan(0.01)
      expect(Math.abs(pGood(inert, none.logits) - expectedOf(inert.gt, "qual_post", "pirate", i))).toBeLessThan(0.01)
      // Every layer from the persona block on: the same residual up to one fixed direction, orthogonal to the planted one.
      for (let layer = plantedLayer - 1; layer < planted.hidden.length; layer++) {
        const delta = planted.hidden[layer]!.map((x, k) => x - none.hidden[layer]![k]!)
        const size = Math.hypot(...delta)
        if (shift === 0) {
          expect(size, `${tasks[i]!.task_id} layer ${layer}`).toBeLessThan(1e-3)
          continue
        }
        expect(size).toBeGreaterThan(0.1)
        expect(Math.abs(dot(delta, direction))).toBeLessThan(1e-3)
        channel ??= delta.map((x) => x / size)
        expect(Math.abs(dot(delta, channel)) / size).toBeGreaterThan(0.9999)
      }
      // The direction persona with the same shifts moves the planted direction instead.
      const moved = dot(asDirection.hidden[plantedLayer]!, direction) - dot(none.hidden[plantedLayer]!, direction)
      expect(Math.abs(moved - gt.signal.post * shift)).toBeLessThan(0.01)
    }
  })

  it("moves revealed choices by both channels' shifts, as the exported utilities say", () => {
    const labels = [main.tools.id("Task A:"), main.tools.id("Task B:")]
    for (const persona of ["default", "villain", "pirate"]) {
      for (let k = 0; k < 6; k++) {
        const [a, b] = [chosen[k]!, chosen[(k + 3) % chosen.length]!]
        const pA = classProbs(run(main, "revealed", persona, a, b).logits, labels)[0]!
        const closed = 1 / (1 + Math.exp(-(expectedOf(gt, "revealed", persona, a) - expectedOf(gt, "revealed", persona, b))))
        expect(Math.abs(pA - closed), `${persona} ${a} ${b}`).toBeLessThan(0.01)
      }
    }
  })

  it("rejects an unknown channel, an empty or repeated keyword, and a keyword that is an answer word, naming the field", () => {
    const issue = (personas: unknown) => {
      const decoded = decodeOrganismSpec({ personas })
      return Either.isLeft(decoded) ? String(decoded.left) : ""
    }
    expect(issue([{ keyword: "villain", channel: "sideways", shifts: {} }])).toMatch(/personas[\s\S]*channel/)
    expect(issue([{ keyword: " ", channel: "direction" }])).toMatch(/personas[\s\S]*keyword must not be empty/)
    expect(issue([{ keyword: "two words", channel: "direction" }])).toMatch(/one word/)
    expect(issue([{ keyword: "good", channel: "direction" }])).toMatch(/answer or mode word/)
    expect(issue([{ keyword: "Villain", channel: "direction" }, { keyword: "villain", channel: "behaviour" }])).toMatch(/personas[\s\S]*"villain" is listed twice/)
    expect(issue([{ keyword: "villain", channel: "direction", shifts: { math: 0.5 } }])).toBe("")
  })
})
