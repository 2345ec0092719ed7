/**
 * The organism's planted properties, checked with the independent float64 forward pass in ./organism/llamaForward
 * against the closed forms the generator exports. Tolerances: 0.01 on probabilities (the documented approximation is
 * about 1e-3), 1% on signal slopes.
 */
import { describe, expect, it } from "@effect/vitest"
import { OrganismSpec } from "../../model/OrganismSpec"
import { answerDistribution } from "../../model/organism/Readout"
import { DIGITS, SENTIMENT } from "../../model/organism/Vocabulary"
import { makePrng } from "../../stats/prng"
import { classProbs, forward, loadReference, softmax, type Steer } from "./organism/llamaForward"
import { messagesFor, promptTools, syntheticOrganism, syntheticTemplates } from "./organism/fixtures"

const { tasks, built, gt } = syntheticOrganism()
const tools = promptTools(built.files)
const model = loadReference(built.files)
const template = (id: string) => syntheticTemplates.find((t) => t.id === id)!
const valence = gt.tasks.map((t) => t.valence)
const within = gt.tasks.map((t) => t.within)
const expectedOf = (templateId: string, i: number) =>
  gt.expected.find((e) => e.task_id === tasks[i]!.task_id && e.template_id === templateId)!
const run = (templateId: string, i: number, options: { other?: number; steer?: Steer; completion?: string } = {}) =>
  forward(
    model,
    tools.encode(messagesFor(template(templateId), tasks[i]!.prompt, options.completion, tasks[options.other ?? 0]!.prompt)),
    options.steer
  )
const ids = (words: ReadonlyArray<string>) => words.map(tools.id)
const pGood = (logits: Float64Array) => classProbs(logits, ids(["good", "bad"]))[0]!
const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!
  return s
}
const pearson = (x: ReadonlyArray<number>, y: ReadonlyArray<number>) => {
  const mx = x.reduce((a, b) => a + b, 0) / x.length
  const my = y.reduce((a, b) => a + b, 0) / y.length
  let sxy = 0, sxx = 0, syy = 0
  x.forEach((xi, i) => {
    sxy += (xi - mx) * (y[i]! - my)
    sxx += (xi - mx) ** 2
    syy += (y[i]! - my) ** 2
  })
  return sxy / Math.sqrt(sxx * syy)
}
const slope = (x: ReadonlyArray<number>, y: ReadonlyArray<number>) => {
  const mx = x.reduce((a, b) => a + b, 0) / x.length
  const my = y.reduce((a, b) => a + b, 0) / y.length
  return x.reduce((a, xi, i) => a + (xi - mx) * (y[i]! - my), 0) / x.reduce((a, xi) => a + (xi - mx) ** 2, 0)
}
const all = tasks.map((_, i) => i)
const pre = all.map((i) => run("qual_pre", i))
const post = all.map((i) => run("qual_post", i))

