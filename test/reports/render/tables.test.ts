import { describe, expect, it } from "@effect/vitest"
import * as arrow from "apache-arrow"
import { Effect, Either } from "effect"
import { Compression, ParquetFile, readParquet } from "parquet-wasm"
import {
  formatNumber,
  formatTable,
  type Table,
  toArrow,
  toCsv,
  toHtmlTable,
  toMarkdown,
  toParquet
} from "../../../reports/render/tables"

const hoo: Table = {
  name: "hoo",
  columns: [
    { name: "dataset", type: "utf8" },
    { name: "n", type: "int32" },
    { name: "r2", type: "float64" },
    { name: "r2_lo", type: "float64" },
    { name: "r2_hi", type: "float64" },
    { name: "converged", type: "bool" }
  ],
  rows: [
    { dataset: "alpaca", n: 120, r2: 0.7341, r2_lo: 0.6203, r2_hi: 0.8104, converged: true },
    { dataset: "math, hard", n: 45, r2: -0.01234, r2_lo: -0.2, r2_hi: 0.15, converged: false },
    { dataset: 'say "hi"\nthen|go', n: null, r2: null, r2_lo: null, r2_hi: null }
  ]
}

describe("toCsv", () => {
  it("quotes fields with commas, quotes and line breaks (RFC 4180), ends lines with CRLF, leaves missing cells empty", () => {
    expect(toCsv(hoo)).toBe(
      "dataset,n,r2,r2_lo,r2_hi,converged\r\n" +
        "alpaca,120,0.7341,0.6203,0.8104,true\r\n" +
        '"math, hard",45,-0.01234,-0.2,0.15,false\r\n' +
        '"say ""hi""\nthen|go",,,,,\r\n'
    )
  })
})

describe("toParquet", () => {
  it.effect("round-trips through parquet-wasm readParquet and arrow tableFromIPC with the declared types and nulls", () =>
    Effect.gen(function* () {
      const bytes = yield* toParquet(hoo)
      expect(new TextDecoder().decode(bytes.subarray(0, 4))).toBe("PAR1")
      const back = arrow.tableFromIPC(readParquet(bytes).intoIPCStream())
      expect(back.schema.fields.map((f) => [f.name, String(f.type)])).toEqual([
        ["dataset", "Utf8"],
        ["n", "Int32"],
        ["r2", "Float64"],
        ["r2_lo", "Float64"],
        ["r2_hi", "Float64"],
        ["converged", "Bool"]
      ])
      expect(back.toArray().map((row) => row.toJSON())).toEqual(
        hoo.rows.map((row) => Object.fromEntries(hoo.columns.map((c) => [c.name, row[c.name] ?? null])))
      )
    })
  )

  it.effect("compresses every column chunk with zstd", () =>
    Effect.gen(function* () {
      const bytes = yield* toParquet(hoo)
      const file = yield* Effect.promise(() => ParquetFile.fromFile(new Blob([bytes])))
      const columns = file.metadata().rowGroup(0).columns()
      expect(columns.length).toBe(6)
      for (const column of columns) expect(column.compression()).toBe(Compression.ZSTD)
    })
  )

  it.effect("writes an empty table with its schema", () =>
    Effect.gen(function* () {
      const back = arrow.tableFromIPC(readParquet(yield* toParquet({ ...hoo, rows: [] })).intoIPCStream())
      expect(back.numRows).toBe(0)
      expect(back.schema.fields.map((f) => f.name)).toEqual(hoo.columns.map((c) => c.name))
    })
  )

  it.effect("rejects cells that do not fit their column, undeclared keys and duplicate columns", () =>
    Effect.gen(function* () {
      const bad = (rows: Table["rows"], columns: Table["columns"] = hoo.columns) =>
        Effect.either(toArrow({ name: "bad", columns, rows })).pipe(
          Effect.map((e) => (Either.isLeft(e) ? e.left.message : "accepted"))
        )
      expect(yield* bad([{ n: 1.5 }])).toBe('table "bad": row 0, column "n": 1.5 is not int32')
      expect(yield* bad([{ n: 2 ** 31 }])).toMatch(/column "n": 2147483648 is not int32/)
      expect(yield* bad([{ r2: "0.5" }])).toBe('table "bad": row 0, column "r2": "0.5" is not float64')
      expect(yield* bad([{ converged: 1 }])).toMatch(/column "converged": 1 is not bool/)
      expect(yield* bad([{}, { dataset: "x", extra: 1 }])).toBe('table "bad": row 1 has "extra", which is not a declared column')
      expect(yield* bad([], [{ name: "a", type: "utf8" }, { name: "a", type: "int32" }])).toMatch(/column "a" is declared twice/)
      expect(yield* bad([], [])).toMatch(/has no columns/)
    })
  )
})

describe("formatting", () => {
  it("formats numbers to three significant digits, exponent notation outside 1e-3..1e6", () => {
    expect(formatNumber(0.7341)).toBe("0.734")
    expect(formatNumber(12.345)).toBe("12.3")
    expect(formatNumber(1234.5)).toBe("1235")
    expect(formatNumber(0)).toBe("0.000")
    expect(formatNumber(-0.0001234)).toBe("-1.23e-4")
    expect(formatNumber(2.5e7)).toBe("2.50e+7")
    expect(formatNumber(-0.0004, 3)).toBe("0.000")
    expect(formatNumber(NaN)).toBe("NaN")
  })

  it("folds x_lo and x_hi into x as `value [lo, hi]` at the value's precision", () => {
    const formatted = formatTable(hoo)
    expect(formatted.header).toEqual(["dataset", "n", "r2 [95% CI]", "converged"])
    expect(formatted.numeric).toEqual([false, true, true, false])
    expect(formatted.rows[0]).toEqual(["alpaca", "120", "0.734 [0.620, 0.810]", "true"])
    expect(formatted.rows[1]).toEqual(["math, hard", "45", "-0.0123 [-0.2000, 0.1500]", "false"])
    expect(formatted.rows[2]).toEqual(['say "hi"\nthen|go', "—", "—", "—"])
  })

  it("keeps _lo/_hi columns that have no value column of their own", () => {
    const table: Table = {
      name: "t",
      columns: [
        { name: "slope_lo", type: "float64" },
        { name: "slope_hi", type: "float64" }
      ],
      rows: [{ slope_lo: 0.1, slope_hi: 0.2 }]
    }
    expect(formatTable(table).header).toEqual(["slope_lo", "slope_hi"])
  })

  it("renders Markdown with escaped pipes, right-aligned numbers and one line per row", () => {
    expect(toMarkdown(hoo)).toBe(
      [
        "| dataset | n | r2 [95% CI] | converged |",
        "|:---|---:|---:|:---|",
        "| alpaca | 120 | 0.734 [0.620, 0.810] | true |",
        "| math, hard | 45 | -0.0123 [-0.2000, 0.1500] | false |",
        '| say "hi" then\\|go | — | — | — |'
      ].join("\n")
    )
  })

  it("renders HTML with escaped text and numeric cells marked for right alignment", () => {
    const html = toHtmlTable(hoo)
    expect(html).toContain('<th class="num">r2 [95% CI]</th>')
    expect(html).toContain('<td class="num">0.734 [0.620, 0.810]</td>')
    expect(html).toContain("<td>say &quot;hi&quot;\nthen|go</td>")
    expect(html).not.toContain('"hi"')
  })
})
