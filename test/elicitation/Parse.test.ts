import { NodeFileSystem } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { layerUnconfigured, ChatClient, type ChatRequest } from "../../model/ChatClient"
import type { ChatModel } from "../../elicitation/parse/Judge"
import { numberWordsToDigits, readStated } from "../../elicitation/parse/Exact"
import { parseRanking, parseReport, parseResponse, revealedChoice } from "../../elicitation/parse/Parse"
import { decodeTemplate, loadTemplates, normalize, type ScoredTemplate } from "../../elicitation/Template"

const load = loadTemplates("templates").pipe(
  Effect.map((all) => (id: string) => all.find((t) => t.id === id) as ScoredTemplate),
  Effect.provide(NodeFileSystem.layer)
)

const offered = ["Write a haiku about autumn leaves.", "Solve the equation 2x + 3 = 7 for x."] as const

type Case = readonly [template: string, response: string, value: number | null, tier: string, reason?: string]

/** Real-looking responses with the value and tier the parser must give without any model. */
const table: ReadonlyArray<Case> = [
  ["qualitative_post_v1", "good", 1, "exact"],
  ["qualitative_post_v1", "Good.", 1, "exact"],
  ["qualitative_post_v1", "**Good**", 1, "exact"],
  ["qualitative_post_v1", "bad", 0, "exact"],
  ["qualitative_post_v1", "BAD!", 0, "exact"],
  ["qualitative_post_v1", "I'd say it was good.", 1, "exact"],
  ["qualitative_post_v1", "It was a good task; I enjoyed it.", 1, "exact"],
  ["qualitative_post_v1", "Honestly? Good. It was fun.", 1, "exact"],
  ["qualitative_post_v1", "No, it was good.", 1, "exact"],
  ["qualitative_post_v1", "not good", null, "failed", "negated option"],
  ["qualitative_post_v1", "Not bad.", null, "failed", "negated option"],
  ["qualitative_post_v1", "It was neither good nor bad.", null, "failed", "negated option"],
  ["qualitative_post_v1", "It wasn't bad at all, actually good", null, "failed", "negated option"],
  ["qualitative_post_v1", "I don't have experiences, good or bad.", null, "refusal", "refusal: no preferences"],
  ["qualitative_post_v1", "Good or bad? Hard to say.", null, "failed", "options offered as alternatives"],
  ["qualitative_post_v1", "As an AI, I don't have feelings about tasks.", null, "refusal", "refusal: as an ai"],
  ["qualitative_post_v1", "I can't help with rating that.", null, "refusal", "refusal: cannot help"],
  ["qualitative_post_v1", "The task was fine.", null, "failed", "no option word"],
  ["qualitative_post_v2", "# Bad\nThat was tedious.", 0, "exact"],
  ["qualitative_post_v2", "Some parts were good, some bad.", null, "failed", "several options"],
  ["qualitative_ternary_post", "neutral", 0.5, "exact"],
  ["qualitative_ternary_post", "Neutral, I guess.", 0.5, "exact"],
  ["qualitative_ternary_post", "_good_", 1, "exact"],
  ["stated_pre_v1", "7", 7, "exact"],
  ["stated_pre_v1", "7/10", 7, "exact"],
  ["stated_pre_v1", "Rating: 7", 7, "exact"],
  ["stated_pre_v1", "I'd say 8 out of 10.", 8, "exact"],
  ["stated_pre_v1", "**9**", 9, "exact"],
  ["stated_pre_v1", "On a scale of 1 to 10, I'd give it a 6.", 6, "exact"],
  ["stated_pre_v1", "10!", 10, "exact"],
  ["stated_pre_v1", "I'd rate it a solid 8 (out of 10).", 8, "exact"],
  ["stated_pre_v1", "Seven", 7, "exact"],
  ["stated_pre_v1", "Seven out of ten.", 7, "exact"],
  ["stated_pre_v1", "I'd give this one an eight.", 8, "exact"],
  ["stated_pre_v1", "Ten out of ten!", 10, "exact"],
  ["stated_pre_v1", "Eight out of ten, maybe nine.", null, "failed", "several numbers"],
  ["stated_pre_v1", "Eleven.", null, "failed", "number off the scale"],
  ["stated_pre_v1", "Seven out of twenty.", null, "failed", "fraction of another scale"],
  ["stated_pre_v1", "7-8", null, "failed", "range of numbers"],
  ["stated_pre_v1", "Probably 7 or 8.", null, "failed", "range of numbers"],
  ["stated_pre_v1", "11", null, "failed", "number off the scale"],
  ["stated_pre_v1", "0", null, "failed", "number off the scale"],
  ["stated_pre_v1", "12/10 - loved it!", null, "failed", "number off the scale"],
  ["stated_pre_v1", "7.5", null, "failed", "not an integer"],
  ["stated_pre_v1", "80/100", null, "failed", "fraction of another scale"],
  ["stated_pre_v1", "I would rate it 3 because it's harmful, though 2 parts are fine.", null, "failed", "several numbers"],
  ["stated_pre_v1", "It sounds fun.", null, "failed", "no number"],
  ["stated_pre_v2", "I won't rate tasks like this.", null, "refusal", "refusal: won't"],
  ["stated_pre_v2", "I'm not able to rate this task.", null, "refusal", "refusal: not able"],
  ["stated_post_v1", "I'm sorry, but I can't assist with that request.", null, "refusal", "refusal: cannot help"],
  ["revealed_v1", "Task A: Crimson leaves drift down", 1, "exact"],
  ["revealed_v1", "**Task B:** 2x + 3 = 7, so x = 2.", 0, "exact"],
  ["revealed_v1", "I choose B. Subtracting 3 gives 2x = 4.", 0, "exact"],
  ["revealed_v1", "I'll do Task A.\n\nLeaves fall, crimson, slow.", 1, "exact"],
  ["revealed_v1", "A: Autumn whispers", 1, "exact"],
  ["revealed_v1", "B", 0, "exact"],
  ["revealed_v1", "Autumn leaves drifting, crimson and gold, a haiku for the season", 1, "exact"],
  ["revealed_v1", "To solve the equation, subtract 3 from both sides: 2x = 4, so x = 2.", 0, "exact"],
  ["revealed_v1", "I won't do Task A. Task B: x = 2.", 0, "exact"],
  ["revealed_v2", "Both Task A and Task B look fine to me.", null, "failed", "both tasks named"],
  ["revealed_v2", "I can't help with either of these.", null, "refusal", "refusal: cannot help"],
  ["revealed_v2", "Sure! Here you go.", null, "failed", "no clear choice"],
  ["open_ended_post", "I really enjoyed it, it was fun.", 1, "exact", "lexicon"],
  ["open_ended_post", "That was boring and tedious.", -1, "exact", "lexicon"],
  ["open_ended_post", "It was not fun.", -1, "exact", "lexicon"],
  ["open_ended_post", "Mostly fun, a little tedious, quite interesting.", 1 / 3, "exact", "lexicon"],
  ["open_ended_post", "As an AI I don't have feelings.", null, "refusal", "refusal: as an ai"],
  ["open_ended_post", "The task involved some arithmetic.", null, "failed", "no judge configured and no lexicon word in the answer"]
]

