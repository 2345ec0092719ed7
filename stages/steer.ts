import { Effect, Either, Schema } from "effect"
import { memoMap } from "../cache/Memo"
import type { Task } from "../datasets/Task"
import { conversationFor } from "../elicitation/Conversation"
import { parseResponse } from "../elicitation/parse/Parse"
import { Template } from "../elicitation/Template"
import type { Prompt } from "../model/Prompt"
import type { Steering, SteeringPositions } from "../model/Steering"
import * as Artifact from "../pipeline/Artifact"
import { ElicitationConfig, SteeringConfig } from "../pipeline/Config"
import { hashValue } from "../core/Key"
import * as Stage from "../pipeline/Stage"
import { meanDifference } from "../stats/meanDifference"
import { cosine } from "../stats/metrics"
import { makePrng } from "../stats/prng"
import { revealedPairs } from "./elicit"
import { RuntimeParams, runtimeKey, subjectModel } from "./modelInput"
import type { ProbeEvaluation } from "./probeEval"
import { taskTargets } from "./probeData"
import { deriveSeed } from "./seeds"
import { analyseDirections, type DirectionResult, type OptionPoint, type SteeredSample } from "./steerAnalysis"
import { fromTable, matrixOf, toTable } from "./tables"
import { failedCompletions, firstCompletions, taskRows } from "./taskRows"

/** A steering run that cannot be set up: an unusable template, positions mode, layer or direction. */
export class SteeringError extends Schema.TaggedError<SteeringError>()("SteeringError", {
  template_id: Schema.String,
  layer: Schema.Number,
  reason: Schema.String
}) {
  get message() {
    return `steering ${this.template_id} at layer ${this.layer}: ${this.reason}`
  }
}

/** The stage's result as reports read it: what was steered and how, and the analysis of each direction. */
export interface SteeringSummary {
  readonly template_id: string
  readonly kind: "qualitative" | "revealed"
  /** What P(good) means here: the label of the good option, or "Task A" for revealed choices. */
  readonly outcome: string
  readonly probe_template_id: string
  readonly layer: number
  readonly positions: SteeringConfig["positions"]
  readonly normalization: SteeringConfig["normalization"]
  /** Mean residual norm at the layer over the calibration prompts (the unit of `residual_norm` coefficients). */
  readonly mean_norm: number
  readonly calibration_prompts: number
  /** How the coefficients were chosen when the config set none (magnitudes in mean residual norms); null when it set them. */
  readonly calibration: CoefficientCalibration | null
  readonly coefficients: ReadonlyArray<number>
  readonly tasks: number
  readonly units: number
  readonly samples: number
  /** Per direction: its cosine with the probe (and the planted direction when known) and its analysis. */
  readonly directions: Record<string, DirectionResult & { readonly cosine_probe: number; readonly cosine_planted: number | null }>
}
type SteeringConfig = typeof SteeringConfig.Type

const SteerParams = Schema.Struct({
  template: Template,
  probe_template_id: Schema.String,
  layer: Schema.Int,
  /** The activation selector the probe was trained at (its mean-difference direction uses the same rows). */
  position: Schema.String,
  steering: SteeringConfig,
  elicitation: ElicitationConfig,
  system: Schema.String,
  seed: Schema.Int,
  runtime: RuntimeParams
})

/** One question: a task (with its partner and display order for revealed templates) and its prompt. */
interface Unit {
  readonly task: Task
  readonly partner?: Task
  readonly order?: "ab" | "ba"
  /** The texts shown as Task A and Task B (revealed). */
  readonly shown?: readonly [string, string]
  readonly prompt: Prompt
}

/** A direction to steer along, by name. */
interface Direction {
  readonly name: string
  readonly vector: Float32Array
  readonly hash: string
}

/** One steering setting: a direction and coefficient, or the shared unsteered baseline (no direction, coefficient 0). */
interface Run {
  readonly direction?: Direction
  readonly coefficient: number
}

/**
 * A seeded Gaussian direction (Box-Muller over the project PRNG) scaled to `norm`, with its components along
 * `orthogonalTo` removed first (Gram-Schmidt): in a small residual stream a random direction shares a noticeable
 * part of any given direction (|cosine| ≈ 1/√d), and the control must not carry the candidate directions' effect.
 */
