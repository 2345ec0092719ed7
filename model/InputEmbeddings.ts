/** A checkpoint's input embeddings (`embed_tokens` rows) read from its safetensors files on demand, and their pooling. */
import { Effect, type Scope } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { CheckpointError } from "./Checkpoint"
import { decodeTensor, parseHeader } from "./Safetensors"

/** The tensor of the token embeddings in Llama, Mistral and Qwen2 checkpoints. */
export const EMBED_TOKENS = "model.embed_tokens.weight"

/** Rows of the input embedding matrix; only the rows asked for are read from disk. */
export interface InputEmbeddings {
  readonly vocab: number
  readonly dim: number
  /** The embedding of token `id`, decoded to float32. */
  readonly row: (id: number) => Float32Array
}

const widths: Record<string, number> = { F32: 4, F16: 2, BF16: 2 }

const readAt = (fd: number, position: number, length: number): Uint8Array => {
  const out = new Uint8Array(length)
  let done = 0
  while (done < length) {
    const n = fs.readSync(fd, out, done, length - done, position + done)
    if (n === 0) throw new Error(`unexpected end of file at byte ${position + done}`)
    done += n
  }
  return out
}

/**
 * Opens the embedding matrix of a checkpoint folder (a sharded one through `model.safetensors.index.json`) without
 * reading the rest of the weights: the header says where the tensor lies, and each row is read where it is.
 */
export const openInputEmbeddings = (dir: string): Effect.Effect<InputEmbeddings, CheckpointError, Scope.Scope> =>
  Effect.gen(function* () {
    const fail = (field: string, reason: string) => new CheckpointError({ dir, field, reason })
    const indexFile = path.join(dir, "model.safetensors.index.json")
    const file = yield* Effect.try({
      try: () => {
        if (!fs.existsSync(indexFile)) return "model.safetensors"
        const index = JSON.parse(fs.readFileSync(indexFile, "utf8")) as { weight_map?: Record<string, string> }
        const shard = index.weight_map?.[EMBED_TOKENS]
        if (shard === undefined) throw new Error(`weight_map has no ${EMBED_TOKENS}`)
        return shard
      },
      catch: (e) => fail("model.safetensors.index.json", e instanceof Error ? e.message : String(e))
    })
    const fd = yield* Effect.acquireRelease(
      Effect.try({ try: () => fs.openSync(path.join(dir, file), "r"), catch: (e) => fail(file, `cannot open: ${e instanceof Error ? e.message : String(e)}`) }),
      (fd) => Effect.sync(() => fs.closeSync(fd))
    )
    const { entry, dataStart } = yield* Effect.try({
      try: () => {
        const length = Number(new DataView(readAt(fd, 0, 8).buffer).getBigUint64(0, true))
        const header = readAt(fd, 0, 8 + length)
        const { entries, dataStart } = parseHeader(header)
        const entry = entries[EMBED_TOKENS]
        if (entry === undefined) throw new Error(`no tensor ${EMBED_TOKENS}`)
        return { entry, dataStart }
      },
      catch: (e) => fail(file, e instanceof Error ? e.message : String(e))
    })
    const width = widths[entry.dtype]
    if (width === undefined) return yield* Effect.fail(fail(EMBED_TOKENS, `unsupported dtype ${entry.dtype} (supported: F32, F16, BF16)`))
    if (entry.shape.length !== 2) return yield* Effect.fail(fail(EMBED_TOKENS, `expected a 2-dimensional tensor, got shape [${entry.shape.join(", ")}]`))
    const [vocab, dim] = entry.shape as [number, number]
    const start = dataStart + entry.data_offsets[0]
    if (entry.data_offsets[1] - entry.data_offsets[0] !== vocab * dim * width) {
      return yield* Effect.fail(fail(EMBED_TOKENS, `holds ${entry.data_offsets[1] - entry.data_offsets[0]} bytes, expected ${vocab}×${dim} ${entry.dtype}`))
    }
    const row = (id: number): Float32Array => {
      if (!(Number.isInteger(id) && id >= 0 && id < vocab)) throw new Error(`token id ${id} is outside the embedding matrix (0..${vocab - 1})`)
      return decodeTensor(entry.dtype, readAt(fd, start + id * dim * width, dim * width), dim)
    }
    return { vocab, dim, row }
  })

/**
 * Per token list, the mean of its tokens' embedding rows (each occurrence counted). Each distinct token's row is read
 * once, in id order, and added to every list holding it, so memory is the output plus one row.
 */
export const meanEmbeddings = (embeddings: InputEmbeddings, lists: ReadonlyArray<ReadonlyArray<number>>): Float32Array[] => {
  const dim = embeddings.dim
  const holders = new Map<number, Map<number, number>>()
  lists.forEach((ids, i) => {
    if (ids.length === 0) throw new Error(`meanEmbeddings: list ${i} has no tokens`)
    for (const id of ids) {
      let counts = holders.get(id)
      if (counts === undefined) holders.set(id, (counts = new Map()))
      counts.set(i, (counts.get(i) ?? 0) + 1)
    }
  })
  const sums = new Float64Array(lists.length * dim)
  for (const id of [...holders.keys()].sort((a, b) => a - b)) {
    const r = embeddings.row(id)
    for (const [i, count] of holders.get(id)!) {
      const o = i * dim
      for (let j = 0; j < dim; j++) sums[o + j] += count * r[j]!
    }
  }
  return lists.map((ids, i) => Float32Array.from(sums.subarray(i * dim, (i + 1) * dim), (v) => v / ids.length))
}