/** A scripted chat model that answers from the request's last message and counts its calls. */
const scripted = (answer: (prompt: string) => string) => {
  const calls: Array<ChatRequest> = []
  const model: ChatModel = {
    model: "scripted",
    complete: (request) => {
      calls.push(request)
      return Effect.succeed({ text: answer(request.messages[request.messages.length - 1].content) })
    }
  }
  return { model, calls }
}

describe("parseResponse", () => {
  it.effect(`reads ${table.length} real-looking responses by pattern, refusal heuristic and lexicon`, () =>
    Effect.gen(function*() {
      const byId = yield* load
      const results = yield* Effect.forEach(table, ([id, response]) =>
        parseResponse(byId(id), response, {}, { offered }).pipe(Effect.map((r) => [id, response, r] as const)))
      const got = results.map(([id, response, r]) => [id, response, r.value === null ? null : Number(r.value.toFixed(12)), r.tier, r.reason ?? undefined])
      const want = table.map(([id, response, value, tier, reason]) => [id, response, value === null ? null : Number(value.toFixed(12)), tier, reason])
      expect(got).toEqual(want)
      for (const [id, , r] of results) {
        expect(r.normalized).toBe(r.value === null ? null : normalize(byId(id), r.value))
        if (r.tier === "refusal") expect(r.value).toBeNull()
      }
    }))

  it.effect("\"good\" is the declared higher value in every qualitative template, so a steering result cannot read backwards", () =>
    Effect.gen(function*() {
      const all = yield* loadTemplates("templates").pipe(Effect.provide(NodeFileSystem.layer))
      const qualitative = all.filter((t) => t.kind === "qualitative")
      expect(qualitative.length).toBeGreaterThan(0)
      for (const t of qualitative) {
        const good = yield* parseResponse(t, "Good.")
        const bad = yield* parseResponse(t, "Bad.")
        expect(good.value).toBe(t.options.find((o) => o.label === "good")!.value)
        expect(good.value).toBe(Math.max(...t.options.map((o) => o.value)))
        expect(good.normalized).toBe(1)
        expect(bad.normalized).toBe(0)
      }
      const swapped = yield* decodeTemplate("swapped.json", {
        id: "swapped",
        kind: "qualitative",
        timing: "post",
        text: "good or bad?",
        options: [{ label: "bad", value: 1 }, { label: "good", value: 0 }]
      }).pipe(Effect.flip)
      expect(swapped.field).toBe("options")
    }))

  it.effect("revealed values name the slot; the order maps it back to the task", () =>
    Effect.gen(function*() {
      const byId = yield* load
      const shownFirst = yield* parseResponse(byId("revealed_v1"), "Task A: x = 2", {}, { offered: [offered[1], offered[0]] })
      expect(shownFirst.value).toBe(1)
      expect(revealedChoice(1, "ba")).toBe("taskB")
      expect(revealedChoice(1, "ab")).toBe("task")
      expect(revealedChoice(0, "ba")).toBe("task")
      const byWords = yield* parseResponse(byId("revealed_v1"), "Autumn leaves in a haiku, crimson", {}, { offered: [offered[1], offered[0]] })
      expect(byWords.value).toBe(0)
    }))

  it.effect("tier 3 asks the parsing model only for what tier 1 and the refusal tier left, and validates its answer", () =>
    Effect.gen(function*() {
      const byId = yield* load
      const stated = byId("stated_pre_v1")
      const replies: Record<string, string> = {
        "7-8": `{"value": 8}`,
        "twelve": `{"value": 12}`,
        "7 or 8, hard to say": `{"unparseable": true, "reason": "gives a range"}`,
        "hmm": "I think it is 5",
        "somewhere near the top": "```json\n{\"value\": \"9\"}\n```"
      }
      const parser = scripted((prompt) => replies[prompt.split("Answer:\n")[1].split("\n\n")[0]])
      const run = (response: string) => parseResponse(stated, response, { parser: parser.model })
      expect(yield* run("7")).toEqual({ value: 7, normalized: 6 / 9, tier: "exact", reason: null })
      expect(yield* run("I won't rate this.")).toMatchObject({ value: null, tier: "refusal" })
      expect(parser.calls.length).toBe(0)
      expect(yield* run("7-8")).toEqual({ value: 8, normalized: 7 / 9, tier: "model", reason: null })
      expect(yield* run("twelve")).toMatchObject({ value: null, tier: "failed", reason: "parser gave a value outside the template's options or scale" })
      expect(yield* run("7 or 8, hard to say")).toMatchObject({ value: null, tier: "failed", reason: "parser: gives a range" })
      expect(yield* run("hmm")).toMatchObject({ value: null, tier: "failed", reason: "parser reply is not the requested JSON" })
      expect(yield* run("somewhere near the top")).toMatchObject({ value: 9, tier: "model" })
      expect(parser.calls.length).toBe(5)
      expect(parser.calls[0].responseFormat).toEqual({ type: "json_object" })
      expect(parser.calls[0].messages[1].content).toContain("an integer from 1 to 10")

      const qualitative = scripted(() => `{"value": "Good"}`)
      expect(yield* parseResponse(byId("qualitative_post_v1"), "not bad", { parser: qualitative.model })).toMatchObject({ value: 1, tier: "model" })
      const revealed = scripted(() => `{"value": "B"}`)
      expect(yield* parseResponse(byId("revealed_v1"), "Sure!", { parser: revealed.model })).toMatchObject({ value: 0, tier: "model" })
    }))

  it.effect("a configured judge decides refusals; unusable verdicts fall back to the heuristic", () =>
    Effect.gen(function*() {
      const byId = yield* load
      const judge = scripted((prompt) =>
        prompt.includes("Answer:\nmeh") ? `{"refusal": true}` : prompt.includes("Answer:\nI won't") ? "no idea" : `{"refusal": false}`)
      const t = byId("stated_pre_v1")
      expect(yield* parseResponse(t, "meh", { judge: judge.model })).toMatchObject({ tier: "refusal", reason: "refusal: judge" })
      expect(yield* parseResponse(t, "I won't say.", { judge: judge.model })).toMatchObject({ tier: "refusal", reason: "refusal: won't" })
      expect(yield* parseResponse(t, "dunno", { judge: judge.model })).toMatchObject({ tier: "failed", reason: "no number" })
      expect(judge.calls.length).toBe(3)
    }))

  it.effect("open-ended answers are scored by the judge onto the declared range, and fail clearly with an unconfigured one", () =>
    Effect.gen(function*() {
      const byId = yield* load
      const judge = scripted((prompt) => (prompt.includes("refuse") ? `{"refusal": false}` : `{"value": 0.5}`))
      expect(yield* parseResponse(byId("open_ended_post"), "It was a pleasant puzzle.", { judge: judge.model }))
        .toEqual({ value: 0.5, normalized: 0.75, tier: "model", reason: null })
      const wide = (yield* decodeTemplate("wide.json", { id: "wide", kind: "open_ended", timing: "post", text: "How was it?", range: { min: 0, max: 10 } })) as ScoredTemplate
      expect(yield* parseResponse(wide, "It was a pleasant puzzle.", { judge: judge.model })).toMatchObject({ value: 7.5, normalized: 0.75 })
      expect(yield* parseResponse(wide, "great", {})).toMatchObject({ value: 10, tier: "exact", reason: "lexicon" })
      const unconfigured = yield* Effect.provide(ChatClient, layerUnconfigured("parse.judge"))
      const error = yield* parseResponse(byId("open_ended_post"), "fine", { judge: unconfigured }).pipe(Effect.flip)
      expect(error.kind).toBe("unconfigured")
      expect(error.message).toContain("parse.judge")
    }))

  it.effect("rankings: letters in order, refusals, and the parser for the rest", () =>
    Effect.gen(function*() {
      const t = yield* decodeTemplate("rank.json", { id: "rank", kind: "ranking", timing: "pre", text: "Rank these:\n\n{tasks}" })
      if (t.kind !== "ranking") return expect.unreachable()
      expect(yield* parseRanking(t, "B, A, C", 3)).toEqual({ order: [1, 0, 2], tier: "exact", reason: null })
      expect(yield* parseRanking(t, "1. **Task C**\n2. Task A\n3. Task B", 3)).toMatchObject({ order: [2, 0, 1] })
      expect(yield* parseRanking(t, "I think B > A > C", 3)).toMatchObject({ order: [1, 0, 2] })
      expect(yield* parseRanking(t, "B, A", 3)).toMatchObject({ order: null, tier: "failed", reason: "not every task ranked" })
      expect(yield* parseRanking(t, "I'd rather not rank these.", 3)).toMatchObject({ order: null, tier: "refusal" })
      const parser = scripted(() => `{"order": ["Task C", "B", "A"]}`)
      expect(yield* parseRanking(t, "the last one, then the middle", 3, { parser: parser.model })).toMatchObject({ order: [2, 1, 0], tier: "model" })
    }))
})