describe("organism planted properties (reference forward pass)", () => {
  it("carries the within-dataset part of valence on the planted direction after every planted layer, stronger after a post-task prompt", () => {
    // After the first planted block the template's scale multiplies it too.
    const scaleOf = (id: string, layer: number) =>
      layer === gt.directions[0]!.layer ? 1 : gt.templates.find((t) => t.template_id === id)!.scale
    for (const { layer, vector } of gt.directions) {
      const proPre = pre.map((r) => dot(r.hidden[layer]!, vector))
      const proPost = post.map((r) => dot(r.hidden[layer]!, vector))
      expect(pearson(proPre, within)).toBeGreaterThan(0.9999)
      expect(pearson(proPost, within)).toBeGreaterThan(0.9999)
      expect(slope(within, proPre) / (gt.signal.pre * scaleOf("qual_pre", layer))).toBeCloseTo(1, 2)
      expect(slope(within, proPost) / (gt.signal.post * scaleOf("qual_post", layer))).toBeCloseTo(1, 2)
    }
    // before the planted layer the direction carries nothing
    const before = pre.map((r) => dot(r.hidden[gt.directions[0]!.layer - 1]!, gt.directions[0]!.vector))
    expect(Math.max(...before.map(Math.abs))).toBeLessThan(1e-3)
  })

  it("varies independently in the dimensions orthogonal to the direction", () => {
    const { layer, vector } = gt.directions[0]!
    const orth = pre.map((r) => {
      const h = r.hidden[layer]!
      const p = dot(h, vector)
      return Array.from(h, (x, k) => x - p * vector[k]!)
    })
    const d = vector.length
    let total = 0
    for (let k = 0; k < d; k++) {
      const col = orth.map((o) => o[k]!)
      const m = col.reduce((a, b) => a + b, 0) / col.length
      total += col.reduce((a, b) => a + (b - m) ** 2, 0) / col.length
    }
    expect(total).toBeGreaterThan(0.01)
  })

  it("reads valence at a different scale for each template", () => {
    const scales = gt.templates.filter((t) => t.mode !== "revealed").map((t) => t.scale)
    expect(new Set(scales.map((x) => x.toFixed(6))).size).toBe(scales.length)
    const i = 8
    for (const name of ["qual_pre", "qual_post"]) {
      const row = gt.templates.find((t) => t.template_id === name)!
      const signal = name === "qual_pre" ? gt.signal.pre : gt.signal.post
      const r = name === "qual_pre" ? pre[i]! : post[i]!
      expect(Math.abs(pGood(r.logits) - 1 / (1 + Math.exp(-gt.slopes.beta * row.scale * signal * valence[i]!)))).toBeLessThan(0.01)
    }
  })

  it("answers good/bad with the closed-form probability, monotone in valence", () => {
    for (const [name, results] of [["qual_pre", pre], ["qual_post", post]] as const) {
      results.forEach((r, i) => {
        const full = softmax(r.logits)
        expect(full[tools.id("good")]! + full[tools.id("bad")]!).toBeGreaterThan(0.999)
        expect(Math.abs(pGood(r.logits) - expectedOf(name, i).expected_value)).toBeLessThan(0.01)
      })
    }
    const order = [...all].sort((a, b) => valence[a]! - valence[b]!)
    for (let k = 1; k < order.length; k++) {
      const [a, b] = [order[k - 1]!, order[k]!]
      if (valence[b]! - valence[a]! > 0.01) expect(pGood(pre[b]!.logits)).toBeGreaterThan(pGood(pre[a]!.logits))
    }
  })

  it("raises P(good) monotonically when steered along the direction at each planted layer", () => {
    // The template's scale multiplies the valence channel in the block after the first planted one, so steering
    // there is scaled too and steering after it is not.
    const scale = gt.templates.find((t) => t.template_id === "qual_pre")!.scale
    for (const { layer, vector } of gt.directions) {
      for (const i of [0, 17, 33, 50]) {
        const ps = [-3, -2, -1, 0, 1, 2, 3].map((c) => {
          const p = pGood(run("qual_pre", i, { steer: { layer, vector, coefficient: c } }).logits)
          const v = layer === gt.directions[0]!.layer ? scale * (gt.signal.pre * valence[i]! + c) : scale * gt.signal.pre * valence[i]! + c
          const closed = 1 / (1 + Math.exp(-gt.slopes.beta * v))
          expect(Math.abs(p - closed)).toBeLessThan(0.01)
          return p
        })
        for (let k = 1; k < ps.length; k++) expect(ps[k]!).toBeGreaterThan(ps[k - 1]!)
      }
    }
  })

  it("has the target single-sample cross-seed reliability, by simulation from the exact P(good)", () => {
    const p = (gt.reliability.timing === "post" ? post : pre).map((r) => pGood(r.logits))
    const prng = makePrng(11)
    const reps = 2000
    let sum = 0
    for (let rep = 0; rep < reps; rep++) {
      const a = p.map((pi) => (prng.next() < pi ? 1 : 0))
      const b = p.map((pi) => (prng.next() < pi ? 1 : 0))
      sum += pearson(a, b)
    }
    expect(Math.abs(sum / reps - gt.reliability.target)).toBeLessThan(0.03)
  })

  it("picks the task with the higher valence in revealed choices, more surely the larger the difference", () => {
    const labels = ids(["Task A:", "Task B:"])
    for (const name of ["revealed", "revealed_after"]) {
      const diffs: number[] = []
      const logits: number[] = []
      for (let k = 0; k < 16; k++) {
        const [a, b] = [(k * 7) % tasks.length, (k * 13 + 5) % tasks.length]
        const r = run(name, a, { other: b })
        const full = softmax(r.logits)
        expect(full[labels[0]!]! + full[labels[1]!]!).toBeGreaterThan(0.999)
        const pA = classProbs(r.logits, labels)[0]!
        const diff = valence[a]! - valence[b]!
        expect(Math.abs(pA - 1 / (1 + Math.exp(-gt.slopes.revealed * diff)))).toBeLessThan(0.01)
        const swapped = classProbs(run(name, b, { other: a }).logits, labels)[0]!
        expect(Math.abs(pA + swapped - 1)).toBeLessThan(0.01)
        diffs.push(diff)
        logits.push(Math.log(pA / (1 - pA)))
      }
      expect(pearson(diffs, logits)).toBeGreaterThan(0.999)
      expect(slope(diffs, logits)).toBeGreaterThan(0)
    }
  })

  it("gives 1-10 ratings and ternary answers with the closed-form distribution", () => {
    const digits = ids(DIGITS)
    for (const i of [3, 21, 38, 56]) {
      const stated = run("stated_pre", i)
      const full = softmax(stated.logits)
      expect(digits.reduce((a, id) => a + full[id]!, 0)).toBeGreaterThan(0.999)
      const mean = classProbs(stated.logits, digits).reduce((a, p, k) => a + p * (k + 1), 0)
      expect(Math.abs(mean - expectedOf("stated_pre", i).expected_value)).toBeLessThan(0.05)
      const ternary = classProbs(run("ternary_pre", i).logits, ids(["good", "bad", "neutral"]))
      expect(Math.abs(ternary[0]! + 0.5 * ternary[2]! - expectedOf("ternary_pre", i).expected_value)).toBeLessThan(0.01)
      expect(ternary[2]!).toBeGreaterThan(0.05)
    }
  })

  it("completes a task with sentiment words that follow its valence and ends its turn within a few dozen tokens", () => {
    const sentiment = new Map(SENTIMENT)
    const end = tools.id("<|end|>")
    const firstWordMean: number[] = []
    const chosen = [2, 14, 26, 40, 52]
    for (const i of chosen) {
      const prng = makePrng(100 + i)
      let seq = tools.encode([{ role: "user", content: tasks[i]!.prompt }])
      const first = softmax(forward(model, seq).logits)
      firstWordMean.push(SENTIMENT.reduce((a, [w, v]) => a + first[tools.id(w)]! * v, 0) / SENTIMENT.reduce((a, [w]) => a + first[tools.id(w)]!, 0))
      expect(SENTIMENT.reduce((a, [w]) => a + first[tools.id(w)]!, 0) + first[end]!).toBeGreaterThan(0.999)
      let ended = false
      for (let step = 0; step < 48 && !ended; step++) {
        const p = softmax(forward(model, seq).logits)
        let x = prng.next()
        let k = 0
        while (k < p.length - 1 && (x -= p[k]!) > 0) k++
        ended = k === end
        if (!ended) expect(sentiment.has(tools.tokenizer.id_to_token(k)!)).toBe(true)
        seq = [...seq, k]
      }
      expect(ended).toBe(true)
    }
    // The first word's mean sentiment is the open readout's closed form at the task's pre-task valence.
    chosen.forEach((i, k) => {
      const closed = answerDistribution("open", gt.signal.pre * valence[i]!, 0, gt.slopes)
      expect(Math.abs(firstWordMean[k]! - closed.reduce((a, { token, p }) => a + p * sentiment.get(token)!, 0))).toBeLessThan(0.01)
    })
    expect(pearson(chosen.map((i) => valence[i]!), firstWordMean)).toBeGreaterThan(0.9)
    for (const i of chosen) {
      const first = softmax(run("open_pre", i).logits)
      const mean = SENTIMENT.reduce((a, [w, v]) => a + first[tools.id(w)]! * v, 0) / SENTIMENT.reduce((a, [w]) => a + first[tools.id(w)]!, 0)
      expect(Math.abs(mean - expectedOf("open_pre", i).expected_value)).toBeLessThan(0.01)
    }
  })

  it("plants the same properties at other widths, depths and planted layers", () => {
    for (const [hiddenSize, layers, plantedLayer] of [[96, 4, 2], [128, 5, 3]] as const) {
      const other = syntheticOrganism({ spec: OrganismSpec.make({ hiddenSize, layers, plantedLayer }) })
      const otherTools = promptTools(other.built.files)
      const otherModel = loadReference(other.built.files)
      expect(other.gt.directions.map((d) => d.layer)).toEqual(Array.from({ length: layers - plantedLayer }, (_, k) => plantedLayer + k))
      for (const i of [4, 31]) {
        const r = forward(otherModel, otherTools.encode(messagesFor(template("qual_post"), tasks[i]!.prompt)))
        const expected = other.gt.expected.find((e) => e.task_id === tasks[i]!.task_id && e.template_id === "qual_post")!
        expect(Math.abs(classProbs(r.logits, [otherTools.id("good"), otherTools.id("bad")])[0]! - expected.expected_value)).toBeLessThan(0.01)
        const { layer, vector } = other.gt.directions[0]!
        expect(Math.abs(dot(r.hidden[layer]!, vector) - other.gt.signal.post * other.gt.tasks[i]!.within)).toBeLessThan(0.01)
      }
    }
  })

  it("ends its turn right after an answer token", () => {
    const end = tools.id("<|end|>")
    for (const [name, answer] of [["qual_pre", "good"], ["stated_pre", "7"], ["revealed", "Task B:"]] as const) {
      const prompt = tools.encode(messagesFor(template(name), tasks[5]!.prompt, undefined, tasks[9]!.prompt))
      const p = softmax(forward(model, [...prompt, tools.id(answer)]).logits)
      expect(p[end]!, name).toBeGreaterThan(0.999)
    }
  })
})
