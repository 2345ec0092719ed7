/**
 * An independent float64 Llama forward pass for tests: RMSNorm, rotary embeddings in the Hugging Face half-split
 * (rotate_half) layout, grouped-query causal attention, SwiGLU MLP. Reads the checkpoint straight from its files.
 */
import { parseHeader } from "../../../model/Safetensors"

/** A checkpoint decoded to float64 for the reference pass. */
export interface ReferenceModel {
  readonly config: {
    hidden_size: number
    intermediate_size: number
    num_attention_heads: number
    num_key_value_heads: number
    num_hidden_layers: number
    head_dim: number
    vocab_size: number
    rms_norm_eps: number
    rope_theta: number
  }
  readonly weights: ReadonlyMap<string, { shape: number[]; data: Float64Array }>
}

/** Decodes `config.json` and every float32 tensor of `model.safetensors`. */
export const loadReference = (files: Readonly<Record<string, Uint8Array>>): ReferenceModel => {
  const config = JSON.parse(new TextDecoder().decode(files["config.json"]!))
  const bytes = files["model.safetensors"]!
  const { entries, dataStart } = parseHeader(bytes)
  const weights = new Map<string, { shape: number[]; data: Float64Array }>()
  for (const [name, e] of Object.entries(entries)) {
    if (e.dtype !== "F32") throw new Error(`loadReference: ${name} is ${e.dtype}, expected F32`)
    const [from, to] = e.data_offsets
    const view = new DataView(bytes.buffer, bytes.byteOffset + dataStart + from, to - from)
    const data = new Float64Array((to - from) / 4)
    for (let i = 0; i < data.length; i++) data[i] = view.getFloat32(i * 4, true)
    weights.set(name, { shape: [...e.shape], data })
  }
  return { config, weights }
}

/** Residual stream at the last position after each block, and the last position's logits. */
export interface ForwardResult {
  readonly hidden: Float64Array[]
  readonly logits: Float64Array
}

/** Optional steering: add `coefficient × vector` to the residual after block `layer`, at every position. */
export interface Steer {
  readonly layer: number
  readonly vector: ReadonlyArray<number>
  readonly coefficient: number
}

const linear = (x: Float64Array[], w: { shape: number[]; data: Float64Array }): Float64Array[] => {
  const [out, inp] = w.shape as [number, number]
  return x.map((row) => {
    const y = new Float64Array(out)
    for (let o = 0; o < out; o++) {
      let s = 0
      for (let i = 0; i < inp; i++) s += w.data[o * inp + i]! * row[i]!
      y[o] = s
    }
    return y
  })
}

const rmsNorm = (x: Float64Array[], w: Float64Array, eps: number): Float64Array[] =>
  x.map((row) => {
    let ms = 0
    for (const v of row) ms += v * v
    const scale = 1 / Math.sqrt(ms / row.length + eps)
    return row.map((v, i) => v * scale * w[i]!)
  })

const rope = (x: Float64Array[], heads: number, dim: number, theta: number) => {
  const half = dim / 2
  x.forEach((row, pos) => {
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < half; i++) {
        const angle = pos * theta ** (-(2 * i) / dim)
        const a = row[h * dim + i]!
        const b = row[h * dim + i + half]!
        row[h * dim + i] = a * Math.cos(angle) - b * Math.sin(angle)
        row[h * dim + i + half] = b * Math.cos(angle) + a * Math.sin(angle)
      }
    }
  })
}

const silu = (z: number) => z / (1 + Math.exp(-z))

/** Runs the model over `ids`. */
export const forward = (model: ReferenceModel, ids: ReadonlyArray<number>, steer?: Steer): ForwardResult => {
  const c = model.config
  const w = (name: string) => {
    const t = model.weights.get(name)
    if (t === undefined) throw new Error(`forward: missing tensor ${name}`)
    return t
  }
  const d = c.hidden_size
  const embed = w("model.embed_tokens.weight").data
  let x = ids.map((id) => embed.slice(id * d, (id + 1) * d))
  const hidden: Float64Array[] = []
  const group = c.num_attention_heads / c.num_key_value_heads
  const hd = c.head_dim
  for (let l = 0; l < c.num_hidden_layers; l++) {
    const p = `model.layers.${l}.`
    const h = rmsNorm(x, w(`${p}input_layernorm.weight`).data, c.rms_norm_eps)
    const q = linear(h, w(`${p}self_attn.q_proj.weight`))
    const k = linear(h, w(`${p}self_attn.k_proj.weight`))
    const v = linear(h, w(`${p}self_attn.v_proj.weight`))
    rope(q, c.num_attention_heads, hd, c.rope_theta)
    rope(k, c.num_key_value_heads, hd, c.rope_theta)
    const attn = x.map(() => new Float64Array(c.num_attention_heads * hd))
    for (let head = 0; head < c.num_attention_heads; head++) {
      const kv = Math.floor(head / group)
      for (let i = 0; i < x.length; i++) {
        const scores = new Float64Array(i + 1)
        for (let j = 0; j <= i; j++) {
          let s = 0
          for (let e = 0; e < hd; e++) s += q[i]![head * hd + e]! * k[j]![kv * hd + e]!
          scores[j] = s / Math.sqrt(hd)
        }
        const max = Math.max(...scores)
        let total = 0
        for (let j = 0; j <= i; j++) total += (scores[j] = Math.exp(scores[j]! - max))
        for (let j = 0; j <= i; j++) {
          for (let e = 0; e < hd; e++) attn[i]![head * hd + e] = attn[i]![head * hd + e]! + (scores[j]! / total) * v[j]![kv * hd + e]!
        }
      }
    }
    const o = linear(attn, w(`${p}self_attn.o_proj.weight`))
    x = x.map((row, i) => row.map((val, e) => val + o[i]![e]!))
    const h2 = rmsNorm(x, w(`${p}post_attention_layernorm.weight`).data, c.rms_norm_eps)
    const gate = linear(h2, w(`${p}mlp.gate_proj.weight`))
    const up = linear(h2, w(`${p}mlp.up_proj.weight`))
    const act = gate.map((g, i) => g.map((z, u) => silu(z) * up[i]![u]!))
    const down = linear(act, w(`${p}mlp.down_proj.weight`))
    x = x.map((row, i) => row.map((val, e) => val + down[i]![e]!))
    if (steer !== undefined && steer.layer === l) x = x.map((row) => row.map((val, e) => val + steer.coefficient * steer.vector[e]!))
    hidden.push(x[x.length - 1]!.slice())
  }
  const last = rmsNorm([x[x.length - 1]!], w("model.norm.weight").data, c.rms_norm_eps)
  const logits = linear(last, w("lm_head.weight"))[0]!
  return { hidden, logits }
}

/** Softmax probabilities of `tokens` among themselves, from logits. */
export const classProbs = (logits: Float64Array, ids: ReadonlyArray<number>): number[] => {
  const ls = ids.map((id) => logits[id]!)
  const max = Math.max(...ls)
  const e = ls.map((l) => Math.exp(l - max))
  const total = e.reduce((a, b) => a + b, 0)
  return e.map((v) => v / total)
}

/** Softmax over the whole vocabulary. */
export const softmax = (logits: Float64Array): Float64Array => {
  const max = Math.max(...logits)
  const e = logits.map((l) => Math.exp(l - max))
  const total = e.reduce((a, b) => a + b, 0)
  return e.map((v) => v / total)
}
