/**
 * The organism through the project's own loader, ONNX compiler and runtime (the path every checkpoint takes),
 * against the closed forms it exports. Tolerance 0.01 on probabilities (float32 runtime, documented ~1e-3 approximation).
 */
import { NodeContext } from "@effect/platform-node"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { writeOrganism } from "../../model/Organism"
import { OrganismSpec } from "../../model/OrganismSpec"
import { SENTIMENT } from "../../model/organism/Vocabulary"
import { layerCheckpoint, SubjectModel } from "../../model/SubjectModel"
import { messagesFor, syntheticOrganism, syntheticTemplates } from "./organism/fixtures"

const { tasks, built, gt } = syntheticOrganism()
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prefpipe-organism-"))
const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), "prefpipe-organism-onnx-"))
const written = Effect.runPromise(writeOrganism(dir, built.files).pipe(Effect.provide(NodeContext.layer)))
const modelLayer = Layer.unwrapEffect(
  Effect.promise(() => written).pipe(Effect.as(layerCheckpoint({ dir, cacheDir, batchSize: 8 }).pipe(Layer.provide(NodeContext.layer))))
)
const template = (id: string) => syntheticTemplates.find((t) => t.id === id)!
const chat = (templateId: string, i: number, other = 0) => ({
  kind: "chat" as const,
  messages: messagesFor(template(templateId), tasks[i]!.prompt, undefined, tasks[other]!.prompt),
  addGenerationPrompt: true
})
const expectedOf = (templateId: string, i: number) =>
  gt.expected.find((e) => e.task_id === tasks[i]!.task_id && e.template_id === templateId)!.expected_value
const sample = [0, 9, 18, 27, 36, 45, 54]
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x))

describe("organism through the SubjectModel runtime", () => {
  afterAll(() => {
    for (const d of [dir, cacheDir]) fs.rmSync(d, { recursive: true, force: true })
  })

  it.effect("scores good/bad with the closed-form probability, pre- and post-task", () =>
    Effect.gen(function* () {
      const model = yield* SubjectModel
      expect(model.info.architecture).toBe("LlamaForCausalLM")
      for (const name of ["qual_pre", "qual_post"]) {
        const scores = yield* model.scoreOptions(sample.map((i) => ({ prompt: chat(name, i), options: ["good", "bad"] })))
        scores.forEach((s, k) => {
          expect(s.probs[0]! + s.probs[1]!).toBeGreaterThan(0.999)
          expect(Math.abs(s.normalized[0]! - expectedOf(name, sample[k]!))).toBeLessThan(0.01)
        })
      }
    }).pipe(Effect.provide(modelLayer)))

  it.effect("exposes the within-dataset part of valence on the planted direction in its activations", () =>
    Effect.gen(function* () {
      const model = yield* SubjectModel
      const layers = gt.directions.map((d) => d.layer)
      const acts = yield* model.activations(sample.map((i) => ({ prompt: chat("qual_pre", i), layers, selectors: ["prompt_last"] })))
      // After the first planted block the template's scale multiplies the direction too.
      const scale = gt.templates.find((t) => t.template_id === "qual_pre")!.scale
      acts.forEach((a, k) => {
        for (const { layer, vector } of gt.directions) {
          const h = a.prompt_last![layer]!
          const projection = vector.reduce((s, u, j) => s + u * h[j]!, 0)
          const gain = gt.signal.pre * (layer === gt.directions[0]!.layer ? 1 : scale)
          expect(Math.abs(projection - gain * gt.tasks[sample[k]!]!.within)).toBeLessThan(0.01)
        }
      })
    }).pipe(Effect.provide(modelLayer)))

  it.effect("raises P(good) monotonically under steering along the direction", () =>
    Effect.gen(function* () {
      const model = yield* SubjectModel
      const { layer, vector } = gt.directions[0]!
      const coefficients = [-2, -1, 0, 1, 2]
      const scores = yield* model.scoreOptions(coefficients.map((coefficient) => ({
        prompt: chat("qual_pre", 18),
        options: ["good", "bad"],
        steering: { layer, direction: vector, coefficient, positions: { kind: "all" as const }, normalization: { kind: "unit" as const } }
      })))
      const p = scores.map((s) => s.normalized[0]!)
      for (let k = 1; k < p.length; k++) expect(p[k]!).toBeGreaterThan(p[k - 1]!)
      const scale = gt.templates.find((t) => t.template_id === "qual_pre")!.scale
      coefficients.forEach((c, k) =>
        expect(Math.abs(p[k]! - sigmoid(gt.slopes.beta * scale * (gt.signal.pre * gt.tasks[18]!.valence + c)))).toBeLessThan(0.01)
      )
    }).pipe(Effect.provide(modelLayer)))

  it.effect("chooses between two tasks with P(Task A) = σ(βr·(valence A − valence B))", () =>
    Effect.gen(function* () {
      const model = yield* SubjectModel
      const pairs = sample.map((a, k) => [a, sample[(k + 3) % sample.length]!] as const)
      const scores = yield* model.scoreOptions(pairs.map(([a, b]) => ({ prompt: chat("revealed", a, b), options: ["Task A:", "Task B:"] })))
      scores.forEach((s, k) => {
        const [a, b] = pairs[k]!
        const closed = sigmoid(gt.slopes.revealed * (gt.tasks[a]!.valence - gt.tasks[b]!.valence))
        expect(Math.abs(s.normalized[0]! - closed)).toBeLessThan(0.01)
      })
    }).pipe(Effect.provide(modelLayer)))

  it.effect("completes tasks with sentiment words and stops at its end-of-turn token", () =>
    Effect.gen(function* () {
      const model = yield* SubjectModel
      const words = new Set(SENTIMENT.map(([w]) => w))
      const generations = yield* model.generate(sample.map((i, k) => ({
        prompt: { kind: "chat" as const, messages: [{ role: "user", content: tasks[i]!.prompt }], addGenerationPrompt: true },
        maxTokens: 64,
        temperature: 1,
        topP: 1,
        seed: k
      })))
      for (const g of generations) {
        expect(g.finish).toBe("eos")
        expect(g.text.split(" ").filter((w) => w.length > 0).every((w) => words.has(w))).toBe(true)
      }
    }).pipe(Effect.provide(modelLayer)))
})

