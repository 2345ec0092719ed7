import { describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { npyBytes, npyHeader, type NpyArray } from "../../../pipeline/export/Numpy"
import { zipStored } from "../../../pipeline/export/Zip"
import { pythonWithNumpy, runPython } from "../../support/externalTools"

const concat = (parts: ReadonlyArray<Uint8Array>) => Buffer.concat(parts.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength)))
const matrix: NpyArray = { dtype: "<f4", shape: [2, 3], data: Float32Array.of(1, -2, 0.5, 3.25, 1e-8, -0) }
const ints: NpyArray = { dtype: "<i4", shape: [3], data: Int32Array.of(0, -1, 2147483647) }
const texts: NpyArray = { dtype: "<U", shape: [3], data: ["ab", "", "\u{1F600}é"] }

describe("npy", () => {
  it("writes the header numpy's format specification asks for (worked by hand for a 2×3 float32 array)", () => {
    const header = Buffer.from(npyHeader(matrix))
    // magic (6) + version (2) + length (2) + dict (59) + growth room (21 - "2".length) + padding + newline = 128
    expect(header.length).toBe(128)
    expect([...header.subarray(0, 8)]).toEqual([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0])
    expect(header.readUInt16LE(8)).toBe(118)
    const dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"
    expect(header.subarray(10).toString("latin1")).toBe(dict + " ".repeat(118 - dict.length - 1) + "\n")
  })

  it("stores float32 and int32 little-endian in C order, and strings as zero-padded UTF-32LE code points", () => {
    const floats = Buffer.from(npyBytes(matrix))
    expect([...floats.subarray(128, 136)]).toEqual([0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0]) // 1, -2
    expect(floats.length).toBe(128 + 6 * 4)
    const i = Buffer.from(npyBytes(ints))
    expect(i.subarray(10, 10 + 64).toString("latin1")).toContain("'descr': '<i4', 'fortran_order': False, 'shape': (3,), }")
    expect(i.readInt32LE(i.length - 8)).toBe(-1)
    const s = Buffer.from(npyBytes(texts))
    expect(s.subarray(10, 64).toString("latin1")).toContain("'descr': '<U2'")
    const data = s.subarray(s.length - 3 * 2 * 4)
    expect([...data]).toEqual([0x61, 0, 0, 0, 0x62, 0, 0, 0, ...Array(8).fill(0), 0x00, 0xf6, 0x01, 0x00, 0xe9, 0, 0, 0])
  })

  it("rejects data that does not fill the shape", () => {
    expect(() => npyBytes({ dtype: "<f4", shape: [2, 2], data: new Float32Array(3) })).toThrow(/shape \(2, 2\) holds 4 values, data has 3/)
  })
})

describe("numpy reads what it would write", () => {
  const python = pythonWithNumpy()
  it.skipIf(python === undefined)("npy bytes equal numpy.save's, and numpy.load reads an .npz with and without ZIP64 records", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prefpipe-npy-"))
    const saved = JSON.parse(
      runPython(
        python!,
        `
import base64, io, json, numpy as np
out = {}
for name, a in [("matrix", np.array([[1, -2, 0.5], [3.25, 1e-8, -0.0]], dtype="<f4")), ("ints", np.array([0, -1, 2147483647], dtype="<i4")), ("texts", np.array(["ab", "", "\\U0001F600\\u00e9"]))]:
    b = io.BytesIO(); np.save(b, a); out[name] = base64.b64encode(b.getvalue()).decode()
print(json.dumps(out))`
      )
    ) as Record<string, string>
    expect(Buffer.from(npyBytes(matrix)).toString("base64")).toBe(saved.matrix)
    expect(Buffer.from(npyBytes(ints)).toString("base64")).toBe(saved.ints)
    expect(Buffer.from(npyBytes(texts)).toString("base64")).toBe(saved.texts)
    for (const limit of [undefined, 0]) {
      const file = path.join(dir, `arrays-${limit ?? "plain"}.npz`)
      fs.writeFileSync(file, concat(zipStored([matrix, ints, texts].map((a, k) => ({ name: `${["matrix", "ints", "texts"][k]}.npy`, parts: [npyBytes(a)] })), limit)))
      const loaded = JSON.parse(
        runPython(
          python!,
          `
import json, sys, zipfile, numpy as np
assert zipfile.ZipFile(sys.argv[1]).testzip() is None
z = np.load(sys.argv[1])
print(json.dumps({k: {"dtype": z[k].dtype.str, "shape": list(z[k].shape), "values": z[k].tolist(), "c": bool(z[k].flags.c_contiguous)} for k in z.files}))`,
          [file]
        )
      )
      expect(loaded.matrix).toEqual({ dtype: "<f4", shape: [2, 3], values: [[1, -2, 0.5], [3.25, Math.fround(1e-8), -0]], c: true })
      expect(loaded.ints).toEqual({ dtype: "<i4", shape: [3], values: [0, -1, 2147483647], c: true })
      expect(loaded.texts).toEqual({ dtype: "<U2", shape: [3], values: ["ab", "", "\u{1F600}é"], c: true })
    }
    fs.rmSync(dir, { recursive: true, force: true })
  })
})
