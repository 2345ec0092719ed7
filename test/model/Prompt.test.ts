import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { makeChatRenderer } from "../../model/ChatTemplate"
import { encodePrompt, type Prompt, selectorIndices } from "../../model/Prompt"
import { makeTokenizer, tokenSpan } from "../../model/Tokenizer"
import { sharedPath } from "../support/sharedData"
import { tinyTokenizerJson, tinyWords } from "./tinyCheckpoint"

const tok = makeTokenizer(tinyTokenizerJson(), { bos_token: "<s>", eos_token: "</s>", unk_token: "[UNK]" })
const id = (word: string) => tinyWords.indexOf(word)
const fallback = makeChatRenderer(undefined, tok.bosToken, tok.eosToken)
const select = (prompt: Prompt, selector: string, renderer = fallback) => selectorIndices(encodePrompt(tok, renderer, prompt), selector)

describe("tokenizer over a WordPiece whole-word vocabulary", () => {
  it("encodes with BOS from the post-processor, decodes without specials, and knows EOS", () => {
    expect(tok.encode("the cat sat", true)).toEqual([1, id("the"), id("cat"), id("sat")])
    expect(tok.encode("the cat sat", false)).toEqual([id("the"), id("cat"), id("sat")])
    expect(tok.decode([1, id("the"), id("cat"), 2])).toBe("the cat")
    expect(tok.eosIds).toEqual([2])
  })
})

describe("chat rendering", () => {
  const completed: Prompt = {
    kind: "chat",
    messages: [{ role: "user", content: "the red cat" }, { role: "assistant", content: "the dog ran" }],
    addGenerationPrompt: false,
    taskText: "red cat"
  }

  it("falls back to 'Role: content' turns, EOS after assistant turns and an 'Assistant:' generation prompt", () => {
    expect(fallback.hasTemplate).toBe(false)
    expect(fallback.render([{ role: "system", content: "a" }, { role: "user", content: "the cat" }], true).text).toBe("System: a\n\nUser: the cat\n\nAssistant:")
    expect(fallback.render(completed.kind === "chat" ? completed.messages : [], false).text).toBe("User: the red cat\n\nAssistant: the dog ran</s>")
  })

  it("resolves every selector on a completed turn", () => {
    // <s> User: the red cat Assistant: the dog ran </s>
    const expected: Record<string, number[]> = {
      first: [0],
      last: [9],
      mean: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
      prompt_last: [5],
      eot: [9],
      "turn_boundary:0": [5],
      "turn_boundary:2": [3],
      task_last: [4],
      task_mean: [3, 4]
    }
    expect(encodePrompt(tok, fallback, completed).ids).toEqual([1, id("User:"), id("the"), id("red"), id("cat"), id("Assistant:"), id("the"), id("dog"), id("ran"), 2])
    for (const [selector, indices] of Object.entries(expected)) expect(select(completed, selector)).toEqual(Either.right(indices))
  })

  it("rejects selectors that do not apply, naming them", () => {
    const open: Prompt = { kind: "chat", messages: [{ role: "user", content: "the cat" }], addGenerationPrompt: true }
    expect(Either.getLeft(select(open, "eot"))._tag).toBe("Some")
    expect(Either.isLeft(select(open, "task_mean"))).toBe(true)
    expect(Either.isLeft(select(open, "turn_boundary:99"))).toBe(true)
    expect(select(open, "nearest")).toEqual(Either.left(expect.stringContaining("unknown selector nearest")))
  })

  it("renders a Jinja chat template without adding special tokens twice", () => {
    const template = "{{ bos_token }}{% for m in messages %}{% if m.role == 'user' %}User: {% else %}Assistant: {% endif %}{{ m.content }} {% if m.role == 'assistant' %}{{ eos_token }}{% endif %}{% endfor %}{% if add_generation_prompt %}Assistant:{% endif %}"
    const jinja = makeChatRenderer(template, tok.bosToken, tok.eosToken)
    const prompt: Prompt = { kind: "chat", messages: [{ role: "user", content: "a blue dog" }], addGenerationPrompt: true, taskText: "blue dog" }
    const encoded = encodePrompt(tok, jinja, prompt)
    expect(jinja.hasTemplate).toBe(true)
    expect(encoded.ids).toEqual([1, id("User:"), id("a"), id("blue"), id("dog"), id("Assistant:")])
    expect(encoded.task).toEqual({ start: 3, end: 5 })
    expect(encoded.promptLast).toBe(5)
  })
})

const storiesDir = sharedPath("models/stories260K-hf")
describe.skipIf(storiesDir === undefined)("token spans with a BPE tokenizer", () => {
  it("covers exactly the tokens of a character span, found by prefix tokenization", () => {
    const read = (f: string) => JSON.parse(fs.readFileSync(path.join(storiesDir!, f), "utf8"))
    const bpe = makeTokenizer(read("tokenizer.json"), read("tokenizer_config.json"))
    const text = "Once there was a tiny frog who sang"
    const ids = bpe.encode(text, true)
    for (const word of ["tiny frog", "sang", "Once"]) {
      const at = text.indexOf(word)
      const span = tokenSpan(bpe, text, ids, true, at, at + word.length)
      expect(bpe.decode(ids.slice(span.start, span.end)).trim()).toBe(word)
      expect(bpe.decode(ids.slice(span.start + 1, span.end)).trim()).not.toBe(word)
    }
  })
})
