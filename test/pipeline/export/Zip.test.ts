import { describe, expect, it } from "@effect/vitest"
import { crc32 } from "node:zlib"
import { npyBytes, type NpyArray } from "../../../pipeline/export/Numpy"
import { zipStored } from "../../../pipeline/export/Zip"

const concat = (parts: ReadonlyArray<Uint8Array>) => Buffer.concat(parts.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength)))
const matrix: NpyArray = { dtype: "<f4", shape: [2, 3], data: Float32Array.of(1, -2, 0.5, 3.25, 1e-8, -0) }
const bytes = npyBytes(matrix)

/** The central directory of a ZIP file read by hand: each entry's name, method, sizes, CRC and local header offset. */
const readZip = (zip: Buffer) => {
  const eocd = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]))
  let count = zip.readUInt16LE(eocd + 10)
  let dirOffset = zip.readUInt32LE(eocd + 16)
  if (count === 0xffff) {
    const record = Number(zip.readBigUInt64LE(eocd - 20 + 8))
    expect(zip.readUInt32LE(record)).toBe(0x06064b50)
    count = Number(zip.readBigUInt64LE(record + 32))
    dirOffset = Number(zip.readBigUInt64LE(record + 48))
  }
  const entries = []
  let at = dirOffset
  for (let i = 0; i < count; i++) {
    expect(zip.readUInt32LE(at)).toBe(0x02014b50)
    const nameLength = zip.readUInt16LE(at + 28)
    const extraLength = zip.readUInt16LE(at + 30)
    const extra = zip.subarray(at + 46 + nameLength, at + 46 + nameLength + extraLength)
    const wide = extra.length > 0 ? [...Array((extra.length - 4) / 8).keys()].map((k) => Number(extra.readBigUInt64LE(4 + 8 * k))) : []
    const size32 = zip.readUInt32LE(at + 24)
    const offset32 = zip.readUInt32LE(at + 42)
    const size = size32 === 0xffffffff ? wide.shift()! : size32
    if (zip.readUInt32LE(at + 20) === 0xffffffff) wide.shift()
    const offset = offset32 === 0xffffffff ? wide.shift()! : offset32
    const entry = {
      name: zip.subarray(at + 46, at + 46 + nameLength).toString("utf8"),
      method: zip.readUInt16LE(at + 10),
      crc: zip.readUInt32LE(at + 16),
      size,
      offset
    }
    expect(zip.readUInt32LE(offset)).toBe(0x04034b50)
    const dataStart = offset + 30 + zip.readUInt16LE(offset + 26) + zip.readUInt16LE(offset + 28)
    entries.push({ ...entry, data: zip.subarray(dataStart, dataStart + size) })
    at += 46 + nameLength + extraLength + zip.readUInt16LE(at + 32)
  }
  return entries
}

describe("zip of stored entries", () => {
  const entries = [
    { name: "a.npy", parts: [bytes.subarray(0, 128), bytes.subarray(128)] },
    { name: "b.txt", parts: [new TextEncoder().encode("one\ntwo\n")] }
  ]

  it("lists each entry once in the central directory, stored, with its CRC-32, and equal input gives equal bytes", () => {
    for (const limit of [undefined, 0]) {
      const zip = concat(zipStored(entries, limit))
      const read = readZip(zip)
      expect(read.map((e) => e.name)).toEqual(["a.npy", "b.txt"])
      for (const [k, e] of read.entries()) {
        expect(e.method).toBe(0)
        expect(Buffer.compare(e.data, concat(entries[k]!.parts))).toBe(0)
        expect(e.crc).toBe(crc32(e.data))
      }
      expect(Buffer.compare(zip, concat(zipStored(entries, limit)))).toBe(0)
    }
    expect(() => zipStored([entries[0]!, entries[0]!])).toThrow(/two entries are named "a.npy"/)
  })
})

