/**
 * numpy's `.npy` format (numpy.lib.format, version 1.0): the magic string, a little-endian two-byte header length,
 * a Python dict literal (`descr`, `fortran_order`, `shape`) padded with spaces to a 64-byte boundary, then the data
 * in C order. Headers are byte-identical to the ones `numpy.save` writes.
 */

/** An array ready to be written: little-endian float32 or int32 numbers, or fixed-width Unicode strings. */
export type NpyArray =
  | { readonly dtype: "<f4"; readonly shape: ReadonlyArray<number>; readonly data: Float32Array }
  | { readonly dtype: "<i4"; readonly shape: ReadonlyArray<number>; readonly data: Int32Array }
  | { readonly dtype: "<U"; readonly shape: readonly [number]; readonly data: ReadonlyArray<string> }

const MAGIC = [0x93, ..."NUMPY"].map((c) => (typeof c === "number" ? c : c.charCodeAt(0)))
const ARRAY_ALIGN = 64
// numpy leaves room for the growth axis to reach this many digits, so a header can be rewritten in place
const GROWTH_AXIS_MAX_DIGITS = 21

const pythonTuple = (shape: ReadonlyArray<number>) => (shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`)

const codePoints = (text: string): number[] => Array.from(text, (c) => c.codePointAt(0)!)

/** The `descr` of an array: its dtype, with the width in characters for strings (at least 1, as numpy's). */
export const descrOf = (array: NpyArray): string =>
  array.dtype === "<U" ? `<U${array.data.reduce((width, s) => Math.max(width, codePoints(s).length), 1)}` : array.dtype

const checkShape = (array: NpyArray) => {
  const count = array.shape.reduce((a, b) => a * b, 1)
  if (array.shape.some((n) => !Number.isInteger(n) || n < 0)) throw new Error(`npy: shape (${array.shape.join(", ")}) is not a list of sizes`)
  if (count !== array.data.length) throw new Error(`npy: shape (${array.shape.join(", ")}) holds ${count} values, data has ${array.data.length}`)
}

/** The header of an `.npy` file for an array (magic, version, length, dict, padding, newline). */
export const npyHeader = (array: NpyArray): Uint8Array => {
  checkShape(array)
  const shape = pythonTuple(array.shape)
  const growth = array.shape.length > 0 ? " ".repeat(GROWTH_AXIS_MAX_DIGITS - String(array.shape[0]).length) : ""
  const dict = `{'descr': '${descrOf(array)}', 'fortran_order': False, 'shape': ${shape}, }${growth}`
  const unpadded = MAGIC.length + 2 + 2 + dict.length + 1
  const headerLength = dict.length + (ARRAY_ALIGN - (unpadded % ARRAY_ALIGN)) + 1
  // at most 64 axes (numpy's limit) keep the header far below version 1.0's 65,535 bytes
  const out = new Uint8Array(MAGIC.length + 2 + 2 + headerLength)
  out.set(MAGIC, 0)
  out[6] = 1
  out[7] = 0
  new DataView(out.buffer).setUint16(8, headerLength, true)
  const start = MAGIC.length + 2 + 2
  for (let i = 0; i < dict.length; i++) out[start + i] = dict.charCodeAt(i)
  out.fill(0x20, start + dict.length, out.length - 1)
  out[out.length - 1] = 0x0a
  return out
}

/** The data of an `.npy` file: little-endian values in C order; strings as UTF-32LE code points padded with zeros. */
export const npyData = (array: NpyArray): Uint8Array => {
  checkShape(array)
  if (array.dtype === "<U") {
    const width = Number(descrOf(array).slice(2))
    const out = new Uint8Array(array.data.length * width * 4)
    const view = new DataView(out.buffer)
    array.data.forEach((text, i) => codePoints(text).forEach((cp, j) => view.setUint32((i * width + j) * 4, cp, true)))
    return out
  }
  // typed arrays are in the platform's byte order; every platform Node supports is little-endian
  return new Uint8Array(array.data.buffer, array.data.byteOffset, array.data.byteLength)
}

/** A whole `.npy` file in memory (header and data). */
export const npyBytes = (array: NpyArray): Uint8Array => {
  const header = npyHeader(array)
  const data = npyData(array)
  const out = new Uint8Array(header.length + data.length)
  out.set(header, 0)
  out.set(data, header.length)
  return out
}
