/**
 * Content baselines against what the organism plants. A task's valence is its within-dataset part (the mean draw of
 * words found in no other task, which no model of the words can carry from one task to another) plus its dataset part
 * (a constant per origin on the tasks holding a word of their origin's own). The ground truth's `contentShare` is the
 * share of the expected answers' variance the dataset part explains (least squares on origin × mark cells).
 *
 * What a content-only probe can recover is the same part of the probe's target, the mean of m sampled answers Y, whose
 * variance also holds sampling noise: the best function of a task's cell predicts Y with R² = contentShare ·
 * Var(E)/Var(Y) over the probed tasks (E the expected answers). That is the planted value the tf-idf probe's interval
 * is checked against, on task sets whose dataset shows in words shared by its tasks (two topic words per origin, each
 * task holding some of them, among words of its own): a bag of words must see the dataset to recover it. On the
 * built-in sets (about 50 short, varied tasks per origin) it does not: even a noiseless per-origin target is predicted
 * out of fold with R² about 0.3 from their tf-idf, so the content-only R² falls far short of the planted share there,
 * and only the content-orthogonal direction is checked.
 */
import { beforeAll, describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import type { OrganismGroundTruth } from "../../model/Organism"
import type { ContentProbeEvaluation } from "../../stages/contentProbe"
import { fromTable } from "../../stages/tables"
import { cosine } from "../../stats/metrics"
import { makePrng } from "../../stats/prng"
import { experimentWorkspace, stageOutputs } from "../support/experiment"

const PLANTED_LAYER = 1
const TEMPLATE = "qualitative_post_v1"
const origins = ["alpaca", "bailbench", "math", "wildchat"]
const syllables = ["ba", "ke", "lo", "mi", "nu", "ra", "so", "ti", "vu", "za", "pe", "do", "fa", "gi", "ho", "ju"]

/** 60 tasks per origin: two topic words of the origin (some of them in every task) among four words no other task has. */
const topicTasks = () => {
  const prng = makePrng(99)
  const topic = (o: number, j: number) => `${syllables[o * 4 + j]}${syllables[(j * 5 + o) % 16]}x${syllables[j]}`
  let counter = 0
  const unique = () => {
    counter++
    let word = ""
    for (let c = counter; c > 0; c = Math.floor(c / 16)) word += syllables[c % 16]
    return `${word}q${syllables[counter % 7]}`
  }
  return origins.map((origin, o) => {
    const pick = () => topic(o, Math.floor(prng.next() * 2))
    return {
      origin,
      rows: Array.from({ length: 60 }, (_, i) => ({
        id: `${origin}_${i}`,
        origin,
        prompt: `Write about the ${pick()} and ${unique()} ${unique()} with ${pick()}, then ${unique()} ${pick()} ${unique()}.`
      }))
    }
  })
}

interface Measured {
  readonly truth: OrganismGroundTruth
  readonly content: ContentProbeEvaluation
  /** contentShare · Var(E)/Var(Y) over the probed tasks. */
  readonly plantedOnTarget: number
}

const variance = (xs: ReadonlyArray<number>) => {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length
  return xs.reduce((a, b) => a + (b - m) ** 2, 0) / xs.length
}

const measure = async (seed: number, withTopics: boolean): Promise<Measured> => {
  const w = experimentWorkspace()
  try {
    const datasets = withTopics
      ? topicTasks().map(({ origin, rows }) => {
          const file = path.join(w.dir, `${origin}.jsonl`)
          fs.writeFileSync(file, rows.map((r) => JSON.stringify(r)).join("\n") + "\n")
          return { name: origin, path: file }
        })
      : undefined
    w.writeConfig({
      seed,
      ...(datasets === undefined ? {} : { datasets }),
      sample: { perOrigin: 60 },
      completion: { maxTokens: 16 },
      elicitation: { samples: 6, maxTokens: 8 },
      activations: { layers: [PLANTED_LAYER] },
      probes: { bootstrap: 200, folds: 5 },
      templates: [TEMPLATE],
      content: { providers: ["tfidf"] }
    })
    const built = await w.build("reports/hoo")
    const truth = (await stageOutputs(w.cache, built, "organism_truth")).json<OrganismGroundTruth>("truth")
    const content = (await stageOutputs(w.cache, built, `content_probe[${TEMPLATE}@${PLANTED_LAYER}|tfidf]`)).json<ContentProbeEvaluation>("evaluation")
    const scores = fromTable<{ task_id: string; normalized: number | null }>((await stageOutputs(w.cache, built, `parse[${TEMPLATE}]`)).table("scores"))
    const answers = new Map<string, number[]>()
    for (const s of scores) if (s.normalized !== null) answers.set(s.task_id, [...(answers.get(s.task_id) ?? []), s.normalized])
    const expected = new Map(truth.expected.filter((e) => e.template_id === TEMPLATE && e.persona_id === "default").map((e) => [e.task_id, e.expected_value]))
    const probed = [...answers.keys()]
    expect(probed).toHaveLength(content.n_tasks)
    const y = probed.map((t) => answers.get(t)!.reduce((a, b) => a + b, 0) / answers.get(t)!.length)
    const share = truth.templates.find((t) => t.template_id === TEMPLATE && t.persona_id === "default")!.contentShare
    return { truth, content, plantedOnTarget: (share * variance(probed.map((t) => expected.get(t)!))) / variance(y) }
  } finally {
    fs.rmSync(w.dir, { recursive: true, force: true })
  }
}

const plantedDirection = (m: Measured) => m.truth.directions.find((d) => d.layer === PLANTED_LAYER)!.vector

describe.each([20251127, 1, 2])("content baselines on the organism, experiment seed %i", (seed) => {
  describe("task sets whose dataset shows in their words", () => {
    let m: Measured
    beforeAll(async () => {
      m = await measure(seed, true)
    }, 900_000)

    it("the tf-idf content-only R²'s 95% interval holds the planted content share of the target's variance", () => {
      expect(m.plantedOnTarget).toBeGreaterThan(0.2)
      const r2 = m.content.content_only.r2
      expect(r2.lo).toBeLessThanOrEqual(m.plantedOnTarget)
      expect(r2.hi).toBeGreaterThanOrEqual(m.plantedOnTarget)
      // An interval that holds everything would prove nothing: these are about 0.17 wide on 240 tasks.
      expect(r2.hi - r2.lo).toBeLessThan(0.25)
    })

    it("the content-orthogonal probe's weights point along the planted direction (cosine > 0.9)", () => {
      expect(Math.abs(cosine(m.content.content_orthogonal.probe.weights, plantedDirection(m)))).toBeGreaterThan(0.9)
    })
  })
})

describe("content baselines on the organism over the built-in task sets", () => {
  let m: Measured
  beforeAll(async () => {
    m = await measure(20251127, false)
  }, 900_000)

  it("the content-orthogonal probe's weights point along the planted direction (cosine > 0.9)", () => {
    expect(Math.abs(cosine(m.content.content_orthogonal.probe.weights, plantedDirection(m)))).toBeGreaterThan(0.9)
  })

  it("the tf-idf content-only R² falls short of the planted share: these tasks' words do not show their dataset", () => {
    expect(m.plantedOnTarget).toBeGreaterThan(0.2)
    expect(m.content.content_only.r2.hi).toBeLessThan(m.plantedOnTarget)
  })
})
