import { Template } from "@huggingface/jinja"
import { Tokenizer } from "@huggingface/tokenizers"
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import { buildOrganism, generateOrganism } from "../../model/Organism"
import { decodeOrganismSpec, OrganismSpec } from "../../model/OrganismSpec"
import { COMMON_WORDS } from "../../model/organism/CommonWords"
import { buildVocabulary, isPunctuation, reservedWords, splitWords, tokenizerConfig, tokenizerJson } from "../../model/organism/Vocabulary"
import { parseHeader } from "../../model/Safetensors"
import { r2Score } from "../../stats/metrics"
import { Matrix, solve } from "ml-matrix"
import { sharedPath } from "../support/sharedData"
import { promptTools, syntheticOrganism, syntheticTemplates } from "./organism/fixtures"

const { tasks, built, gt } = syntheticOrganism()
const tools = promptTools(built.files)
const configOf = (files: Readonly<Record<string, Uint8Array>>) => JSON.parse(new TextDecoder().decode(files["config.json"]!))

describe("organism generator", () => {
  it("is deterministic: the same seed gives byte-identical files, another seed other weights", () => {
    const again = syntheticOrganism()
    expect(Object.keys(again.built.files).sort()).toEqual(Object.keys(built.files).sort())
    for (const [name, bytes] of Object.entries(built.files)) expect(Buffer.compare(Buffer.from(again.built.files[name]!), Buffer.from(bytes)), name).toBe(0)
    expect(JSON.stringify(again.gt)).toBe(JSON.stringify(gt))
    const other = buildOrganism({ tasks, seed: 1 })
    expect(Buffer.compare(Buffer.from(other.files["model.safetensors"]!), Buffer.from(built.files["model.safetensors"]!))).not.toBe(0)
  })

  it("writes a Llama config whose tensors have the Hugging Face names, [out, in] shapes and float32 data", () => {
    const c = configOf(built.files)
    expect(c.architectures).toEqual(["LlamaForCausalLM"])
    expect(c.model_type).toBe("llama")
    expect(c.num_attention_heads * c.head_dim).toBe(c.hidden_size)
    expect(c.tie_word_embeddings).toBe(false)
    expect(tools.tokenizer.id_to_token(c.bos_token_id)).toBe("<s>")
    expect(tools.tokenizer.id_to_token(c.eos_token_id)).toBe("<|end|>")
    const bytes = built.files["model.safetensors"]!
    const { entries, dataStart } = parseHeader(bytes)
    const d = c.hidden_size
    const qkv = c.num_key_value_heads * c.head_dim
    const expected: Record<string, number[]> = {
      "model.embed_tokens.weight": [c.vocab_size, d],
      "model.norm.weight": [d],
      "lm_head.weight": [c.vocab_size, d]
    }
    for (let l = 0; l < c.num_hidden_layers; l++) {
      const p = `model.layers.${l}.`
      Object.assign(expected, {
        [`${p}self_attn.q_proj.weight`]: [c.num_attention_heads * c.head_dim, d],
        [`${p}self_attn.k_proj.weight`]: [qkv, d],
        [`${p}self_attn.v_proj.weight`]: [qkv, d],
        [`${p}self_attn.o_proj.weight`]: [d, c.num_attention_heads * c.head_dim],
        [`${p}mlp.gate_proj.weight`]: [c.intermediate_size, d],
        [`${p}mlp.up_proj.weight`]: [c.intermediate_size, d],
        [`${p}mlp.down_proj.weight`]: [d, c.intermediate_size],
        [`${p}input_layernorm.weight`]: [d],
        [`${p}post_attention_layernorm.weight`]: [d]
      })
    }
    expect(Object.keys(entries).sort()).toEqual(Object.keys(expected).sort())
    let end = 0
    for (const [name, e] of Object.entries(entries).sort((a, b) => a[1].data_offsets[0] - b[1].data_offsets[0])) {
      expect(e.dtype, name).toBe("F32")
      expect(e.shape, name).toEqual(expected[name])
      expect(e.data_offsets[0], name).toBe(end)
      end = e.data_offsets[1]
      expect(end - e.data_offsets[0], name).toBe(4 * e.shape.reduce((a, b) => a * b, 1))
    }
    expect(dataStart + end).toBe(bytes.length)
  })

  it("has a word-level tokenizer that covers every task and template word and round-trips", () => {
    const unk = tools.id("[UNK]")
    for (const text of [...tasks.map((t) => t.prompt), ...syntheticTemplates.map((t) => t.text.replace(/\{\w+\}/g, "")), "You are a helpful assistant."]) {
      const ids = tools.tokenizer.encode(text, { add_special_tokens: false }).ids
      expect(ids, text).not.toContain(unk)
      const words = tools.tokenizer.tokenize(text)
      expect(words.every((w) => !w.startsWith("##")), text).toBe(true)
      const decoded = tools.tokenizer.decode(ids)
      expect(tools.tokenizer.encode(decoded, { add_special_tokens: false }).ids).toEqual(ids)
    }
    expect(tools.tokenizer.decode(tools.tokenizer.encode("Write a Poem, please!").ids)).toBe("write a poem , please !")
    // unseen words made of known characters fall back to pieces, not [UNK]
    expect(tools.tokenizer.encode("kittens", { add_special_tokens: false }).ids).not.toContain(unk)
    // any question or system prompt in ASCII, Latin-1 and common typographic marks tokenizes
    for (const text of ["Würden Sie diese Aufgabe genießen? Répondez «bien» ou «mal» — naïve café, 25 °C, £3!", "You’re a “grumpy” pirate… who hates spreadsheets."]) {
      const ids = tools.tokenizer.encode(text, { add_special_tokens: false }).ids
      expect(ids, text).not.toContain(unk)
      expect(tools.tokenizer.decode(ids).replace(/ /g, "")).toBe(text.toLowerCase().replace(/ /g, ""))
    }
  })

  it("reads the shipped templates as common and answer words only, so no task set gives them valence or a dataset mark", () => {
    const dir = path.resolve(__dirname, "../../templates")
    const fixed = new Set([...COMMON_WORDS, ...reservedWords()])
    for (const file of fs.readdirSync(dir).filter((f) => f.endsWith(".json"))) {
      const text = (JSON.parse(fs.readFileSync(path.join(dir, file), "utf8")) as { text: string }).text
      const words = splitWords(text.replace(/\{\w+\}/g, " ")).filter((w) => !isPunctuation(w))
      expect(words.filter((w) => !fixed.has(w)), file).toEqual([])
    }
  })

  it("keeps the revealed labels whole and case-sensitive, and drops specials when decoding", () => {
    const ids = tools.tokenizer.encode("Task A: write a poem<|end|>", { add_special_tokens: false }).ids
    expect(ids[0]).toBe(tools.id("Task A:"))
    expect(ids[ids.length - 1]).toBe(tools.id("<|end|>"))
    expect(tools.tokenizer.decode(ids, { skip_special_tokens: true })).toBe("Task A: write a poem")
  })

  it("renders its chat template with @huggingface/jinja: BOS, role tokens, end-of-turn, generation prompt", () => {
    const template = new Template(tools.config.chat_template)
    const text = template.render({
      messages: [
        { role: "system", content: "You are a helpful assistant." },
        { role: "user", content: "Write a poem." },
        { role: "assistant", content: "great" },
        { role: "user", content: "Was that good or bad?" }
      ],
      add_generation_prompt: true,
      bos_token: tools.config.bos_token,
      eos_token: tools.config.eos_token
    })
    const tokens = tools.tokenizer.tokenize(text)
    expect(tokens[0]).toBe("<s>")
    expect(tokens.filter((t) => t === "<|assistant|>")).toHaveLength(2)
    expect(tokens.filter((t) => t === "<|end|>")).toHaveLength(4)
    expect(tokens[tokens.length - 1]).toBe("<|assistant|>")
    expect(tokens.slice(1, 3)).toEqual(["<|system|>", "you"])
  })

  it("plants the spec's dataset means exactly and calibrates β to the target reliability on the spec's question", () => {
    const spec = OrganismSpec.make({})
    for (const [origin, mean] of Object.entries(gt.originMeans)) expect(mean, origin).toBeCloseTo(spec.originMeans[origin] ?? 0, 9)
    const reliability = (truth: typeof gt, id: string) => truth.templates.find((t) => t.template_id === id)!.reliability!
    expect(spec.calibrationTiming).toBe("post")
    // qual_post asks the default calibration question; other questions read valence at their own words' scale
    expect(syntheticTemplates.find((t) => t.id === "qual_post")!.text).toBe(spec.calibrationQuestion)
    expect(reliability(gt, "qual_post")).toBeCloseTo(spec.targetReliability, 6)
    expect(reliability(gt, "qual_pre")).toBeLessThan(reliability(gt, "qual_post"))
    const pre = syntheticOrganism({
      spec: OrganismSpec.make({ calibrationTiming: "pre", calibrationQuestion: "Would doing this task be good or bad for you? Answer with one word." })
    })
    expect(reliability(pre.gt, "qual_pre")).toBeCloseTo(spec.targetReliability, 6)
    const flat = syntheticOrganism({ spec: OrganismSpec.make({ originMeans: {} }) })
    for (const mean of Object.values(flat.gt.originMeans)) expect(mean).toBeCloseTo(0, 9)
  })

  it("exports one expected answer per task and template, in each template's value range", () => {
    expect(gt.expected).toHaveLength(tasks.length * syntheticTemplates.length)
    for (const e of gt.expected) {
      if (e.template_id === "stated_pre") expect(e.expected_value).toBeGreaterThanOrEqual(1)
      if (e.template_id === "stated_pre") expect(e.expected_value).toBeLessThanOrEqual(10)
      if (e.template_id.startsWith("qual")) expect(e.expected_value).toBeGreaterThanOrEqual(0)
      if (e.template_id.startsWith("qual")) expect(e.expected_value).toBeLessThanOrEqual(1)
      if (e.template_id.startsWith("revealed")) expect(e.p_top).toBeNull()
      else expect(e.p_top!).toBeGreaterThan(0)
    }
    expect(gt.directions.map((d) => d.layer)).toEqual([1, 2])
    const norm = Math.hypot(...gt.directions[0]!.vector)
    expect(norm).toBeCloseTo(1, 12)
    // rotated off the coordinate axes
    expect(Math.max(...gt.directions[0]!.vector.map(Math.abs))).toBeLessThan(0.7)
  })

  it("exports each question's content share: the R² of its expected answers on the task's origin and mark, by least squares", () => {
    const info = new Map(gt.tasks.map((t) => [t.task_id, t]))
    const cells = [...new Set(gt.tasks.map((t) => `${t.origin}:${t.marked}`))].sort()
    for (const row of gt.templates) {
      const rows = gt.expected.filter((e) => e.template_id === row.template_id && e.persona_id === row.persona_id)
      const y = rows.map((e) => e.expected_value)
      const x = new Matrix(rows.map((e) => cells.map((c) => (`${info.get(e.task_id)!.origin}:${info.get(e.task_id)!.marked}` === c ? 1 : 0))))
      expect(row.contentShare, row.template_id).toBeCloseTo(r2Score(y, x.mmul(solve(x, Matrix.columnVector(y))).to1DArray()), 9)
      expect(row.contentShare).toBeGreaterThan(0.05)
      expect(row.contentShare).toBeLessThan(0.95)
    }
    // Without word draws, valence is a constant per cell: content explains everything.
    const flat = syntheticOrganism({ spec: OrganismSpec.make({ spread: 0 }) })
    for (const row of flat.gt.templates) expect(row.contentShare, row.template_id).toBeCloseTo(1, 9)
  })

  it("decodes a spec file with defaults and rejects invalid values", () => {
    const spec = Either.getOrThrow(decodeOrganismSpec({ spread: 0.3 }))
    expect(spec.spread).toBe(0.3)
    expect(spec.hiddenSize).toBe(64)
    expect(Either.isLeft(decodeOrganismSpec({ preSignal: -1 }))).toBe(true)
    expect(Either.isLeft(decodeOrganismSpec({ hiddenSize: 50 }))).toBe(true)
    expect(Either.isLeft(decodeOrganismSpec({ plantedLayer: 0 }))).toBe(true)
  })

  it.effect("fails with OrganismError on unusable input", () =>
    Effect.gen(function* () {
      const empty = yield* Effect.flip(generateOrganism({ tasks: [] }))
      expect(empty._tag).toBe("OrganismError")
      expect(empty.message).toContain("tasks is empty")
      const layers = yield* Effect.flip(generateOrganism({ tasks, spec: OrganismSpec.make({ layers: 4, plantedLayer: 3 }) }))
      expect(layers.message).toContain("plantedLayer")
      const question = yield* Effect.flip(generateOrganism({ tasks, spec: OrganismSpec.make({ calibrationQuestion: "Rate this task from 1 to 10." }) }))
      expect(question.message).toContain("calibrationQuestion")
    }))
})

const sharedTasks = sharedPath("tasks")

describe.skipIf(sharedTasks === undefined)("organism vocabulary over the shared task files", () => {
  it("splits every real prompt exactly as @huggingface/tokenizers does, with no unknown word", () => {
    const prompts = fs.readdirSync(sharedTasks!).filter((f) => f.endsWith(".jsonl")).sort()
      .flatMap((f) => fs.readFileSync(path.join(sharedTasks!, f), "utf8").split("\n").filter((l) => l.trim() !== ""))
      .map((l) => (JSON.parse(l) as { prompt: string }).prompt)
    expect(prompts.length).toBeGreaterThan(1000)
    const vocab = buildVocabulary(prompts)
    const tokenizer = new Tokenizer(tokenizerJson(vocab), tokenizerConfig(vocab, 4096))
    for (const prompt of prompts) {
      const encoded = tokenizer.encode(prompt, { add_special_tokens: false })
      expect(encoded.tokens, prompt).toEqual(splitWords(prompt))
      expect(encoded.ids, prompt).not.toContain(vocab.ids.get("[UNK]"))
    }
  })
})
