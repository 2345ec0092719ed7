import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { loadFile } from "../../../datasets/loadDataset"
import { parseCsv, parseCsvTable } from "../../../datasets/loaders/csv"
import { tempDir } from "../tempDir"

const tmp = tempDir()
const load = (name: string, content: string) => loadFile(`${tmp.dir}/${tmp.write(name, content)}`, { file: name })

describe("parseCsv (RFC 4180)", () => {
  it("splits plain fields and records on LF and CRLF", () => {
    expect(parseCsv("a,b\r\n1,2\n3,4")).toEqual([
      { line: 1, fields: ["a", "b"] },
      { line: 2, fields: ["1", "2"] },
      { line: 3, fields: ["3", "4"] }
    ])
  })

  it("keeps commas, newlines and doubled quotes inside quoted fields", () => {
    const records = parseCsv('id,text\n1,"hello, world"\n2,"line one\nline two"\n3,"she said ""hi"""\n4,""\n')
    expect(records.map((record) => record.fields)).toEqual([
      ["id", "text"],
      ["1", "hello, world"],
      ["2", "line one\nline two"],
      ["3", 'she said "hi"'],
      ["4", ""]
    ])
    expect(records.map((record) => record.line)).toEqual([1, 2, 3, 5, 6])
  })

  it("keeps CRLF inside a quoted field and empty trailing fields", () => {
    expect(parseCsv('a,b,c\r\n"x\r\ny",,\r\n').map((record) => record.fields)).toEqual([["a", "b", "c"], ["x\r\ny", "", ""]])
  })

  it("ignores empty lines but not a line holding an empty quoted field", () => {
    expect(parseCsv("a\n\n1\n\n").map((record) => record.fields)).toEqual([["a"], ["1"]])
    expect(parseCsv('a\n""\n').map((record) => record.fields)).toEqual([["a"], [""]])
  })

  it("flags stray quotes and unterminated quoted fields, keeping later records in place", () => {
    const records = parseCsv('a,b\n1,x"y\n2,"z"w\n3,ok\n4,"never closed\n5,more')
    expect(records.map((record) => [record.line, record.defect?.reason])).toEqual([
      [1, undefined],
      [2, "quote inside an unquoted field"],
      [3, "unexpected character after a closing quote"],
      [4, undefined],
      [5, "unterminated quoted field (opened at line 5)"]
    ])
    expect(records[1]!.defect?.column).toBe(1)
  })
})

describe("parseCsvTable", () => {
  it.effect("keys records by the header", () =>
    Effect.gen(function* () {
      const rows = yield* parseCsvTable('id,prompt\nt1,"Say ""hi"", please"\n', "t.csv")
      expect(rows).toEqual([{ _tag: "Record", line: 2, value: { id: "t1", prompt: 'Say "hi", please' } }])
    }))

  it.effect("rejects an empty file and duplicate or empty header names", () =>
    Effect.gen(function* () {
      expect((yield* Effect.flip(parseCsvTable("", "e.csv"))).message).toContain("e.csv: the file is empty")
      expect((yield* Effect.flip(parseCsvTable("a,b,a\n1,2,3\n", "d.csv"))).message).toBe(
        'd.csv:1: field "a": header row: the column name appears twice'
      )
      expect((yield* Effect.flip(parseCsvTable("a,,c\n", "n.csv"))).message).toContain("column 2 has no name")
    }))
})

describe("loadCsv errors", () => {
  it.effect("a stray quote names the file, line and column", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(load("quote.csv", 'id,origin,prompt\na,x,"fine"\nb,x,bad"quote\n'))
      expect(error.message).toBe('quote.csv:3: field "prompt": malformed CSV: quote inside an unquoted field')
    }))

  it.effect("a row with the wrong number of fields names the file and line", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(load("count.csv", 'id,origin,prompt\na,x,"one,\ntwo"\nb,x\n'))
      expect(error.message).toBe("count.csv:4: malformed CSV: the row has 2 fields but the header has 3")
    }))

  it.effect("an empty prompt cell names the field", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(load("empty.csv", "id,origin,prompt\na,x,\n"))
      expect(error.message).toContain('empty.csv:2: field "prompt"')
    }))

  it.effect("loads quoted prompts intact", () =>
    Effect.gen(function* () {
      const { tasks } = yield* load("ok.csv", 'id,origin,prompt,topic\na,x,"Hi, there\nfriend",chat\n')
      expect(tasks).toEqual([{ task_id: "a", origin: "x", prompt: "Hi, there\nfriend", meta: { topic: "chat" } }])
    }))
})