export const randomDirection = (seed: number, dim: number, norm: number, orthogonalTo: ReadonlyArray<ArrayLike<number>> = []): Float32Array => {
  if (orthogonalTo.length >= dim) throw new Error(`randomDirection: orthogonalTo has ${orthogonalTo.length} directions, need fewer than dim = ${dim}`)
  orthogonalTo.forEach((u, i) => {
    if (u.length !== dim) throw new Error(`randomDirection: orthogonalTo[${i}] has ${u.length} values, expected ${dim}`)
  })
  const prng = makePrng(seed)
  const v = new Float64Array(dim)
  for (let i = 0; i < dim; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - prng.next())), theta = 2 * Math.PI * prng.next()
    v[i] = r * Math.cos(theta)
    if (i + 1 < dim) v[i + 1] = r * Math.sin(theta)
  }
  const basis: Float64Array[] = []
  for (const u of orthogonalTo) {
    const b = Float64Array.from(u)
    for (const q of basis) {
      const dot = b.reduce((a, x, j) => a + x * q[j]!, 0)
      for (let j = 0; j < dim; j++) b[j]! -= dot * q[j]!
    }
    const length = Math.sqrt(b.reduce((a, x) => a + x * x, 0))
    if (length > 1e-12) basis.push(b.map((x) => x / length))
  }
  for (const q of basis) {
    const dot = v.reduce((a, x, j) => a + x * q[j]!, 0)
    for (let j = 0; j < dim; j++) v[j]! -= dot * q[j]!
  }
  const scale = norm / Math.sqrt(v.reduce((a, x) => a + x * x, 0))
  return Float32Array.from(v, (x) => x * scale)
}

/** What coefficient calibration found when the config sets no coefficients (see `calibrateCoefficients`). */
export interface CoefficientCalibration {
  /** Share of the calibration prompts' unsteered answers that parsed. */
  readonly baseline: number
  /** Every magnitude tried, in mean residual norms, with the lowest parsed share over directions and signs and where it was. */
  readonly levels: ReadonlyArray<{ readonly residual_norms: number; readonly parsed: number; readonly worst: string }>
  /** The largest magnitude tried at which every direction, both ways, kept `calibrationRule.keep` of the baseline parse rate. */
  readonly chosen: number
  /** The sweep, in mean residual norms: −c, −c/2, 0, c/2, c for c half the chosen magnitude, rounded down to three digits. */
  readonly coefficients: ReadonlyArray<number>
}

/**
 * The calibration's search: magnitudes in mean residual norms, starting at `start`, doubling up to `max` while the
 * answers keep parsing or halving down to `min` until they do, then `refinements` geometric bisections between the
 * last magnitude that kept `keep` of the unsteered parse rate and the first that did not.
 */
export const calibrationRule = { keep: 0.8, start: 1, max: 8, min: 1e-5, refinements: 3 } as const

const threeDigitsDown = (x: number) => {
  const step = 10 ** (Math.floor(Math.log10(x)) - 2)
  return Number((Math.floor(x / step + 1e-9) * step).toPrecision(3))
}

/**
 * Chooses steering coefficients from the model's own behaviour: the largest magnitude (in mean residual norms) at
 * which steering along every direction, either way, leaves the answers parseable as often as `calibrationRule.keep`
 * of the unsteered ones, and a sweep up to half of it. `share(m)` steers the calibration prompts at ±m along every
 * direction and returns the lowest parsed share with where it occurred (`share(0)` is the unsteered baseline).
 * Returns the reason instead when no magnitude can be chosen.
 */