describe("planted personas through the SubjectModel runtime", () => {
  const spec = OrganismSpec.make({
    personas: [
      { keyword: "villain", channel: "direction", shifts: { bailbench: 1.2, math: -0.6 } },
      { keyword: "pirate", channel: "behaviour", shifts: { alpaca: -0.9, bailbench: 0.5 } }
    ]
  })
  const personas = [
    { id: "default", system: "" },
    { id: "villain", system: "You are a villain." },
    { id: "pirate", system: "You are a pirate." }
  ]
  const planted = syntheticOrganism({ spec, personas })
  const personaDir = fs.mkdtempSync(path.join(os.tmpdir(), "prefpipe-organism-personas-"))
  const personaCache = fs.mkdtempSync(path.join(os.tmpdir(), "prefpipe-organism-personas-onnx-"))
  const personaWritten = Effect.runPromise(writeOrganism(personaDir, planted.built.files).pipe(Effect.provide(NodeContext.layer)))
  const personaLayer = Layer.unwrapEffect(
    Effect.promise(() => personaWritten).pipe(
      Effect.as(layerCheckpoint({ dir: personaDir, cacheDir: personaCache, batchSize: 8 }).pipe(Layer.provide(NodeContext.layer)))
    )
  )
  const prompt = (persona: string, i: number) => ({
    kind: "chat" as const,
    messages: [
      ...(persona === "default" ? [] : [{ role: "system", content: personas.find((p) => p.id === persona)!.system }]),
      ...messagesFor(template("qual_pre"), tasks[i]!.prompt)
    ],
    addGenerationPrompt: true
  })
  afterAll(() => {
    for (const d of [personaDir, personaCache]) fs.rmSync(d, { recursive: true, force: true })
  })

  it.effect("answers with each persona's closed-form P(good), and only the direction persona moves the planted direction", () =>
    Effect.gen(function* () {
      const model = yield* SubjectModel
      const { layer, vector } = planted.gt.directions[0]!
      for (const persona of ["default", "villain", "pirate"]) {
        const scores = yield* model.scoreOptions(sample.map((i) => ({ prompt: prompt(persona, i), options: ["good", "bad"] })))
        const acts = yield* model.activations(sample.map((i) => ({ prompt: prompt(persona, i), layers: [layer], selectors: ["prompt_last"] })))
        sample.forEach((i, k) => {
          const expected = planted.gt.expected.find((e) => e.task_id === tasks[i]!.task_id && e.template_id === "qual_pre" && e.persona_id === persona)!
          expect(Math.abs(scores[k]!.normalized[0]! - expected.expected_value), `${persona} ${i}`).toBeLessThan(0.01)
          const h = acts[k]!.prompt_last![layer]!
          const shift = persona === "villain" ? spec.personas[0]!.shifts[tasks[i]!.origin] ?? 0 : 0
          const within = planted.gt.tasks[i]!.within
          expect(Math.abs(vector.reduce((s, u, j) => s + u * h[j]!, 0) - planted.gt.signal.pre * (within + shift))).toBeLessThan(0.01)
        })
      }
    }).pipe(Effect.provide(personaLayer)))
})
