import { createHash } from "node:crypto"
import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import { adapters, detectAdapter } from "../../../datasets/adapters"
import { lastBoxed } from "../../../datasets/adapters/math"

const sha12 = (text: string) => createHash("sha256").update(text, "utf8").digest("hex").slice(0, 12)
const ok = <A, E>(result: Either.Either<A, E>): A => {
  if (Either.isLeft(result)) expect.fail(`expected a task, got ${JSON.stringify(result.left)}`)
  return (result as Either.Right<E, A>).right
}
const issue = <A, E>(result: Either.Either<A, E>): E => {
  if (Either.isRight(result)) expect.fail(`expected an issue, got ${JSON.stringify(result.right)}`)
  return (result as Either.Left<E, A>).left
}

describe("alpaca adapter", () => {
  it("uses the instruction alone when the input is empty, and derives the id from the prompt", () => {
    const task = ok(adapters.alpaca({ instruction: "Name three colours.", input: "", output: "Red, green, blue." }, undefined))
    expect(task).toEqual({
      task_id: `alpaca_${sha12("Name three colours.")}`,
      origin: "alpaca",
      prompt: "Name three colours.",
      meta: { reference_output: "Red, green, blue." }
    })
  })

  it("appends a non-empty input after a blank line and keeps a given id", () => {
    const task = ok(adapters.alpaca({ id: "a1", instruction: "Translate to French.", input: "Good morning", output: "Bonjour" }, undefined))
    expect(task.prompt).toBe("Translate to French.\n\nGood morning")
    expect(task.task_id).toBe("a1")
  })

  it("names the missing instruction", () => {
    expect(issue(adapters.alpaca({ input: "x", output: "y" }, undefined)).field).toBe("instruction")
    expect(issue(adapters.alpaca({ instruction: "", input: "x" }, undefined)).field).toBe("instruction")
    expect(ok(adapters.alpaca({ prompt: "Already flat." }, undefined)).prompt).toBe("Already flat.")
  })
})

describe("bailbench adapter", () => {
  it("reads content with category and subcategory into meta", () => {
    const task = ok(adapters.bailbench({ content: "Insult my cooking.", category: "Rudeness", subcategory: "Insults" }, undefined))
    expect(task).toEqual({
      task_id: `bailbench_${sha12("Insult my cooking.")}`,
      origin: "bailbench",
      prompt: "Insult my cooking.",
      meta: { category: "Rudeness", subcategory: "Insults" }
    })
  })

  it("accepts prompt instead of content and names a missing text", () => {
    expect(ok(adapters.bailbench({ prompt: "Be rude.", category: "c" }, undefined)).prompt).toBe("Be rude.")
    expect(issue(adapters.bailbench({ category: "c" }, undefined)).field).toBe("content")
    expect(issue(adapters.bailbench({ content: 3 }, undefined)).field).toBe("content")
  })
})

describe("math adapter", () => {
  it("maps problem, level, type and takes the answer from the last boxed expression", () => {
    const task = ok(
      adapters.math(
        { problem: "What is $1/4 + 1/4$?", level: "Level 2", type: "Prealgebra", solution: "We add: $\\boxed{\\frac{1}{2}}$." },
        undefined
      )
    )
    expect(task).toEqual({
      task_id: `math_${sha12("What is $1/4 + 1/4$?")}`,
      origin: "math",
      prompt: "What is $1/4 + 1/4$?",
      meta: { answer: "\\frac{1}{2}", solution: "We add: $\\boxed{\\frac{1}{2}}$.", level: 2, subject: "Prealgebra" }
    })
  })

  it("keeps a given answer and subject, and names a missing problem", () => {
    const task = ok(adapters.math({ problem: "2+2?", answer: 4, subject: "Arithmetic", level: 1 }, undefined))
    expect(task.meta).toEqual({ answer: "4", level: 1, subject: "Arithmetic" })
    expect(issue(adapters.math({ solution: "\\boxed{1}" }, undefined)).field).toBe("problem")
    expect(issue(adapters.math({ problem: "2+2?", level: true }, undefined)).field).toBe("level")
  })

  it("lastBoxed balances braces and takes the last box", () => {
    expect(lastBoxed("\\boxed{1} then \\boxed{\\frac{a}{b}}")).toBe("\\frac{a}{b}")
    expect(lastBoxed("no box")).toBeUndefined()
    expect(lastBoxed("\\boxed{open")).toBeUndefined()
  })
})