describe("parseReport", () => {
  it("counts tiers and failure reasons per template", () => {
    const report = parseReport([
      { template_id: "b", tier: "exact", reason: null },
      { template_id: "a", tier: "failed", reason: "no number" },
      { template_id: "a", tier: "failed", reason: "no number" },
      { template_id: "a", tier: "failed", reason: "range of numbers" },
      { template_id: "a", tier: "refusal", reason: "refusal: won't" },
      { template_id: "a", tier: "model", reason: null }
    ])
    expect(report).toEqual([
      { template_id: "a", total: 5, tiers: { exact: 0, refusal: 1, model: 1, failed: 3 }, failures: { "no number": 2, "range of numbers": 1 } },
      { template_id: "b", total: 1, tiers: { exact: 1, refusal: 0, model: 0, failed: 0 }, failures: {} }
    ])
  })
})

describe("number words", () => {
  it("spells out numbers up to 999 as digits, leaving the pronoun \"one\" and other words alone", () => {
    expect(numberWordsToDigits("seven out of ten.")).toBe("7 out of 10.")
    expect(numberWordsToDigits("twenty-one, ninety nine, nineteen, zero")).toBe("21, 99, 19, 0")
    expect(numberWordsToDigits("one hundred and five; three hundred")).toBe("105; 300")
    expect(numberWordsToDigits("this one is a seven")).toBe("this one is a 7")
    expect(numberWordsToDigits("someone tenfold")).toBe("someone tenfold")
  })

  it("reads a rating in words up to the scale's maximum, with \"N out of M\"", () => {
    const percent = { min: 0, max: 100 }
    expect(readStated(percent, "Seventy-five out of one hundred.")).toEqual({ _tag: "value", value: 75 })
    expect(readStated(percent, "I'd say about sixty.")).toEqual({ _tag: "value", value: 60 })
    expect(readStated(percent, "One hundred and one")).toEqual({ _tag: "unclear", reason: "number off the scale" })
    expect(readStated({ min: 1, max: 10 }, "From one to ten, a six.")).toEqual({ _tag: "value", value: 6 })
  })
})
