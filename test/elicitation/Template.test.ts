import { NodeFileSystem } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import {
  decodeTemplate,
  loadTemplates,
  normalize,
  placeholdersOf,
  type ScoredTemplate,
  type Template,
  templateContentHash,
  templateRange
} from "../../elicitation/Template"

const load = loadTemplates("templates").pipe(Effect.provide(NodeFileSystem.layer))

const base = {
  id: "t",
  kind: "stated",
  timing: "pre",
  text: "Rate this task from 1 to 10: {task}",
  scale: { min: 1, max: 10 }
}

const failure = (file: string, json: unknown) => decodeTemplate(file, json).pipe(Effect.flip)

describe("templates", () => {
  it.effect("ships the default set, sorted by id, with the words a small model can read", () =>
    Effect.gen(function*() {
      const templates = yield* load
      expect(templates.map((t) => t.id)).toEqual([
        "open_ended_post",
        "qualitative_post_v1",
        "qualitative_post_v2",
        "qualitative_ternary_post",
        "revealed_v1",
        "revealed_v2",
        "stated_post_v1",
        "stated_pre_v1",
        "stated_pre_v2"
      ])
      for (const t of templates) {
        const text = t.text.toLowerCase()
        if (t.kind === "qualitative") expect(text).toMatch(/\bgood\b[\s\S]*\bbad\b/)
        if (t.kind === "stated") {
          expect(text).toContain("rate")
          expect(text).toContain("1 to 10")
        }
        if (t.kind === "revealed") {
          expect(t.text).toContain("Task A: {task_a}")
          expect(t.text).toContain("Task B: {task_b}")
        }
        expect(placeholdersOf(t.text).includes("task")).toBe(t.timing === "pre" && t.kind !== "revealed")
      }
    }))

  it.effect("names the file and field of every invalid template", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<[string, unknown, string, RegExp]> = [
        ["templates/other.json", base, "id", /file name "other"/],
        ["t.json", { ...base, text: "Rate it from 1 to 10." }, "text", /must contain \{task\}/],
        ["t.json", { ...base, timing: "post" }, "text", /\{task\} is not allowed in a post-task/],
        ["t.json", { ...base, text: "Rate {task} from 1 to 10 for {persona}" }, "text", /\{persona\}/],
        ["t.json", { ...base, scale: { min: 10, max: 10 } }, "scale", /min \(10\) must be below max/],
        ["t.json", { ...base, scale: { min: 1.5, max: 10 } }, "scale.min", /integer/i],
        ["t.json", { id: "t", kind: "stated", timing: "pre", text: "Rate {task} from 1 to 10" }, "scale", /missing/i],
        ["t.json", { ...base, kind: "ranked" }, "kind", /qualitative/],
        ["t.json", { ...base, colour: "red" }, "colour", /unexpected/i],
        [
          "t.json",
          { id: "t", kind: "qualitative", timing: "post", text: "good or bad?", options: [{ label: "good", value: 1 }, { label: "bad", value: 1 }] },
          "options",
          /distinct/
        ],
        [
          "t.json",
          { id: "t", kind: "qualitative", timing: "post", text: "good or bad?", options: [{ label: "good", value: 0 }, { label: "bad", value: 1 }] },
          "options",
          /higher value/
        ],
        ["t.json", { id: "t", kind: "revealed", timing: "pre", text: "Task A: {task_a}" }, "text", /\{task_b\}/],
        ["t.json", { id: "t", kind: "revealed", timing: "post", text: "Task A: {task_a} Task B: {task_b}" }, "timing", /pre/],
        ["t.json", { id: "t", kind: "open_ended", timing: "post", text: "How was it?", range: { min: 1, max: -1 } }, "range", /below/]
      ]
      for (const [file, json, field, reason] of cases) {
        const error = yield* failure(file, json)
        expect(error._tag).toBe("TemplateError")
        expect({ file: error.file, field: error.field }).toEqual({ file, field })
        expect(error.message).toMatch(reason)
        expect(error.message).toContain(file)
      }
    }))

  it.effect("loading a folder reports the broken file", () =>
    Effect.gen(function*() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "templates-"))
      fs.writeFileSync(path.join(dir, "t.json"), JSON.stringify(base))
      fs.writeFileSync(path.join(dir, "broken.json"), "{ not json")
      const error = yield* loadTemplates(dir).pipe(Effect.provide(NodeFileSystem.layer), Effect.flip)
      expect(error.file).toBe(path.join(dir, "broken.json"))
      expect(error.field).toBe("(json)")
      fs.rmSync(path.join(dir, "broken.json"))
      const loaded = yield* loadTemplates(dir).pipe(Effect.provide(NodeFileSystem.layer))
      expect(loaded.map((t) => t.id)).toEqual(["t"])
      fs.rmSync(dir, { recursive: true })
    }))

  it.effect("normalizes every template by its own declared range", () =>
    Effect.gen(function*() {
      const templates = yield* load
      const byId = (id: string) => templates.find((t) => t.id === id) as ScoredTemplate
      expect(normalize(byId("stated_pre_v1"), 7)).toBeCloseTo(6 / 9, 12)
      expect(normalize(byId("stated_pre_v1"), 1)).toBe(0)
      expect(normalize(byId("qualitative_ternary_post"), 0.5)).toBe(0.5)
      expect(normalize(byId("open_ended_post"), 0)).toBe(0.5)
      const percent = (yield* decodeTemplate("p.json", { ...base, id: "p", scale: { min: 0, max: 100 } })) as ScoredTemplate
      expect(templateRange(percent)).toEqual({ min: 0, max: 100 })
      expect(normalize(percent, 70)).toBeCloseTo(0.7, 12)
    }))

  it.effect("the content hash ignores key order and follows every field", () =>
    Effect.gen(function*() {
      const a: Template = yield* decodeTemplate("t.json", base)
      const reordered = Object.fromEntries(Object.entries(base).reverse())
      const b: Template = yield* decodeTemplate("t.json", reordered)
      expect(templateContentHash(b)).toBe(templateContentHash(a))
      expect(templateContentHash(a)).toMatch(/^[0-9a-f]{64}$/)
      const c: Template = yield* decodeTemplate("t.json", { ...base, scale: { min: 0, max: 10 } })
      expect(templateContentHash(c)).not.toBe(templateContentHash(a))
    }))
})
