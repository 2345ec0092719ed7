/** Reading and writing the safetensors format (JSON header + little-endian tensor bytes), f32/f16/bf16 decoded to f32. */
import { Either } from "effect"
import { formatJsonSyntaxError, parseJson } from "../core/JsonText"

/** Element types this reader decodes. */
export type SafetensorsDtype = "F32" | "F16" | "BF16"

/** One tensor decoded to float32, with its shape and stored element type. */
export interface FloatTensor {
  readonly dtype: SafetensorsDtype
  readonly shape: ReadonlyArray<number>
  readonly data: Float32Array
}

/** A header entry: element type, shape and byte range relative to the data section. */
export interface HeaderEntry {
  readonly dtype: string
  readonly shape: ReadonlyArray<number>
  readonly data_offsets: readonly [number, number]
}

const bytesPerElement: Record<SafetensorsDtype, number> = { F32: 4, F16: 2, BF16: 2 }

/** Parses the header of a safetensors file; returns the entries and where the data section starts. */
export const parseHeader = (bytes: Uint8Array): { entries: Record<string, HeaderEntry>; dataStart: number } => {
  if (bytes.length < 8) throw new Error("parseHeader: file shorter than its 8-byte header length")
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const headerLength = Number(view.getBigUint64(0, true))
  if (8 + headerLength > bytes.length) throw new Error(`parseHeader: header length ${headerLength} exceeds file size ${bytes.length}`)
  const parsed = parseJson(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)))
  if (Either.isLeft(parsed)) throw new Error(`parseHeader: the header is ${formatJsonSyntaxError(parsed.left)}`)
  const json = parsed.right as Record<string, unknown>
  const entries: Record<string, HeaderEntry> = {}
  for (const [name, entry] of Object.entries(json)) if (name !== "__metadata__") entries[name] = entry as HeaderEntry
  return { entries, dataStart: 8 + headerLength }
}

/** Converts one IEEE half-precision value (as its 16 bits) to a number. */
export const halfToFloat = (h: number): number => {
  const sign = h & 0x8000 ? -1 : 1
  const exponent = (h >> 10) & 0x1f
  const fraction = h & 0x3ff
  if (exponent === 0) return sign * fraction * 2 ** -24
  if (exponent === 31) return fraction === 0 ? sign * Infinity : NaN
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15)
}

/** Converts a number to IEEE half-precision bits, rounding to nearest even. */
export const floatToHalf = (value: number): number => {
  const f32 = new Float32Array([value])
  const bits = new Uint32Array(f32.buffer)[0]!
  const sign = (bits >>> 16) & 0x8000
  const exponent = (bits >>> 23) & 0xff
  let mantissa = bits & 0x7fffff
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0)
  const e = exponent - 127 + 15
  if (e >= 31) return sign | 0x7c00
  if (e <= 0) {
    if (e < -10) return sign
    mantissa |= 0x800000
    const shift = 14 - e
    const half = mantissa >> shift
    const rest = mantissa & ((1 << shift) - 1)
    const midpoint = 1 << (shift - 1)
    return sign | (half + (rest > midpoint || (rest === midpoint && half & 1) ? 1 : 0))
  }
  let half = (e << 10) | (mantissa >> 13)
  const rest = mantissa & 0x1fff
  if (rest > 0x1000 || (rest === 0x1000 && half & 1)) half += 1
  if (half >= 0x7c00) return sign | 0x7c00
  return sign | half
}

/** Converts a number to bfloat16 bits, rounding to nearest even. */
export const floatToBfloat16 = (value: number): number => {
  const bits = new Uint32Array(new Float32Array([value]).buffer)[0]!
  if ((bits & 0x7f800000) === 0x7f800000) return bits >>> 16
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff
}

const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

/** Decodes one tensor's raw little-endian bytes to float32 (aligned float32 bytes as a view, not a copy). */
export const decodeTensor = (dtype: string, raw: Uint8Array, count: number): Float32Array => {
  if (!(dtype in bytesPerElement)) throw new Error(`decodeTensor: unsupported dtype ${dtype} (supported: F32, F16, BF16)`)
  const width = bytesPerElement[dtype as SafetensorsDtype]
  if (raw.length !== count * width) throw new Error(`decodeTensor: ${raw.length} bytes for ${count} ${dtype} elements`)
  // Aligned float32 on a little-endian host is used where it lies: the file's bytes are the tensors, held once.
  if (dtype === "F32" && littleEndian && raw.byteOffset % 4 === 0) return new Float32Array(raw.buffer, raw.byteOffset, count)
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength)
  const out = new Float32Array(count)
  if (dtype === "F32") for (let i = 0; i < count; i++) out[i] = view.getFloat32(i * 4, true)
  else if (dtype === "F16") for (let i = 0; i < count; i++) out[i] = halfToFloat(view.getUint16(i * 2, true))
  else {
    const bits = new Uint32Array(1)
    const asFloat = new Float32Array(bits.buffer)
    for (let i = 0; i < count; i++) {
      bits[0] = view.getUint16(i * 2, true) << 16
      out[i] = asFloat[0]!
    }
  }
  return out
}

/** Decodes every tensor of one safetensors file. */
export const readTensors = (bytes: Uint8Array): Map<string, FloatTensor> => {
  const { entries, dataStart } = parseHeader(bytes)
  const tensors = new Map<string, FloatTensor>()
  for (const [name, entry] of Object.entries(entries)) {
    const [begin, end] = entry.data_offsets
    if (dataStart + end > bytes.length) throw new Error(`readTensors: tensor ${name} runs past the end of the file`)
    const count = entry.shape.reduce((a, b) => a * b, 1)
    const data = decodeTensor(entry.dtype, bytes.subarray(dataStart + begin, dataStart + end), count)
    tensors.set(name, { dtype: entry.dtype as SafetensorsDtype, shape: entry.shape, data })
  }
  return tensors
}

/** Encodes float32 tensors into safetensors bytes, storing each in the given element type. */
export const writeTensors = (
  tensors: ReadonlyArray<{ name: string; shape: ReadonlyArray<number>; data: Float32Array }>,
  dtype: SafetensorsDtype
): Uint8Array => {
  const width = bytesPerElement[dtype]
  const header: Record<string, HeaderEntry> = {}
  let offset = 0
  for (const t of tensors) {
    header[t.name] = { dtype, shape: t.shape, data_offsets: [offset, offset + t.data.length * width] }
    offset += t.data.length * width
  }
  let json = JSON.stringify(header)
  while ((json.length + 8) % 8 !== 0) json += " "
  const headerBytes = new TextEncoder().encode(json)
  const out = new Uint8Array(8 + headerBytes.length + offset)
  const view = new DataView(out.buffer)
  view.setBigUint64(0, BigInt(headerBytes.length), true)
  out.set(headerBytes, 8)
  let at = 8 + headerBytes.length
  for (const t of tensors) {
    for (let i = 0; i < t.data.length; i++) {
      if (dtype === "F32") view.setFloat32(at + i * 4, t.data[i]!, true)
      else if (dtype === "F16") view.setUint16(at + i * 2, floatToHalf(t.data[i]!), true)
      else view.setUint16(at + i * 2, floatToBfloat16(t.data[i]!), true)
    }
    at += t.data.length * width
  }
  return out
}
