/**
 * A ZIP archive of stored (uncompressed) entries, as `numpy.savez` writes: local headers, data, central directory,
 * with ZIP64 records for entries or offsets past 4 GiB. Every timestamp is 1980-01-01 00:00, so equal entries give
 * equal bytes.
 */
import { crc32 } from "node:zlib"

/** One file of the archive: its name and its bytes in pieces (written one after another, never concatenated). */
export interface ZipEntry {
  readonly name: string
  readonly parts: ReadonlyArray<Uint8Array>
}

const DOS_TIME = 0
const DOS_DATE = (1 << 5) | 1 // 1980-01-01
const MAX32 = 0xffffffff

const bytes = (size: number, fill: (view: DataView) => void): Uint8Array => {
  const out = new Uint8Array(size)
  fill(new DataView(out.buffer))
  return out
}

const concat = (parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

/** The ZIP64 extended-information extra field holding the 64-bit values whose 32-bit fields read 0xFFFFFFFF. */
const zip64Extra = (values: ReadonlyArray<number>): Uint8Array =>
  values.length === 0
    ? new Uint8Array(0)
    : bytes(4 + 8 * values.length, (v) => {
        v.setUint16(0, 0x0001, true)
        v.setUint16(2, 8 * values.length, true)
        values.forEach((x, i) => v.setBigUint64(4 + 8 * i, BigInt(x), true))
      })

/**
 * The archive as a list of byte chunks (entry data is passed through, not copied). `zip64Above` is the largest
 * size or offset written in a 32-bit field; past it ZIP64 records take over (lowered only to test them).
 */
export const zipStored = (entries: ReadonlyArray<ZipEntry>, zip64Above = MAX32 - 1): Uint8Array[] => {
  const names = new Set<string>()
  const chunks: Uint8Array[] = []
  const central: Uint8Array[] = []
  let offset = 0
  const encoder = new TextEncoder()
  for (const entry of entries) {
    if (names.has(entry.name)) throw new Error(`zip: two entries are named "${entry.name}"`)
    names.add(entry.name)
    const name = encoder.encode(entry.name)
    const size = entry.parts.reduce((n, p) => n + p.length, 0)
    const crc = entry.parts.reduce((c, p) => crc32(p, c), 0)
    const bigSize = size > zip64Above
    const bigOffset = offset > zip64Above
    const version = bigSize || bigOffset ? 45 : 20
    const localExtra = zip64Extra(bigSize ? [size, size] : [])
    const local = bytes(30, (v) => {
      v.setUint32(0, 0x04034b50, true)
      v.setUint16(4, version, true)
      v.setUint16(6, 0x0800, true) // names are UTF-8
      v.setUint16(8, 0, true) // stored
      v.setUint16(10, DOS_TIME, true)
      v.setUint16(12, DOS_DATE, true)
      v.setUint32(14, crc >>> 0, true)
      v.setUint32(18, bigSize ? MAX32 : size, true)
      v.setUint32(22, bigSize ? MAX32 : size, true)
      v.setUint16(26, name.length, true)
      v.setUint16(28, localExtra.length, true)
    })
    chunks.push(local, name, localExtra, ...entry.parts)
    const centralExtra = zip64Extra([...(bigSize ? [size, size] : []), ...(bigOffset ? [offset] : [])])
    central.push(
      bytes(46, (v) => {
        v.setUint32(0, 0x02014b50, true)
        v.setUint16(4, version, true)
        v.setUint16(6, version, true)
        v.setUint16(8, 0x0800, true)
        v.setUint16(10, 0, true)
        v.setUint16(12, DOS_TIME, true)
        v.setUint16(14, DOS_DATE, true)
        v.setUint32(16, crc >>> 0, true)
        v.setUint32(20, bigSize ? MAX32 : size, true)
        v.setUint32(24, bigSize ? MAX32 : size, true)
        v.setUint16(28, name.length, true)
        v.setUint16(30, centralExtra.length, true)
        v.setUint32(42, bigOffset ? MAX32 : offset, true)
      }),
      name,
      centralExtra
    )
    offset += local.length + name.length + localExtra.length + size
  }
  const directory = concat(central)
  const count = entries.length
  const bigDirectory = count > 0xfffe || offset > zip64Above || directory.length > zip64Above
  chunks.push(directory)
  if (bigDirectory) {
    const record = bytes(56, (v) => {
      v.setUint32(0, 0x06064b50, true)
      v.setBigUint64(4, 44n, true)
      v.setUint16(12, 45, true)
      v.setUint16(14, 45, true)
      v.setBigUint64(24, BigInt(count), true)
      v.setBigUint64(32, BigInt(count), true)
      v.setBigUint64(40, BigInt(directory.length), true)
      v.setBigUint64(48, BigInt(offset), true)
    })
    const locator = bytes(20, (v) => {
      v.setUint32(0, 0x07064b50, true)
      v.setBigUint64(8, BigInt(offset + directory.length), true)
      v.setUint32(16, 1, true)
    })
    chunks.push(record, locator)
  }
  chunks.push(
    bytes(22, (v) => {
      v.setUint32(0, 0x06054b50, true)
      v.setUint16(8, bigDirectory ? 0xffff : count, true)
      v.setUint16(10, bigDirectory ? 0xffff : count, true)
      v.setUint32(12, bigDirectory ? MAX32 : directory.length, true)
      v.setUint32(16, bigDirectory ? MAX32 : offset, true)
    })
  )
  return chunks
}