export const calibrateCoefficients = <E, R>(options: {
  readonly share: (residualNorms: number) => Effect.Effect<{ readonly label: string; readonly share: number }, E, R>
  readonly progress: Stage.StageProgress
}): Effect.Effect<CoefficientCalibration | string, E, R> =>
  Effect.gen(function* () {
    const rule = calibrationRule
    const levels: Array<{ residual_norms: number; parsed: number; worst: string }> = []
    yield* options.progress.done(0, "calibrating coefficients: unsteered answers")
    const baseline = (yield* options.share(0)).share
    if (baseline === 0) return "no unsteered answer of the calibration prompts parsed, so no coefficient keeps the answer format; set steering.coefficients"
    const intact = (m: number) =>
      Effect.gen(function* () {
        yield* options.progress.done(levels.length + 1, `calibrating coefficients: ±${m.toPrecision(3)} residual norms`)
        const worst = yield* options.share(m)
        levels.push({ residual_norms: m, parsed: worst.share, worst: worst.label })
        return worst.share >= rule.keep * baseline
      })
    let lo: number | undefined
    let hi: number | undefined
    let m: number = rule.start
    if (yield* intact(m)) {
      lo = m
      while (m < rule.max) {
        m *= 2
        if (yield* intact(m)) lo = m
        else {
          hi = m
          break
        }
      }
    } else {
      hi = m
      while (lo === undefined && m / 2 >= rule.min) {
        m /= 2
        if (yield* intact(m)) lo = m
        else hi = m
      }
    }
    if (lo === undefined) return `answers stop parsing at every magnitude down to ${rule.min.toExponential()} residual norms; set steering.coefficients`
    for (let k = 0; k < rule.refinements && hi !== undefined; k++) {
      const mid = Math.sqrt(lo * hi)
      if (yield* intact(mid)) lo = mid
      else hi = mid
    }
    // Half the last magnitude that kept the format: the cliff is steep (on the default experiment's organism every
    // calibration answer parses at 0.0072 residual norms and 69% at 0.0078), and the control direction starts to
    // move the answers near it.
    const c = threeDigitsDown(lo / 2)
    return { baseline, levels, chosen: lo, coefficients: [-c, -threeDigitsDown(c / 2), 0, threeDigitsDown(c / 2), c] }
  })

/** The steering positions of a unit under a mode; undefined when the mode does not apply to the template. */
export const positionsFor = (mode: SteeringConfig["positions"], unit: { readonly task: Task; readonly shown?: readonly [string, string] }): SteeringPositions | undefined => {
  switch (mode) {
    case "all":
    case "autoregressive":
      return { kind: mode }
    case "task":
      return { kind: "span", text: unit.shown?.[0] ?? unit.task.prompt }
    case "differential":
      return unit.shown === undefined ? undefined : { kind: "differential", positive: unit.shown[0], negative: unit.shown[1] }
  }
}

const seededSubset = (tasks: ReadonlyArray<Task>, n: number, seed: number) =>
  [...tasks].map((t) => ({ t, k: deriveSeed(seed, "steer-subset", t.task_id) })).sort((a, b) => a.k - b.k || (a.t.task_id < b.t.task_id ? -1 : 1)).slice(0, n).map((x) => x.t)

const norm = (v: ArrayLike<number>) => Math.sqrt(Array.from(v).reduce((a, x) => a + x * x, 0))

/**
 * Steers one template's answers at one layer along the probe direction (the `probe_eval` weights), the
 * mean-difference direction (top- minus bottom-rated tasks' activations), for the organism the planted direction, and
 * a seeded random control of the probe's norm orthogonal to all of them: for each coefficient, `samples` sampled answers per task (or ordered pair) parsed
 * to good/bad (or chose Task A), and the good option's probability by option scoring. Coefficient 0 is generated
 * once and shared by every direction.
 */
