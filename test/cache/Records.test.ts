import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { CacheDir } from "../../cache/CacheDir"
import { StoreNotices } from "../../cache/Quarantine"
import { checkRecordText, readRecord, recordText, restateRecord, writeRecord } from "../../cache/Records"

const inCache = <A, E>(root: string, effect: Effect.Effect<A, E, CacheDir>, notices: string[] = []) =>
  effect.pipe(Effect.provide(CacheDir.layer(root)), Effect.provideService(StoreNotices, { note: (l) => Effect.sync(() => void notices.push(l)) }))

const record = { key: "abc", outputs: { table: { hash: "00ff", size: 12, rows: 3 } }, seconds: 0.25 }

describe("checksummed records", () => {
  it("accept their own text and reject any change to it, however small", () => {
    const text = recordText(record)
    expect(checkRecordText(text)).toEqual(Either.right({ value: record, legacy: false }))
    expect(checkRecordText(text.replace('"rows": 3', '"rows": 4'))).toEqual(Either.left("checksum does not match its content"))
    expect(checkRecordText(text.slice(0, text.length / 2))).toEqual(Either.left(expect.stringMatching(/^not valid JSON at line \d+, column \d+: /)))
    expect(checkRecordText("[1]")).toEqual(Either.left("not a JSON object"))
  })

  it.effect("a damaged record reads as absent, is kept in the quarantine, and one line says what happens next", () =>
    Effect.gen(function* () {
      const root = fs.mkdtempSync(path.join(os.tmpdir(), "prefpipe-records-"))
      const file = path.join(root, "actions", "ab", "cd.json")
      yield* writeRecord(file, record)
      expect(yield* inCache(root, readRecord(file, "the stage reruns"))).toEqual(record)
      fs.writeFileSync(file, fs.readFileSync(file, "utf8").replace("0.25", "0.26"))
      const notices: string[] = []
      expect(yield* inCache(root, readRecord(file, "the stage reruns"), notices)).toBeUndefined()
      expect(notices).toEqual(["! damaged actions/ab/cd.json: checksum does not match its content; kept as quarantine/actions/ab/cd.json; the stage reruns"])
      expect(fs.existsSync(file)).toBe(false)
      expect(yield* inCache(root, readRecord(file, "the stage reruns"))).toBeUndefined()
    }))

  it.effect("a record written before records carried checksums is accepted once and rewritten with one", () =>
    Effect.gen(function* () {
      const root = fs.mkdtempSync(path.join(os.tmpdir(), "prefpipe-records-"))
      const file = path.join(root, "nodes", "x.json")
      fs.mkdirSync(path.dirname(file))
      fs.writeFileSync(file, JSON.stringify(record))
      const notices: string[] = []
      expect(yield* inCache(root, readRecord(file, "forgotten"), notices)).toEqual(record)
      expect(notices).toEqual([])
      expect(fs.readFileSync(file, "utf8")).toBe(recordText(record))
    }))

  it.effect("restating a record leaves a file that holds exactly its text alone, and rewrites one that differs or is damaged", () =>
    Effect.gen(function* () {
      const root = fs.mkdtempSync(path.join(os.tmpdir(), "prefpipe-records-"))
      const file = path.join(root, "nodes", "y.json")
      yield* restateRecord(file, record)
      expect(fs.readFileSync(file, "utf8")).toBe(recordText(record))
      const written = fs.statSync(file).ino
      yield* restateRecord(file, record)
      // An atomic write renames a new file into place: the same inode means nothing was written.
      expect(fs.statSync(file).ino).toBe(written)
      yield* restateRecord(file, { ...record, seconds: 0.5 })
      expect(fs.readFileSync(file, "utf8")).toBe(recordText({ ...record, seconds: 0.5 }))
      fs.writeFileSync(file, recordText(record).replace("0.25", "0.26"))
      yield* restateRecord(file, record)
      expect(fs.readFileSync(file, "utf8")).toBe(recordText(record))
    }))
})