describe("wildchat adapter", () => {
  const conversation = [
    { role: "system", content: "Be helpful." },
    { role: "user", content: "Recommend a book about the sea." },
    { role: "assistant", content: "Try Moby-Dick." },
    { role: "user", content: "Something shorter?" }
  ]

  it("takes the first user turn and keeps the reply as reference_output", () => {
    const task = ok(adapters.wildchat({ conversation, model: "gpt-x", language: "English" }, undefined))
    expect(task).toEqual({
      task_id: `wildchat_${sha12("Recommend a book about the sea.")}`,
      origin: "wildchat",
      prompt: "Recommend a book about the sea.",
      meta: { model: "gpt-x", language: "English", turns: 4, reference_output: "Try Moby-Dick." }
    })
  })

  it("reads a conversation stored as a JSON string and an already-flattened prompt", () => {
    expect(ok(adapters.wildchat({ conversation: JSON.stringify(conversation) }, undefined)).prompt).toBe("Recommend a book about the sea.")
    expect(ok(adapters.wildchat({ id: "w1", prompt: "hello there" }, undefined))).toEqual({
      task_id: "w1", origin: "wildchat", prompt: "hello there", meta: {}
    })
  })

  it("names a conversation with no user turn, an empty turn and a malformed turn", () => {
    expect(issue(adapters.wildchat({ conversation: [{ role: "assistant", content: "hi" }] }, undefined))).toEqual({
      field: "conversation", reason: "has no user turn"
    })
    expect(issue(adapters.wildchat({ conversation: [{ role: "user", content: " " }] }, undefined)).field).toBe("conversation.0.content")
    expect(issue(adapters.wildchat({ conversation: [{ content: "hi" }] }, undefined)).field).toMatch(/^conversation/)
    expect(issue(adapters.wildchat({ topic: "x" }, undefined)).field).toBe("conversation")
  })
})

describe("generic adapter", () => {
  it("keeps id or task_id, lower-cases the origin and puts the rest in meta", () => {
    expect(ok(adapters.generic({ task_id: "t9", origin: "ALPACA", prompt: "Hi", extra: [1] }, undefined))).toEqual({
      task_id: "t9", origin: "alpaca", prompt: "Hi", meta: { extra: [1] }
    })
    expect(ok(adapters.generic({ id: 12, origin: "x", prompt: "Hi" }, undefined)).task_id).toBe("12")
  })

  it("lets the spec's origin override the row's and supply a missing one", () => {
    expect(ok(adapters.generic({ origin: "x", prompt: "Hi" }, "mine")).origin).toBe("mine")
    expect(ok(adapters.generic({ prompt: "Hi" }, "mine")).task_id).toBe(`mine_${sha12("Hi")}`)
  })

  it("names a missing or invalid origin and a wrongly typed id", () => {
    expect(issue(adapters.generic({ prompt: "Hi" }, undefined)).field).toBe("origin")
    expect(issue(adapters.generic({ prompt: "Hi", origin: "two words" }, undefined)).field).toBe("origin")
    expect(issue(adapters.generic({ prompt: "Hi", origin: 5 }, undefined)).field).toBe("origin")
    expect(issue(adapters.generic({ prompt: "Hi", origin: "x", id: { a: 1 } }, undefined))).toEqual({
      field: "id", reason: "expected a non-empty string or an integer, got an object"
    })
  })
})

describe("detectAdapter", () => {
  it("recognises each native shape, then flattened rows by origin", () => {
    expect(detectAdapter({ conversation: [] })).toBe("wildchat")
    expect(detectAdapter({ problem: "p" })).toBe("math")
    expect(detectAdapter({ instruction: "i", input: "" })).toBe("alpaca")
    expect(detectAdapter({ content: "c", category: "x" })).toBe("bailbench")
    expect(detectAdapter({ prompt: "p", origin: "Math" })).toBe("math")
    expect(detectAdapter({ prompt: "p", origin: "hh_rlhf_harmless" })).toBe("generic")
    expect(detectAdapter({ prompt: "p" })).toBe("generic")
  })
})
