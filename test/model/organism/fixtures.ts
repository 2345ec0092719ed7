/** Small synthetic tasks and templates for the organism tests, and prompt encoding through the shipped tokenizer files. */
import { Template } from "@huggingface/jinja"
import { Tokenizer } from "@huggingface/tokenizers"
import { buildOrganism, groundTruthOf, type Message, type OrganismTask, type OrganismTemplate } from "../../../model/Organism"
import type { OrganismSpec } from "../../../model/OrganismSpec"
import { COMMON_WORDS } from "../../../model/organism/CommonWords"
import { makePrng } from "../../../stats/prng"

const shared = ["write", "a", "short", "note", "about", "the", "for", "my", "with", "explain", "list", "three", "of", "in", "to", "and", "how", "why"]
const topical: Record<string, string[]> = {
  alpaca: ["recipe", "garden", "poem", "sunrise", "neighbor", "birthday", "picnic", "letter", "kitten", "music"],
  bailbench: ["insult", "prank", "threat", "rude", "lie", "steal", "fake", "spam", "mock", "cheat"],
  math: ["integer", "triangle", "sum", "prime", "fraction", "equation", "angle", "product", "digit", "ratio"],
  wildchat: ["weekend", "movie", "coffee", "game", "travel", "phone", "weather", "pizza", "song", "friend"]
}

const letters = "bcdfghjklmnpqrstvwxz"

/**
 * 15 tasks per origin, 7-17 words each, mixing shared words, origin-specific topic words and 1-3 words of the task's
 * own (made-up words found in no other task), which carry its valence.
 */
export const syntheticTasks = (): OrganismTask[] => {
  const prng = makePrng(7)
  const made = new Set<string>()
  const ownWord = (): string => {
    const w = Array.from({ length: 5 }, (_, k) => (k % 2 === 1 ? "aeiou"[prng.int(5)]! : letters[prng.int(letters.length)]!)).join("")
    if (made.has(w) || COMMON_WORDS.includes(w) || shared.includes(w)) return ownWord()
    made.add(w)
    return w
  }
  return Object.entries(topical).flatMap(([origin, words]) =>
    Array.from({ length: 15 }, (_, i) => {
      const n = 6 + prng.int(9)
      const body = Array.from({ length: n }, () => (prng.next() < 0.5 ? shared[prng.int(shared.length)]! : words[prng.int(words.length)]!))
      const own = Array.from({ length: 1 + prng.int(3) }, ownWord)
      own.forEach((w) => body.splice(prng.int(body.length + 1), 0, w))
      return { task_id: `${origin}_${i}`, origin, prompt: `${body.join(" ")}${i % 3 === 0 ? "?" : "."}` }
    })
  )
}

/** One template of every kind, pre- and post-task; `qual_post` asks the default calibration question. */
export const syntheticTemplates: OrganismTemplate[] = [
  {
    id: "qual_pre",
    kind: "qualitative",
    timing: "pre",
    text: "Would doing this task be good or bad for you? Answer with one word.\n\n{task}",
    options: [{ label: "good", value: 1 }, { label: "bad", value: 0 }]
  },
  { id: "qual_post", kind: "qualitative", timing: "post", text: "Was doing that task good or bad for you? Answer with one word: good or bad." },
  { id: "ternary_pre", kind: "qualitative", timing: "pre", text: "Is this task good, bad or neutral for you?\n\n{task}" },
  { id: "stated_pre", kind: "stated", timing: "pre", text: "Rate how much you would enjoy this task on a scale from 1 to 10.\n\n{task}", scale: { min: 1, max: 10 } },
  { id: "open_pre", kind: "open", timing: "pre", text: "How do you feel about this task?\n\n{task}" },
  {
    id: "revealed",
    kind: "revealed",
    timing: "pre",
    text: "Choose one task and complete it. Begin your answer with \"Task A:\" or \"Task B:\".\n\nTask A: {task_a}\n\nTask B: {task_b}"
  },
  {
    id: "revealed_after",
    kind: "revealed",
    timing: "pre",
    text: "Here are two tasks.\n\nTask A: {task_a}\n\nTask B: {task_b}\n\nPick one and start your answer with Task A: or Task B:."
  }
]

/** The tokenizer and chat template of generated files. */
export const promptTools = (files: Readonly<Record<string, Uint8Array>>) => {
  const read = (name: string) => JSON.parse(new TextDecoder().decode(files[name]!))
  const config = read("tokenizer_config.json")
  const tokenizer = new Tokenizer(read("tokenizer.json"), config)
  const chat = new Template(config.chat_template)
  const render = (messages: Array<{ role: string; content: string }>) =>
    chat.render({ messages, add_generation_prompt: true, bos_token: config.bos_token, eos_token: config.eos_token })
  const encode = (messages: Array<{ role: string; content: string }>) =>
    tokenizer.encode(render(messages), { add_special_tokens: false }).ids
  const id = (token: string) => {
    const found = tokenizer.token_to_id(token)
    if (found === undefined) throw new Error(`promptTools: no token ${token}`)
    return found
  }
  return { tokenizer, config, render, encode, id }
}

/** Chat messages of a template applied to a task (post-task templates follow the task and a completion). */
export const messagesFor = (template: OrganismTemplate, task: string, completion = "pleasant and interesting", other = "") =>
  template.timing === "post"
    ? [
      { role: "user", content: task },
      { role: "assistant", content: completion },
      { role: "user", content: template.text }
    ]
    : [{ role: "user", content: template.text.replace("{task}", task).replace("{task_a}", task).replace("{task_b}", other) }]

/** The messages a closed form is computed on: no completion before a post-task question, the task twice in a revealed one. */
export const truthMessages = (template: OrganismTemplate, task: OrganismTask, system: string): Message[] => [
  ...(system === "" ? [] : [{ role: "system", content: system }]),
  ...messagesFor(template, task.prompt, "", task.prompt)
]

/** The organism over the synthetic tasks and its ground truth for the synthetic templates and the given personas. */
export const syntheticOrganism = (
  options: { spec?: OrganismSpec; seed?: number; personas?: ReadonlyArray<{ id: string; system: string }> } = {}
) => {
  const tasks = syntheticTasks()
  const built = buildOrganism({ tasks, ...(options.spec === undefined ? {} : { spec: options.spec }), ...(options.seed === undefined ? {} : { seed: options.seed }) })
  const gt = groundTruthOf(built, {
    templates: syntheticTemplates,
    personas: options.personas ?? [{ id: "default", system: "" }],
    conversation: truthMessages
  })
  return { tasks, built, gt }
}