export const steer = Stage.make({
  name: "steer",
  version: 5,
  params: SteerParams,
  keyOf: (p) => ({ ...p, runtime: runtimeKey(p.runtime) }),
  run: ({ inputs, params, progress }) =>
    Effect.gen(function* () {
      const { template, layer, steering, elicitation } = params
      const fail = (reason: string) => new SteeringError({ template_id: template.id, layer, reason })
      if (template.kind !== "qualitative" && template.kind !== "revealed") return yield* fail(`a ${template.kind} template cannot be steered; use a qualitative template with two options or a revealed one`)
      if (template.kind === "qualitative" && template.options.length !== 2) return yield* fail(`a qualitative template needs exactly two options (good and bad), it has ${template.options.length}`)
      const model = yield* subjectModel(inputs.model!, params.runtime)
      const dim = model.info.hiddenSize
      if (layer >= model.info.numLayers) return yield* fail(`the model has ${model.info.numLayers} layers`)

      // Directions.
      const evaluation = inputs.eval!.json<ProbeEvaluation>("evaluation")
      const probe = Float32Array.from(evaluation.probe.weights)
      if (probe.length !== dim) return yield* fail(`probe weights have ${probe.length} values, hidden size is ${dim}`)
      const probeNorm = norm(probe)
      if (!(probeNorm > 0)) return yield* fail("the probe's weights are all zero")
      const targets = taskTargets(fromTable(inputs.scores!.table("scores")))
      const actTable = inputs.activations!.table("activations")
      const keys = fromTable<{ task_id: string; layer: number; position: string }>(actTable.select(["task_id", "layer", "position"]))
      const matrix = matrixOf(actTable)
      const rows = keys.flatMap((k, row) => (k.layer === layer && k.position === params.position && targets.has(k.task_id) ? [{ id: k.task_id, row }] : []))
      if (rows.length < 2) return yield* fail(`only ${rows.length} tasks of ${params.probe_template_id} have an activation and a score at ${params.position}`)
      const x = { rows: rows.length, cols: dim, data: new Float64Array(rows.length * dim) }
      rows.forEach((r, i) => x.data.set(matrix.data.subarray(r.row * dim, (r.row + 1) * dim), i * dim))
      const y = rows.map((r) => {
        const values = [...targets.get(r.id)!.values()]
        return values.reduce((a, b) => a + b, 0) / values.length
      })
      const md = meanDifference(x, y, { quantile: 0.25 }).direction
      const planted = inputs.truth?.json<{ directions: Array<{ layer: number; vector: number[] }> }>("truth").directions.find((d) => d.layer === layer)?.vector
      const candidates: Array<[string, Float32Array]> = [
        ["probe", probe],
        ["mean_difference", Float32Array.from(md)],
        ...(planted === undefined ? [] : [["planted", Float32Array.from(planted)] as [string, Float32Array]])
      ]
      const control = randomDirection(deriveSeed(steering.controlSeed, "steer-control", layer), dim, probeNorm, candidates.map(([, v]) => v))
      const named: Array<[string, Float32Array]> = [candidates[0]!, ["control", control], ...candidates.slice(1)]
      for (const [name, v] of named) if (!(norm(v) > 0)) return yield* fail(`the ${name} direction has zero norm`)
      const directions: Direction[] = named.map(([name, vector]) => ({ name, vector, hash: hashValue(Array.from(vector)) }))

      // Questions.
      const completions = firstCompletions(inputs.completions)
      const failed = template.timing === "post" ? failedCompletions(inputs.completions) : new Map<string, string>()
      const tasks = seededSubset(taskRows(inputs.tasks!.table("tasks")).filter((t) => !failed.has(t.task_id)), steering.tasks, params.seed)
      const system = params.system === "" ? {} : { system: params.system }
      const units: Unit[] = []
      const pending =
        template.kind === "revealed"
          ? revealedPairs(tasks, 1, params.seed).flatMap(([a, b]) =>
              (["ab", "ba"] as const).map((order) => ({ task: a, partner: b, order, shown: (order === "ab" ? [a.prompt, b.prompt] : [b.prompt, a.prompt]) as [string, string], input: { ...system, task: a, taskB: b, order } }))
            )
          : tasks.map((task) => {
              const completion = completions.get(task.task_id)
              return { task, input: { ...system, task, ...(completion === undefined ? {} : { completion }) } }
            })
      for (const { input, ...unit } of pending) {
        const conversation = conversationFor(template, input)
        if (Either.isLeft(conversation)) return yield* conversation.left
        units.push({ ...unit, prompt: { kind: "chat", messages: conversation.right.messages, addGenerationPrompt: true, taskText: conversation.right.taskText } })
      }
      if (units.length === 0) return yield* fail("no tasks to steer")
      const positions = units.map((u) => positionsFor(steering.positions, u))
      if (positions.some((p) => p === undefined)) return yield* fail(`positions "${steering.positions}" needs a revealed template (two task spans)`)

      // The unit of residual_norm coefficients.
      const calibrationUnits = units.slice(0, steering.calibration)
      const meanNorm = yield* model.residualNorm(calibrationUnits.map((u) => u.prompt), layer)
      const normalization = steering.normalization === "unit" ? { kind: "unit" as const } : { kind: "residual_norm" as const, meanNorm }
      const inConfigUnits = (residualNorms: number) => (steering.normalization === "unit" ? residualNorms * meanNorm : residualNorms)

      const steeringOf = (run: Run, u: number): Steering | undefined =>
        run.direction === undefined ? undefined : { layer, direction: run.direction.vector, coefficient: run.coefficient, positions: positions[u]!, normalization }
      const steeringKey = (run: Run, u: number) =>
        run.direction === undefined ? null : { layer, direction: run.direction.hash, coefficient: run.coefficient, positions: positions[u]!, normalization }
      const sampling = { maxTokens: elicitation.maxTokens, temperature: elicitation.temperature, topP: elicitation.topP }
      const namespace = `steer/1/${model.info.id}`
      const generateAll = (items: ReadonlyArray<{ readonly run: Run; readonly u: number; readonly seed: number }>, onProgress?: (n: number) => Effect.Effect<void>) =>
        memoMap({
          namespace,
          items,
          key: (i) => ["generate", units[i.u]!.prompt as never, i.seed, sampling, steeringKey(i.run, i.u) as never, runtimeKey(params.runtime)],
          batchSize: params.runtime.batchSize,
          ...(onProgress === undefined ? {} : { onProgress }),
          compute: (batch) =>
            Effect.map(
              model.generate(batch.map((i) => {
                const s = steeringOf(i.run, i.u)
                return { prompt: units[i.u]!.prompt, seed: i.seed, ...sampling, ...(s === undefined ? {} : { steering: s }) }
              })),
              (gs) => gs.map((g) => ({ text: g.text, steered: g.steering?.promptTokens.length ?? 0 }))
            )
        })
      const good = template.kind === "qualitative" ? template.options.reduce((best, o, i) => (o.value > template.options[best]!.value ? i : best), 0) : 0
      const outcomeOf = (text: string, u: number) =>
        Effect.map(parseResponse(template, text, {}, units[u]!.shown === undefined ? {} : { offered: units[u]!.shown! }), (score) => ({
          outcome: score.value === null ? null : template.kind === "revealed" ? (score.value === 1 ? 1 : 0) : score.value === template.options[good]!.value ? 1 : 0,
          tier: score.tier
        }))

      // Coefficients: the config's, or calibrated on the model's own answers.
      const calibrated =
        steering.coefficients !== undefined
          ? undefined
          : yield* calibrateCoefficients({
              progress,
              share: (residualNorms) =>
                Effect.gen(function* () {
                  const coefficient = inConfigUnits(residualNorms)
                  const runs: Array<{ run: Run; label: string }> =
                    residualNorms === 0
                      ? [{ run: { coefficient: 0 }, label: "unsteered" }]
                      : directions.flatMap((d) => [1, -1].map((sign) => ({ run: { direction: d, coefficient: sign * coefficient }, label: `${d.name} ${sign > 0 ? "+" : "−"}` })))
                  const items = runs.flatMap(({ run }) =>
                    calibrationUnits.map((unit, u) => ({
                      run, u,
                      seed: deriveSeed(params.seed, "steer-calibration", template.id, unit.task.task_id, unit.partner?.task_id ?? "", unit.order ?? "")
                    }))
                  )
                  const generated = yield* generateAll(items)
                  const parsed = yield* Effect.forEach(items, (item, k) => Effect.map(outcomeOf(generated[k]!.text, item.u), (o) => o.outcome !== null))
                  const shares = runs.map(({ label }, r) => ({
                    label,
                    share: parsed.slice(r * calibrationUnits.length, (r + 1) * calibrationUnits.length).filter(Boolean).length / calibrationUnits.length
                  }))
                  return shares.reduce((a, b) => (b.share < a.share ? b : a))
                })
            })
      if (typeof calibrated === "string") return yield* fail(calibrated)
      const coefficients = [...new Set(steering.coefficients ?? calibrated!.coefficients.map(inConfigUnits))].sort((a, b) => a - b)

      // Runs: coefficient 0 once (unsteered), every other coefficient per direction.
      const runs: Run[] = coefficients.flatMap((c) => (c === 0 ? [{ coefficient: 0 }] : directions.map((d) => ({ direction: d, coefficient: c }))))
      const labels = template.kind === "qualitative" ? template.options.map((o) => o.label) : ["Task A:", "Task B:"]
      const items = runs.flatMap((run) =>
        units.flatMap((unit, u) =>
          Array.from({ length: steering.samples }, (_, sample) => ({
            run, u, sample,
            seed: deriveSeed(params.seed, "steer", template.id, unit.task.task_id, unit.partner?.task_id ?? "", unit.order ?? "", sample)
          }))
        )
      )
      const scored = runs.flatMap((run) => units.map((_, u) => ({ run, u })))
      yield* progress.total(items.length + scored.length)
      const generations = yield* generateAll(items, progress.done)
      const optionScores = yield* memoMap({
        namespace,
        items: scored,
        key: (i) => ["score", units[i.u]!.prompt as never, labels, steeringKey(i.run, i.u) as never, runtimeKey(params.runtime)],
        batchSize: params.runtime.batchSize,
        onProgress: (n) => progress.done(items.length + n),
        compute: (batch) =>
          Effect.map(
            model.scoreOptions(batch.map((i) => {
              const s = steeringOf(i.run, i.u)
              return { prompt: units[i.u]!.prompt, options: labels, ...(s === undefined ? {} : { steering: s }) }
            })),
            // Both options can underflow to probability 0 (a broken model); such rows have no option probability.
            (scores) => scores.map((s) => (s.normalized.reduce((a, b) => a + b, 0) > 0.5 ? Array.from(s.normalized) : null))
          )
      })

      // Outcomes.
      const parsed = yield* Effect.forEach(items, (item, k) => outcomeOf(generations[k]!.text, item.u))
      const directionNames = directions.map((d) => d.name)
      const fanOut = <A extends { run: Run }>(a: A): Array<A & { direction: string }> =>
        a.run.direction === undefined ? directionNames.map((direction) => ({ ...a, direction })) : [{ ...a, direction: a.run.direction.name }]
      const samples = items.flatMap((item, k) => fanOut({ ...item, k }))
      const steered: SteeredSample[] = samples.map((s) => ({
        direction: s.direction,
        coefficient: s.run.coefficient,
        task: units[s.u]!.task.task_id,
        sample: s.u * steering.samples + s.sample,
        outcome: parsed[s.k]!.outcome,
        tier: parsed[s.k]!.tier
      }))
      const optionPoints: OptionPoint[] = directionNames.flatMap((direction) =>
        coefficients.flatMap((coefficient) => {
          const ps = scored.flatMap((s, k) => {
            const probs = optionScores[k]
            return (s.run.direction?.name ?? direction) === direction && s.run.coefficient === coefficient && probs !== null ? [probs![good]!] : []
          })
          return ps.length === 0 ? [] : [{ direction, coefficient, p: ps.reduce((a, b) => a + b, 0) / ps.length, n: ps.length }]
        })
      )
      const analysis = analyseDirections(steered, optionPoints, directionNames)
      const summary: SteeringSummary = {
        template_id: template.id,
        kind: template.kind,
        outcome: template.kind === "qualitative" ? template.options[good]!.label : "Task A",
        probe_template_id: params.probe_template_id,
        layer,
        positions: steering.positions,
        normalization: steering.normalization,
        mean_norm: meanNorm,
        calibration_prompts: calibrationUnits.length,
        calibration: calibrated ?? null,
        coefficients,
        tasks: tasks.length,
        units: units.length,
        samples: steering.samples,
        directions: Object.fromEntries(
          directions.map((d) => [d.name, { ...analysis[d.name]!, cosine_probe: cosine(d.vector, probe), cosine_planted: planted === undefined ? null : cosine(d.vector, planted) }])
        )
      }
      const table = toTable(
        {
          direction: ["utf8", false],
          coefficient: ["float64", false],
          task_id: ["utf8", false],
          pair_task_id: ["utf8", true],
          order: ["utf8", true],
          sample: ["int32", false],
          seed: ["int64", false],
          steered_tokens: ["int32", false],
          response: ["utf8", false],
          outcome: ["float64", true],
          tier: ["utf8", false]
        },
        samples.map((s) => ({
          direction: s.direction,
          coefficient: s.run.coefficient,
          task_id: units[s.u]!.task.task_id,
          pair_task_id: units[s.u]!.partner?.task_id ?? null,
          order: units[s.u]!.order ?? null,
          sample: s.sample,
          seed: s.seed,
          steered_tokens: generations[s.k]!.steered,
          response: generations[s.k]!.text,
          outcome: parsed[s.k]!.outcome,
          tier: parsed[s.k]!.tier
        }))
      )
      return { samples: Artifact.table(table), steering: Artifact.json(summary) }
    })
})
