import { describe, expect, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { loadedOutputs } from "../../pipeline/Artifact"
import { ProbesConfig } from "../../pipeline/Config"
import { type ProbeEvaluation, probeEval } from "../../stages/probeEval"
import { ScoresSchema, TasksSchema, toMatrixTable, toTable } from "../../stages/tables"
import { makePrng } from "../../stats/prng"

/** Tasks of four origins whose targets are a linear read-out of the activations plus an origin offset the activations lack. */
const synthetic = (binary = false) => {
  const prng = makePrng(7)
  const normal = () => {
    const u = Math.max(prng.next(), 1e-12)
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * prng.next())
  }
  const origins = ["a", "b", "c", "d"]
  const offsets: Record<string, number> = { a: 0.3, b: -0.3, c: 0.15, d: -0.15 }
  const dim = 8
  const tasks = origins.flatMap((origin) => Array.from({ length: 30 }, (_, i) => ({ task_id: `${origin}${i}`, origin, prompt: "p", meta: "{}" })))
  const vectors = tasks.map(() => Float32Array.from({ length: dim }, normal))
  const scores = tasks.flatMap((t, k) => {
    const target = 0.5 + 0.1 * vectors[k]![0]! + offsets[t.origin]!
    const value = (sample: number) => (binary ? (vectors[k]![0]! + (sample === 0 ? 0.3 : -0.3) > 0 ? 1 : 0) : target)
    return [0, 1].map((sample) => ({ task_id: t.task_id, template_id: "q", sample, value: value(sample), normalized: value(sample), expected: null, tier: "exact", reason: null, pair_task_id: null, order: null }))
  })
  const activations = toMatrixTable(
    { task_id: tasks.map((t) => t.task_id), template_id: tasks.map(() => "q"), sample: tasks.map(() => 0), layer: tasks.map(() => 1), position: tasks.map(() => "prompt_last") },
    vectors,
    dim
  )
  return {
    tasks: loadedOutputs("sample", { tasks: { _tag: "Table", table: toTable(TasksSchema, tasks) } }),
    scores: loadedOutputs("parse[q]", { scores: { _tag: "Table", table: toTable(ScoresSchema, scores) } }),
    activations: loadedOutputs("activations[q]", { activations: { _tag: "Matrix", table: activations } })
  }
}

const evaluate = (demean: ReadonlyArray<string>, binary = false) =>
  probeEval
    .run({
      node: "probe_eval[q@1]",
      key: "k",
      params: { template_id: "q", layer: 1, position: "prompt_last", seed: 1, probes: Schema.decodeSync(ProbesConfig)({ bootstrap: 50, demean: [...demean] }) },
      inputs: synthetic(binary),
      progress: { total: () => Effect.void, done: () => Effect.void }
    })
    .pipe(Effect.map((out) => (out.evaluation as { value: ProbeEvaluation }).value))

describe("probe_eval", () => {
  it.effect("demeaning the target against origin removes offsets the activations cannot carry", () =>
    Effect.gen(function* () {
      const raw = yield* evaluate([])
      const demeaned = yield* evaluate(["origin"])
      expect(demeaned.demeaned).toEqual(["origin"])
      const worst = (e: ProbeEvaluation) => Math.min(...Object.values(e.hoo).map((h) => h.r2.estimate))
      // With the offsets in the target, a probe trained on three origins misses the fourth's offset.
      expect(worst(raw)).toBeLessThan(0)
      // Without them, what is left is (up to each origin's sample mean) a linear read-out of the activations.
      expect(worst(demeaned)).toBeGreaterThan(0.7)
      expect(worst(demeaned)).toBeGreaterThan(worst(raw) + 0.5)
      expect(raw.logistic).toBeNull()
    })
  )

  it.effect("fits a logistic probe of the majority answer when answers are binary", () =>
    Effect.gen(function* () {
      const e = yield* evaluate([], true)
      expect(e.logistic).not.toBeNull()
      expect(e.logistic!.cv_accuracy).toBeGreaterThan(0.8)
      const [first, ...rest] = e.logistic!.weights
      expect(first!).toBeGreaterThan(Math.max(...rest.map(Math.abs)))
    })
  )
})
