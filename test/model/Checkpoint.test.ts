import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { loadCheckpoint } from "../../model/Checkpoint"
import { tinyConfig, tinyWeights, writeTinyCheckpoint } from "./tinyCheckpoint"

const load = (dir: string) => loadCheckpoint(dir).pipe(Effect.provide(NodeContext.layer))
const failureField = (dir: string) => Effect.match(load(dir), { onFailure: (e) => e.field, onSuccess: () => "loaded without error" })

describe("loadCheckpoint", () => {
  it.effect("loads config, weights, tokenizer files and a sha256 weights hash", () =>
    Effect.gen(function* () {
      const ck = yield* load(writeTinyCheckpoint({ chatTemplate: "{{ bos_token }}" }))
      expect(ck.dims).toMatchObject({ hidden: 16, heads: 4, kvHeads: 2, headDim: 4, layers: 2, qkvBias: false })
      expect(ck.weightsHash).toMatch(/^[0-9a-f]{64}$/)
      expect(ck.chatTemplate).toBe("{{ bos_token }}")
      expect(ck.eosTokenIds).toEqual([2])
      const expected = tinyWeights(tinyConfig(), false).find((t) => t.name === "model.layers.1.mlp.up_proj.weight")!
      expect(ck.weights.get(expected.name)!.data).toEqual(expected.data)
    }))

  it.effect("names the unsupported field", () =>
    Effect.gen(function* () {
      expect(yield* failureField(writeTinyCheckpoint({ config: { architectures: ["GPT2LMHeadModel"] } }))).toBe("architectures.0")
      expect(yield* failureField(writeTinyCheckpoint({ config: { model_type: "gpt2" } }))).toBe("model_type")
      expect(yield* failureField(writeTinyCheckpoint({ config: { hidden_act: "gelu" } }))).toBe("hidden_act")
      expect(yield* failureField(writeTinyCheckpoint({ config: { rope_scaling: { rope_type: "yarn", factor: 2 } } }))).toBe("rope_scaling.rope_type")
      expect(yield* failureField(writeTinyCheckpoint({ config: { num_key_value_heads: 3 } }))).toBe("num_key_value_heads")
      const message = yield* Effect.match(load(writeTinyCheckpoint({ config: { model_type: "gpt2" } })), { onFailure: (e) => e.message, onSuccess: () => "" })
      expect(message).toContain("model_type")
    }))

  it.effect("accepts Llama-3 rope scaling, Qwen2 biases and a missing lm_head when tied", () =>
    Effect.gen(function* () {
      const scaling = { rope_type: "llama3", factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 16 }
      const llama3 = yield* load(writeTinyCheckpoint({ config: { rope_scaling: scaling } }))
      expect(llama3.config.rope_scaling).toEqual(scaling)
      const qwen = yield* load(writeTinyCheckpoint({ config: { architectures: ["Qwen2ForCausalLM"], model_type: "qwen2" }, qkvBias: true }))
      expect(qwen.dims.qkvBias).toBe(true)
      expect(yield* failureField(writeTinyCheckpoint({ config: { architectures: ["Qwen2ForCausalLM"], model_type: "qwen2" } }))).toBe("model.layers.0.self_attn.q_proj.bias")
      const tied = yield* load(writeTinyCheckpoint({ config: { tie_word_embeddings: true } }))
      expect(tied.weights.has("lm_head.weight")).toBe(false)
      expect(yield* failureField(writeTinyCheckpoint({ dropWeight: "lm_head.weight" }))).toBe("lm_head.weight")
    }))

  it.effect("caps a Mistral model's context at its sliding window, and ignores Qwen2's unused window", () =>
    Effect.gen(function* () {
      const positions = tinyConfig().max_position_embeddings
      const mistral = yield* load(writeTinyCheckpoint({ config: { architectures: ["MistralForCausalLM"], model_type: "mistral", sliding_window: positions / 2 } }))
      expect(mistral.dims.maxPositions).toBe(positions / 2)
      const unwindowed = yield* load(writeTinyCheckpoint({ config: { architectures: ["MistralForCausalLM"], model_type: "mistral", sliding_window: null } }))
      expect(unwindowed.dims.maxPositions).toBe(positions)
      const qwen = yield* load(writeTinyCheckpoint({ config: { architectures: ["Qwen2ForCausalLM"], model_type: "qwen2", sliding_window: positions / 2, use_sliding_window: false }, qkvBias: true }))
      expect(qwen.dims.maxPositions).toBe(positions)
    }))

  it.effect("decodes f16 and bf16 weights to float32 within their precision", () =>
    Effect.gen(function* () {
      const f32 = yield* load(writeTinyCheckpoint())
      for (const [dtype, tolerance] of [["F16", 2 ** -11], ["BF16", 2 ** -8]] as const) {
        const ck = yield* load(writeTinyCheckpoint({ dtype }))
        for (const [name, tensor] of f32.weights) {
          const other = ck.weights.get(name)!
          expect(other.dtype).toBe(dtype)
          for (let i = 0; i < tensor.data.length; i++) expect(Math.abs(other.data[i]! - tensor.data[i]!)).toBeLessThanOrEqual(Math.abs(tensor.data[i]!) * tolerance + 1e-7)
        }
      }
    }))

  it.effect("reads sharded checkpoints through model.safetensors.index.json", () =>
    Effect.gen(function* () {
      const single = yield* load(writeTinyCheckpoint())
      const sharded = yield* load(writeTinyCheckpoint({ shards: 3 }))
      expect([...sharded.weights.keys()].sort()).toEqual([...single.weights.keys()].sort())
      for (const [name, tensor] of single.weights) expect(sharded.weights.get(name)!.data).toEqual(tensor.data)
      expect(sharded.weightsHash).not.toBe(single.weightsHash)
    }))
})
