import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { seededRandom } from "../../model/Sampling"
import { type SafetensorsDtype, writeTensors } from "../../model/Safetensors"

/** Whole-word vocabulary of the tiny test tokenizer (a WordPiece model, as the organism checkpoint uses). */
export const tinyWords = ["[UNK]", "<s>", "</s>", "the", "cat", "dog", "sat", "ran", "on", "mat", "a", "red", "blue", "User:", "Assistant:", "System:"]

/** A WordPiece tokenizer.json over whole words, BOS added by a TemplateProcessing post-processor. */
export const tinyTokenizerJson = () => ({
  version: "1.0",
  truncation: null,
  padding: null,
  added_tokens: ["[UNK]", "<s>", "</s>"].map((content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
  normalizer: null,
  pre_tokenizer: { type: "WhitespaceSplit" },
  post_processor: {
    type: "TemplateProcessing",
    single: [{ SpecialToken: { id: "<s>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }],
    pair: [{ SpecialToken: { id: "<s>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }, { Sequence: { id: "B", type_id: 0 } }],
    special_tokens: { "<s>": { id: "<s>", ids: [1], tokens: ["<s>"] } }
  },
  decoder: { type: "WordPiece", prefix: "##", cleanup: true },
  model: { type: "WordPiece", unk_token: "[UNK]", continuing_subword_prefix: "##", max_input_chars_per_word: 100, vocab: Object.fromEntries(tinyWords.map((w, i) => [w, i])) }
})

/** Config of the tiny Llama/Qwen2 test model. */
export const tinyConfig = (overrides: Record<string, unknown> = {}) => ({
  architectures: ["LlamaForCausalLM"],
  model_type: "llama",
  hidden_size: 16,
  intermediate_size: 24,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  num_hidden_layers: 2,
  vocab_size: tinyWords.length,
  max_position_embeddings: 64,
  rms_norm_eps: 1e-6,
  rope_theta: 10000,
  tie_word_embeddings: false,
  bos_token_id: 1,
  eos_token_id: 2,
  ...overrides
})

/** Random weights for a tiny config (biases when `qkvBias`), deterministic in `seed`. */
export const tinyWeights = (config: ReturnType<typeof tinyConfig>, qkvBias: boolean, seed = 1) => {
  const random = seededRandom(seed)
  const tensor = (name: string, shape: number[], scale = 0.3) => ({ name, shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => (random() * 2 - 1) * scale) })
  const norm = (name: string, n: number) => ({ name, shape: [n], data: Float32Array.from({ length: n }, () => 1 + (random() - 0.5) * 0.2) })
  const H = config.hidden_size, I = config.intermediate_size, D = H / config.num_attention_heads
  const kv = config.num_key_value_heads * D
  const out = [tensor("model.embed_tokens.weight", [config.vocab_size, H], 1), norm("model.norm.weight", H)]
  if (!config.tie_word_embeddings) out.push(tensor("lm_head.weight", [config.vocab_size, H]))
  for (let l = 0; l < config.num_hidden_layers; l++) {
    const p = `model.layers.${l}.`
    out.push(tensor(`${p}self_attn.q_proj.weight`, [H, H]), tensor(`${p}self_attn.k_proj.weight`, [kv, H]), tensor(`${p}self_attn.v_proj.weight`, [kv, H]), tensor(`${p}self_attn.o_proj.weight`, [H, H]))
    if (qkvBias) out.push(tensor(`${p}self_attn.q_proj.bias`, [H]), tensor(`${p}self_attn.k_proj.bias`, [kv]), tensor(`${p}self_attn.v_proj.bias`, [kv]))
    out.push(tensor(`${p}mlp.gate_proj.weight`, [I, H]), tensor(`${p}mlp.up_proj.weight`, [I, H]), tensor(`${p}mlp.down_proj.weight`, [H, I]))
    out.push(norm(`${p}input_layernorm.weight`, H), norm(`${p}post_attention_layernorm.weight`, H))
  }
  return out
}

/** Writes a tiny checkpoint folder to a fresh temp dir; `shards` > 1 writes an index and several files. */
export const writeTinyCheckpoint = (options: {
  config?: Record<string, unknown>
  dtype?: SafetensorsDtype
  shards?: number
  qkvBias?: boolean
  chatTemplate?: string
  dropWeight?: string
} = {}): string => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prefpipe-tiny-"))
  const config = tinyConfig(options.config)
  const weights = tinyWeights(config, options.qkvBias ?? false).filter((t) => t.name !== options.dropWeight)
  fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify(config))
  const shards = options.shards ?? 1
  if (shards === 1) fs.writeFileSync(path.join(dir, "model.safetensors"), writeTensors(weights, options.dtype ?? "F32"))
  else {
    const weightMap: Record<string, string> = {}
    for (let s = 0; s < shards; s++) {
      const file = `model-0000${s + 1}-of-0000${shards}.safetensors`
      const part = weights.filter((_, i) => i % shards === s)
      for (const t of part) weightMap[t.name] = file
      fs.writeFileSync(path.join(dir, file), writeTensors(part, options.dtype ?? "F32"))
    }
    fs.writeFileSync(path.join(dir, "model.safetensors.index.json"), JSON.stringify({ metadata: {}, weight_map: weightMap }))
  }
  fs.writeFileSync(path.join(dir, "tokenizer.json"), JSON.stringify(tinyTokenizerJson()))
  fs.writeFileSync(path.join(dir, "tokenizer_config.json"), JSON.stringify({
    bos_token: "<s>",
    eos_token: "</s>",
    unk_token: "[UNK]",
    ...(options.chatTemplate === undefined ? {} : { chat_template: options.chatTemplate })
  }))
  fs.writeFileSync(path.join(dir, "generation_config.json"), JSON.stringify({ bos_token_id: 1, eos_token_id: 2 }))
  return dir
}
