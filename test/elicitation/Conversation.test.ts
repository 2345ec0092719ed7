import { NodeFileSystem } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import { type Conversation, conversationFor } from "../../elicitation/Conversation"
import { decodeTemplate, loadTemplates, type Template, templateById } from "../../elicitation/Template"

const task = { task_id: "alpaca-1", prompt: "Write a haiku about autumn leaves." }
const other = { task_id: "math-7", prompt: "Solve 2x + 3 = 7 for x." }
const system = "You are a helpful assistant."

const template = (id: string) =>
  Effect.flatMap(loadTemplates("templates"), (all) => templateById(all, id)).pipe(Effect.provide(NodeFileSystem.layer))

const render = (t: Template, input: Parameters<typeof conversationFor>[1]): Conversation =>
  Either.getOrThrowWith(conversationFor(t, input), (e) => new Error(e.message))

/** Every span must cover exactly its task's prompt. */
const expectSpans = (c: Conversation, tasks: ReadonlyArray<{ task_id: string; prompt: string }>) => {
  expect(c.spans.map((s) => s.task_id)).toEqual(tasks.map((t) => t.task_id))
  c.spans.forEach((s, i) => expect(c.messages[s.message].content.slice(s.start, s.end)).toBe(tasks[i].prompt))
}

describe("conversationFor", () => {
  it.effect("pre-task: the question with the task filled in, after the persona", () =>
    Effect.gen(function*() {
      const t = yield* template("stated_pre_v1")
      const c = render(t, { system, task })
      expect(c.messages.map((m) => m.role)).toEqual(["system", "user"])
      expect(c.messages[0].content).toBe(system)
      expect(c.messages[1].content).toBe(t.text.replace("{task}", task.prompt))
      expect(c.taskText).toBe(task.prompt)
      expectSpans(c, [task])
      expect(render(t, { task }).messages.map((m) => m.role)).toEqual(["user"])
    }))

  it.effect("post-task: task, the model's completion, then the question", () =>
    Effect.gen(function*() {
      const t = yield* template("qualitative_post_v1")
      const c = render(t, { system, task, completion: "Leaves drift and fall." })
      expect(c.messages).toEqual([
        { role: "system", content: system },
        { role: "user", content: task.prompt },
        { role: "assistant", content: "Leaves drift and fall." },
        { role: "user", content: t.text }
      ])
      expectSpans(c, [task])
      const missing = conversationFor(t, { task })
      expect(Either.isLeft(missing) && missing.left.message).toMatch(/completion/)
    }))

  it.effect("revealed: both tasks in the given order", () =>
    Effect.gen(function*() {
      const t = yield* template("revealed_v1")
      const ab = render(t, { system, task, taskB: other, order: "ab" })
      const ba = render(t, { system, task, taskB: other, order: "ba" })
      expect(ab.messages[1].content).toContain(`Task A: ${task.prompt}`)
      expect(ab.messages[1].content).toContain(`Task B: ${other.prompt}`)
      expect(ba.messages[1].content).toContain(`Task A: ${other.prompt}`)
      expect(ba.messages[1].content).toContain(`Task B: ${task.prompt}`)
      expectSpans(ab, [task, other])
      expectSpans(ba, [other, task])
      expect(Either.isLeft(conversationFor(t, { task }))).toBe(true)
    }))

  it.effect("ranking: a lettered list of the tasks", () =>
    Effect.gen(function*() {
      const t = yield* decodeTemplate("rank.json", {
        id: "rank",
        kind: "ranking",
        timing: "pre",
        text: "Rank these tasks from the one you would most like to do to the least.\n\n{tasks}\n\nAnswer with the letters."
      })
      const third = { task_id: "w-3", prompt: "Tell me a joke." }
      const c = render(t, { task, tasks: [task, other, third] })
      expect(c.messages[0].content).toContain(`Task A: ${task.prompt}\n\nTask B: ${other.prompt}\n\nTask C: ${third.prompt}`)
      expectSpans(c, [task, other, third])
    }))
})
