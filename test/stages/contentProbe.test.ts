import { describe, expect, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { type Loaded, loadedOutputs } from "../../pipeline/Artifact"
import { ProbesConfig } from "../../pipeline/Config"
import { contentOutputs } from "../../stages/contentFeatures"
import { type ContentProbeEvaluation, contentProbe } from "../../stages/contentProbe"
import { ScoresSchema, TasksSchema, toMatrixTable, toTable } from "../../stages/tables"
import { makePrng } from "../../stats/prng"

/**
 * Tasks of four origins with content features c and activations a = c·M + e: the target is a read-out of the content
 * (`target: "content"`) or of e, the part of the activations content cannot predict (`target: "other"`).
 */
const synthetic = (target: "content" | "other", dropFeaturesOf?: string) => {
  const prng = makePrng(5)
  const normal = () => Math.sqrt(-2 * Math.log(Math.max(prng.next(), 1e-12))) * Math.cos(2 * Math.PI * prng.next())
  const origins = ["a", "b", "c", "d"]
  const p = 6, d = 12
  const tasks = origins.flatMap((origin) => Array.from({ length: 40 }, (_, i) => ({ task_id: `${origin}${i}`, origin, prompt: "p", meta: "{}" })))
  const content = tasks.map(() => Float32Array.from({ length: p }, normal))
  const mix = Array.from({ length: p }, () => Array.from({ length: d }, normal))
  const other = tasks.map(() => Float32Array.from({ length: d }, () => 0.5 * normal()))
  const vectors = tasks.map((_, k) => Float32Array.from(other[k]!, (e, j) => e + content[k]!.reduce((s, c, i) => s + c * mix[i]![j]!, 0)))
  const scores = tasks.flatMap((t, k) => {
    const value = 0.5 + 0.1 * (target === "content" ? content[k]![0]! - content[k]![1]! : 2 * other[k]![2]!)
    return [0, 1].map((sample) => ({ task_id: t.task_id, template_id: "q", sample, value, normalized: value, expected: null, tier: "exact", reason: null, pair_task_id: null, order: null }))
  })
  const activations = toMatrixTable(
    { task_id: tasks.map((t) => t.task_id), template_id: tasks.map(() => "q"), sample: tasks.map(() => 0), layer: tasks.map(() => 1), position: tasks.map(() => "prompt_last") },
    vectors,
    d
  )
  const kept = tasks.flatMap((t, k) => (t.task_id === dropFeaturesOf ? [] : [{ id: t.task_id, v: content[k]! }]))
  const features = contentOutputs(kept.map((f) => f.id), kept.map((f) => f.v), { provider: "test", dim: p, tasks: kept.length })
  return {
    tasks: loadedOutputs("sample", { tasks: { _tag: "Table", table: toTable(TasksSchema, tasks) } }),
    scores: loadedOutputs("parse[q]", { scores: { _tag: "Table", table: toTable(ScoresSchema, scores) } }),
    activations: loadedOutputs("activations[q]", { activations: { _tag: "Matrix", table: activations } }),
    features: loadedOutputs("content_test", { features: features.features as Loaded, info: features.info as Loaded })
  }
}

const evaluate = (target: "content" | "other", dropFeaturesOf?: string) =>
  contentProbe
    .run({
      node: "content_probe[q@1|test]",
      key: "k",
      params: { template_id: "q", layer: 1, position: "prompt_last", provider: "test", seed: 1, probes: Schema.decodeSync(ProbesConfig)({ bootstrap: 100 }) },
      inputs: synthetic(target, dropFeaturesOf),
      progress: { total: () => Effect.void, done: () => Effect.void }
    })
    .pipe(Effect.map((out) => (out.evaluation as { value: ContentProbeEvaluation }).value))

describe("content_probe", () => {
  it.effect("a target read off the content: the content-only probe finds it, the content-orthogonal probe finds nothing", () =>
    Effect.gen(function* () {
      const e = yield* evaluate("content")
      expect(e.n_tasks).toBe(160)
      expect(Object.keys(e.content_only.hoo).sort()).toEqual(["a", "b", "c", "d"])
      expect(e.content_only.r2.lo).toBeGreaterThan(0.95)
      for (const h of Object.values(e.content_only.hoo)) expect(h.r2.lo).toBeGreaterThan(0.9)
      // A probe that learned nothing predicts about its training mean: R² just below 0 (see test/stats/orthogonalProbe).
      for (const h of Object.values(e.content_orthogonal.hoo)) {
        expect(h.r2.lo).toBeLessThanOrEqual(0)
        expect(h.r2.hi).toBeGreaterThanOrEqual(-1 / h.n_test)
      }
      expect(e.content_orthogonal.r2.lo).toBeLessThanOrEqual(0)
      expect(e.content_orthogonal.residual.cv_r2).toBeGreaterThan(0.8)
      expect(e.content_orthogonal.probe.weights).toHaveLength(12)
    }))

  it.effect("a target carried by what content cannot predict: the content-orthogonal probe keeps it, content alone does not", () =>
    Effect.gen(function* () {
      const e = yield* evaluate("other")
      expect(e.content_orthogonal.r2.lo).toBeGreaterThan(0.8)
      for (const h of Object.values(e.content_orthogonal.hoo)) expect(h.r2.lo).toBeGreaterThan(0.7)
      const w = e.content_orthogonal.probe.weights
      expect(Math.abs(w[2]!)).toBeGreaterThan(0.9 * Math.hypot(...w))
      expect(e.content_only.r2.estimate).toBeLessThan(0.05)
      expect(Object.values(e.content_only.r2_by_group).reduce((n, g) => n + g.n, 0)).toBe(160)
    }))

  it.effect("a task without content features (a server could not embed it) is left out of both baselines and named", () =>
    Effect.gen(function* () {
      const e = yield* evaluate("content", "c7")
      expect(e.n_tasks).toBe(159)
      expect(e.without_features).toEqual(["c7"])
      expect(e.content_only.hoo.c!.n_test).toBe(39)
      expect(Object.values(e.content_orthogonal.r2_by_group).reduce((n, g) => n + g.n, 0)).toBe(159)
      expect(e.content_only.r2.lo).toBeGreaterThan(0.95)
      const full = yield* evaluate("content")
      expect(full.without_features).toEqual([])
    }))
})
