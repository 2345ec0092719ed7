import { describe, expect, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { createHash } from "node:crypto"
import { CacheDir } from "../../cache/CacheDir"
import { checkMemo, memoMap, RowMemo, rowChecksum } from "../../cache/Memo"
import { StoreNotices } from "../../cache/Quarantine"

const tempCache = () => fs.mkdtempSync(path.join(os.tmpdir(), "prefpipe-memo-"))

/** Runs an effect against an SQLite memo in `root`, collecting the store's notices. */
const withMemo = <A, E>(root: string, effect: Effect.Effect<A, E, RowMemo>) => {
  const notices: string[] = []
  return Effect.map(
    effect.pipe(
      Effect.provide(RowMemo.layerSqlite),
      Effect.provide(CacheDir.layer(root)),
      Effect.provideService(StoreNotices, { note: (line) => Effect.sync(() => void notices.push(line)) })
    ),
    (value) => ({ value, notices })
  )
}

const put = (entries: ReadonlyArray<readonly [string, string]>) => Effect.flatMap(RowMemo, (m) => m.putMany("ns/1", entries))
const get = (keys: ReadonlyArray<string>) => Effect.flatMap(RowMemo, (m) => m.getMany("ns/1", keys, (v) => JSON.parse(v) as unknown))

const quarantinedRows = (root: string) =>
  fs.readFileSync(path.join(root, "quarantine/memo-rows.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { namespace: string; key: string; value: string; reason: string })

describe("row memo checksums", () => {
  it("is sha256 over namespace, key and value, length-delimited, as 32 hex characters", () => {
    expect(rowChecksum("ns", "k", '{"a":1}')).toBe(createHash("sha256").update('2:ns;1:k;{"a":1}').digest("hex").slice(0, 32))
    // the delimiting keeps a value from passing as another key's
    expect(rowChecksum("ns", "ab", "c")).not.toBe(rowChecksum("ns", "a", "bc"))
  })

  it.effect("a value edited in place fails its checksum: dropped, kept in the quarantine, one line naming how many", () =>
    Effect.gen(function* () {
      const root = tempCache()
      yield* withMemo(root, put([["a", '{"x":1}'], ["b", '{"x":2}'], ["c", '{"x":3}']]))
      const db = new Database(path.join(root, "memo.sqlite"))
      db.prepare("UPDATE memo SET value = ? WHERE key IN ('a', 'c')").run('{"x":null}')
      db.close()
      const { value, notices } = yield* withMemo(root, get(["a", "b", "c"]))
      expect([...value.entries()]).toEqual([["b", { x: 2 }]])
      expect(notices).toEqual(["! damaged memo rows: 2 of ns/1 fail their checksum or do not decode; kept in quarantine/memo-rows.jsonl; recomputing them"])
      expect(quarantinedRows(root).map((r) => [r.key, r.value, r.reason])).toEqual([
        ["a", '{"x":null}', "checksum does not match"],
        ["c", '{"x":null}', "checksum does not match"]
      ])
      const again = yield* withMemo(root, get(["a", "b", "c"]))
      expect(again.notices).toEqual([])
      expect([...again.value.keys()]).toEqual(["b"])
    }))

  it.effect("a value with a valid checksum that does not decode is dropped too, and memoMap recomputes it", () =>
    Effect.gen(function* () {
      const root = tempCache()
      yield* withMemo(root, put([["k", '{"x":1}']]))
      const db = new Database(path.join(root, "memo.sqlite"))
      db.prepare("UPDATE memo SET value = ?, checksum = ? WHERE key = 'k'").run('{"x":', rowChecksum("ns/1", "k", '{"x":'))
      db.close()
      const { value, notices } = yield* withMemo(root, get(["k"]))
      expect(value.size).toBe(0)
      expect(notices).toEqual(["! damaged memo rows: 1 of ns/1 fails its checksum or does not decode; kept in quarantine/memo-rows.jsonl; recomputing them"])
      expect(quarantinedRows(root)[0]!.reason).toBe("does not decode: SyntaxError")

      const computed: string[] = []
      const run = memoMap({
        namespace: "ns/2",
        items: ["p", "q"],
        key: (i) => i,
        batchSize: 1,
        compute: (batch) => Effect.sync(() => batch.map((i) => (computed.push(i), { item: i })))
      })
      yield* withMemo(root, run)
      const db2 = new Database(path.join(root, "memo.sqlite"))
      db2.prepare("UPDATE memo SET value = '[' WHERE namespace = 'ns/2' AND value LIKE '%\"q\"%'").run()
      db2.close()
      const second = yield* withMemo(root, run)
      expect(second.value).toEqual([{ item: "p" }, { item: "q" }])
      expect(computed).toEqual(["p", "q", "q"])
    }))

  it.effect("a memo written before checksums is upgraded in place: its rows are checksummed once and then verified", () =>
    Effect.gen(function* () {
      const root = tempCache()
      const db = new Database(path.join(root, "memo.sqlite"))
      db.exec("CREATE TABLE memo (namespace TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (namespace, key)) WITHOUT ROWID")
      db.prepare("INSERT INTO memo VALUES ('ns/1', 'old', '[1,2]')").run()
      db.close()
      const { value, notices } = yield* withMemo(root, get(["old"]))
      expect(value.get("old")).toEqual([1, 2])
      expect(notices).toEqual([])
      const upgraded = new Database(path.join(root, "memo.sqlite"))
      expect(upgraded.prepare("SELECT checksum FROM memo").get()).toEqual({ checksum: rowChecksum("ns/1", "old", "[1,2]") })
      upgraded.prepare("UPDATE memo SET value = '[1,3]'").run()
      upgraded.close()
      expect((yield* withMemo(root, get(["old"]))).value.size).toBe(0)
    }))

  it.effect("a file that is not a database is set aside at open and a fresh memo takes its place", () =>
    Effect.gen(function* () {
      const root = tempCache()
      yield* withMemo(root, put([["a", "1"]]))
      const file = path.join(root, "memo.sqlite")
      const bytes = fs.readFileSync(file)
      bytes.fill(0x41, 0, 100)
      fs.writeFileSync(file, bytes)
      expect(checkMemo(root, false)).toEqual({ rows: 0, damagedFile: "file is not a database", damagedRows: [] })
      const { value, notices } = yield* withMemo(root, Effect.zipRight(put([["b", "2"]]), get(["a", "b"])))
      expect([...value.entries()]).toEqual([["b", 2]])
      expect(notices).toEqual([
        "! damaged memo.sqlite: file is not a database; kept as quarantine/memo.sqlite; a fresh memo takes its place; rows are recomputed as stages ask for them"
      ])
      expect(fs.readFileSync(path.join(root, "quarantine/memo.sqlite")).subarray(0, 4).toString()).toBe("AAAA")
    }))

  it("checkMemo finds damaged rows without touching them, and --repair moves them out", () => {
    const root = tempCache()
    Effect.runSync(withMemo(root, put([["a", "1"], ["b", "2"]])).pipe(Effect.asVoid) as Effect.Effect<void>)
    const db = new Database(path.join(root, "memo.sqlite"))
    db.prepare("UPDATE memo SET value = '3' WHERE key = 'b'").run()
    db.close()
    const found = checkMemo(root, false)
    expect(found).toEqual({ rows: 2, damagedFile: undefined, damagedRows: [{ namespace: "ns/1", key: "b", reason: "checksum does not match" }] })
    expect(checkMemo(root, false).damagedRows).toHaveLength(1)
    expect(checkMemo(root, true).damagedRows).toHaveLength(1)
    expect(checkMemo(root, false)).toEqual({ rows: 1, damagedFile: undefined, damagedRows: [] })
    expect(quarantinedRows(root).map((r) => r.key)).toEqual(["b"])
  })
})
