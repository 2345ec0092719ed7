import { inverseFrequencies } from "../../model/Compile"
import type { Checkpoint } from "../../model/Checkpoint"
import { type DecoderSession, forward, sequenceInput } from "../../model/Session"

/** A direct float64 forward pass of a Llama/Qwen2 decoder (HF semantics), returning all-position logits `[S][V]`. */
export const referenceLogits = (ck: Pick<Checkpoint, "config" | "dims" | "weights">, ids: ReadonlyArray<number>): number[][] => {
  const { dims, config } = ck
  const W = (name: string) => ck.weights.get(name)!.data
  const H = dims.hidden, D = dims.headDim
  const linear = (x: number[], name: string, out: number, bias?: string) => {
    const w = W(name), b = bias === undefined ? undefined : W(bias)
    return Array.from({ length: out }, (_, o) => {
      let s = b === undefined ? 0 : b[o]!
      for (let k = 0; k < x.length; k++) s += w[o * x.length + k]! * x[k]!
      return s
    })
  }
  const rms = (x: number[], name: string) => {
    const w = W(name)
    const inv = 1 / Math.sqrt(x.reduce((a, v) => a + v * v, 0) / x.length + config.rms_norm_eps)
    return x.map((v, k) => v * inv * w[k]!)
  }
  const inv = inverseFrequencies(config, D)
  const rope = (x: number[], heads: number, pos: number) => {
    const out = [...x]
    for (let h = 0; h < heads; h++)
      for (let k = 0; k < D / 2; k++) {
        const a = x[h * D + k]!, b = x[h * D + k + D / 2]!
        const c = Math.cos(pos * inv[k]!), s = Math.sin(pos * inv[k]!)
        out[h * D + k] = a * c - b * s
        out[h * D + k + D / 2] = b * c + a * s
      }
    return out
  }
  const emb = W("model.embed_tokens.weight")
  let x = ids.map((id) => Array.from(emb.subarray(id * H, (id + 1) * H)))
  for (let l = 0; l < dims.layers; l++) {
    const p = `model.layers.${l}.`
    const bias = (n: string) => (dims.qkvBias ? `${p}self_attn.${n}_proj.bias` : undefined)
    const h = x.map((r) => rms(r, `${p}input_layernorm.weight`))
    const q = h.map((r, t) => rope(linear(r, `${p}self_attn.q_proj.weight`, dims.heads * D, bias("q")), dims.heads, t))
    const k = h.map((r, t) => rope(linear(r, `${p}self_attn.k_proj.weight`, dims.kvHeads * D, bias("k")), dims.kvHeads, t))
    const v = h.map((r) => linear(r, `${p}self_attn.v_proj.weight`, dims.kvHeads * D, bias("v")))
    const attn = q.map((qt, t) => {
      const out = new Array<number>(dims.heads * D).fill(0)
      for (let hd = 0; hd < dims.heads; hd++) {
        const kv = Math.floor(hd / (dims.heads / dims.kvHeads))
        const scores = Array.from({ length: t + 1 }, (_, j) => {
          let s = 0
          for (let d = 0; d < D; d++) s += qt[hd * D + d]! * k[j]![kv * D + d]!
          return s / Math.sqrt(D)
        })
        const m = Math.max(...scores)
        const e = scores.map((s) => Math.exp(s - m))
        const z = e.reduce((a, b) => a + b, 0)
        for (let j = 0; j <= t; j++) for (let d = 0; d < D; d++) out[hd * D + d]! += (e[j]! / z) * v[j]![kv * D + d]!
      }
      return out
    })
    x = x.map((r, t) => linear(attn[t]!, `${p}self_attn.o_proj.weight`, H).map((a, c) => a + r[c]!))
    x = x.map((r) => {
      const n = rms(r, `${p}post_attention_layernorm.weight`)
      const g = linear(n, `${p}mlp.gate_proj.weight`, dims.intermediate)
      const u = linear(n, `${p}mlp.up_proj.weight`, dims.intermediate)
      const a = g.map((gv, c) => (gv / (1 + Math.exp(-gv))) * u[c]!)
      return linear(a, `${p}mlp.down_proj.weight`, H).map((d, c) => d + r[c]!)
    })
  }
  const head = config.tie_word_embeddings ? "model.embed_tokens.weight" : "lm_head.weight"
  return x.map((r) => linear(rms(r, "model.norm.weight"), head, dims.vocab))
}

/** Runs one unpadded sequence through a compiled session from an empty cache. */
export const forwardSequence = (session: DecoderSession, ids: ReadonlyArray<number>) => forward(session, sequenceInput(session.dims, ids), [])
