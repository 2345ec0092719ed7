import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import { loadedOutputs } from "../../pipeline/Artifact"
import { probeTransferStage, type TransferEvaluation } from "../../stages/probeTransfer"
import { fromTable, ScoresSchema, TasksSchema, toMatrixTable, toTable } from "../../stages/tables"
import { makePrng } from "../../stats/prng"

/**
 * 80 tasks of two origins whose mean score is 0.5 + 0.1·x₀ (two samples ±0.02 around it). Under the other condition,
 * `move` says how far a task moves along x₀ (and so its target), and `extra` how much its target moves with no change
 * in the activations.
 */
const synthetic = (move: (origin: string) => number, extra: (origin: string) => number, count = 80, withExpected = false) => {
  const prng = makePrng(3)
  const normal = () => Math.sqrt(-2 * Math.log(Math.max(prng.next(), 1e-12))) * Math.cos(2 * Math.PI * prng.next())
  const dim = 6
  const tasks = Array.from({ length: count }, (_, k) => ({ task_id: `t${String(k).padStart(3, "0")}`, origin: k % 2 === 0 ? "a" : "b", prompt: "p", meta: "{}" }))
  const vectors = tasks.map(() => Float32Array.from({ length: dim }, normal))
  const condition = (name: string, shifted: boolean) => {
    const xs = vectors.map((v, k) => Float32Array.from(v, (x, j) => (shifted && j === 0 ? x + move(tasks[k]!.origin) : x)))
    const scores = tasks.flatMap((t, k) =>
      [0, 1].map((sample) => {
        const mean = 0.5 + 0.1 * xs[k]![0]! + (shifted ? extra(t.origin) : 0)
        // With option probabilities the answers themselves are coin flips around the mean; without, close to it.
        const value = withExpected ? (prng.next() < mean ? 1 : 0) : mean + (sample === 0 ? 0.02 : -0.02)
        const expected = withExpected ? mean : null
        return { task_id: t.task_id, template_id: "q", sample, value, normalized: value, expected, tier: "exact", reason: null, pair_task_id: null, order: null }
      })
    )
    const keys = { task_id: tasks.map((t) => t.task_id), template_id: tasks.map(() => "q"), sample: tasks.map(() => 0), layer: tasks.map(() => 1), position: tasks.map(() => "prompt_last") }
    return {
      scores: loadedOutputs(`parse[q|${name}]`, { scores: { _tag: "Table", table: toTable(ScoresSchema, scores) } }),
      activations: loadedOutputs(`activations[q|${name}]`, { activations: { _tag: "Matrix", table: toMatrixTable(keys, xs, dim) } })
    }
  }
  const trained = condition("a", false)
  const other = condition("b", true)
  return {
    tasks: loadedOutputs("sample", { tasks: { _tag: "Table", table: toTable(TasksSchema, tasks) } }),
    trained_scores: trained.scores,
    trained_activations: trained.activations,
    scores: other.scores,
    activations: other.activations
  }
}

const run = (inputs: ReturnType<typeof synthetic>) =>
  probeTransferStage
    .run({
      node: "probe_transfer[q|b@1]",
      key: "k",
      params: { template_id: "q", layer: 1, position: "prompt_last", seed: 4, probes: { alphas: [1e-3, 1e-1, 10], folds: 5, alphaSelection: "kfold", alphaRule: "best", bootstrap: 100 } },
      inputs,
      progress: { total: () => Effect.void, done: () => Effect.void }
    })
    .pipe(Effect.map((out) => ({ evaluation: (out.transfer as { value: TransferEvaluation }).value, tasks: fromTable<any>((out.tasks as { table: any }).table) })))

describe("probe_transfer", () => {
  it.effect("a condition that moves tasks along the probed direction: the predicted shift tracks the measured one at slope 1", () =>
    Effect.gen(function* () {
      const { evaluation, tasks } = yield* run(synthetic((o) => (o === "a" ? 2 : -1), () => 0))
      expect(evaluation.n_tasks).toBe(80)
      expect(evaluation.shift.pearson_r.estimate!).toBeGreaterThan(0.99)
      expect(evaluation.shift.slope.estimate!).toBeCloseTo(1, 2)
      // Mean measured shift: half the tasks move by +0.2, half by −0.1.
      expect(evaluation.shift.mean_measured.estimate!).toBeCloseTo(0.05, 6)
      expect(evaluation.transfer.r2.estimate!).toBeGreaterThan(0.95)
      // Each sample carries the same offset under both conditions, so even and odd samples measure the same shift.
      expect(evaluation.shift.ceiling!).toBeCloseTo(1, 6)
      expect(tasks).toHaveLength(80)
      expect(new Set(tasks.map((t) => t.fold)).size).toBe(5)
    })
  )

  it.effect("with option probabilities for every answer, targets are the expected answers, free of the answers' sampling noise", () =>
    Effect.gen(function* () {
      const noisy = yield* run(synthetic((o) => (o === "a" ? 2 : -1), () => 0, 80, true))
      expect(noisy.evaluation.measure).toBe("expected")
      expect(noisy.evaluation.shift.pearson_r.estimate!).toBeGreaterThan(0.99)
      expect(noisy.evaluation.shift.mean_measured.estimate!).toBeCloseTo(0.05, 6)
      expect((yield* run(synthetic((o) => (o === "a" ? 2 : -1), () => 0))).evaluation.measure).toBe("answers")
    })
  )

  it.effect("a condition that moves the answers but not the activations: no shift predicted, correlation undefined", () =>
    Effect.gen(function* () {
      const { evaluation } = yield* run(synthetic(() => 0, (o) => (o === "a" ? 0.2 : -0.1)))
      expect(evaluation.shift.sd_predicted).toBe(0)
      expect(evaluation.shift.pearson_r.estimate).toBeNull()
      expect(evaluation.shift.mean_measured.estimate!).toBeCloseTo(0.05, 6)
      expect(evaluation.shift.mean_predicted.estimate).toBe(0)
      // The probe misses the answers' move, so it predicts the other condition worse than its own.
      expect(evaluation.transfer.r2.estimate!).toBeLessThan(evaluation.trained.r2.estimate! - 0.5)
    })
  )

  it.effect("too few shared tasks fail with a message naming the template, layer and counts", () =>
    Effect.gen(function* () {
      const result = yield* Effect.either(run(synthetic(() => 0, () => 0, 8)))
      expect(Either.isLeft(result)).toBe(true)
      expect(String((result as Either.Left<any, any>).left.message)).toContain("probe transfer of q at layer 1: only 8 tasks")
    })
  )
})
