import { describe, expect, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { putAction } from "../../cache/Actions"
import { stableJson } from "../../cache/Artifacts"
import { putBuild } from "../../cache/Builds"
import { CacheDir } from "../../cache/CacheDir"
import { materializeFolder, stampFiles } from "../../cache/Folders"
import { RowMemo } from "../../cache/Memo"
import { objectPath, putObject } from "../../cache/Objects"
import { StoreNotices } from "../../cache/Quarantine"
import { recordText } from "../../cache/Records"
import { verifyCache } from "../../cache/Verify"

const inCache = <A, E>(root: string, effect: Effect.Effect<A, E, CacheDir>) =>
  effect.pipe(Effect.provide(CacheDir.layer(root)), Effect.provideService(StoreNotices, { note: () => Effect.void }))

/** A small cache holding one of everything verify walks: objects, a stage record with a folder output, a build, a compiled graph, memo rows. */
const smallCache = () =>
  Effect.gen(function* () {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "prefpipe-verify-"))
    const store = (text: string) => Effect.map(putObject(new TextEncoder().encode(text)), (hash) => ({ hash, size: new TextEncoder().encode(text).length }))
    const table = yield* inCache(root, store("a table's bytes"))
    const weights = yield* inCache(root, store("weights".repeat(50)))
    const files = { "model.bin": weights }
    const manifest = yield* inCache(root, store(stableJson(files)))
    yield* inCache(root, materializeFolder(manifest.hash, files))
    const key = "ab".repeat(32)
    yield* inCache(
      root,
      putAction({
        key,
        node: "stage",
        components: { stage: "stage", version: 1, params: {}, inputs: {} },
        inputNodes: {},
        outputs: { table: { kind: "Table", ...table, rows: 1 }, checkpoint: { kind: "Files", ...manifest, rows: null, files } },
        outputsHash: "x",
        seconds: 0,
        rows: 1,
        tool: { prefpipe: "0", node: "20" }
      })
    )
    yield* inCache(root, putBuild({ build: "cd".repeat(32), target: "t", config: {}, configFile: "c.json", root: { node: "stage", key }, stages: [], tool: { prefpipe: "0", node: "20" } }))
    const compiled = path.join(root, "compiled")
    fs.mkdirSync(compiled)
    fs.writeFileSync(path.join(compiled, "g.onnx"), "graph")
    fs.writeFileSync(path.join(compiled, "g.json"), recordText({ files: stampFiles(compiled, ["g.onnx"]) }))
    yield* Effect.flatMap(RowMemo, (m) => m.putMany("ns/1", [["k1", "1"], ["k2", "2"]])).pipe(Effect.provide(RowMemo.layerSqlite), Effect.provide(CacheDir.layer(root)))
    return { root, key, table, weights, manifest }
  })

describe("verifyCache", () => {
  it.effect("finds every kind of damage, changes nothing without repair, and quarantines it all with repair", () =>
    Effect.gen(function* () {
      const { root, key, table, manifest } = yield* smallCache()
      const intact = yield* inCache(root, verifyCache(false))
      expect(intact.damaged).toEqual([])
      expect(intact.checked).toEqual({ objects: 3, stageRecords: 1, nodeStates: 0, buildRecords: 1, folders: 1, compiledGraphs: 1, memoRows: 2 })

      fs.writeFileSync(objectPath(root, table.hash), "A TABLE'S BYTES")
      const folderFile = path.join(root, "dirs", manifest.hash, "model.bin")
      fs.rmSync(folderFile)
      fs.writeFileSync(folderFile, "weights".repeat(49) + "weightz")
      fs.appendFileSync(path.join(root, "builds", `${"cd".repeat(32)}.json`), " ")
      fs.writeFileSync(path.join(root, "builds", `${"cd".repeat(32)}.json`), fs.readFileSync(path.join(root, "builds", `${"cd".repeat(32)}.json`), "utf8").replace('"t"', '"u"'))
      fs.appendFileSync(path.join(root, "builds", "log.jsonl"), '{"build": "tor')
      fs.writeFileSync(path.join(root, "compiled", "g.onnx"), "grapH")
      const db = new Database(path.join(root, "memo.sqlite"))
      db.prepare("UPDATE memo SET value = '3' WHERE key = 'k2'").run()
      db.close()

      const found = yield* inCache(root, verifyCache(false))
      const kinds = found.damaged.map((d) => [d.kind, d.path])
      expect(kinds).toEqual([
        ["object", `objects/${table.hash.slice(0, 2)}/${table.hash.slice(2)}`],
        ["stage record", `actions/${key.slice(0, 2)}/${key.slice(2)}.json`],
        ["build record", `builds/${"cd".repeat(32)}.json`],
        ["build log", "builds/log.jsonl"],
        ["folder", `dirs/${manifest.hash}`],
        ["compiled graph", "compiled/g.onnx"],
        ["memo row", "ns/1 k2"]
      ])
      expect(found.repaired).toBe(false)
      expect(fs.existsSync(path.join(root, "quarantine"))).toBe(false)
      expect((yield* inCache(root, verifyCache(false))).damaged).toHaveLength(7)

      const repaired = yield* inCache(root, verifyCache(true))
      expect(repaired.repaired).toBe(true)
      expect(fs.readdirSync(path.join(root, "quarantine"), { recursive: true })).toEqual(
        expect.arrayContaining(["memo-rows.jsonl", "builds/log.jsonl.damaged", "compiled/g.onnx", "compiled/g.json", `dirs/${manifest.hash}`])
      )
      expect((yield* inCache(root, verifyCache(false))).damaged).toEqual([])
    }))

  it.effect("names a memo.sqlite SQLite rejects as one damaged file", () =>
    Effect.gen(function* () {
      const { root } = yield* smallCache()
      const file = path.join(root, "memo.sqlite")
      const bytes = fs.readFileSync(file)
      bytes.fill(0, 0, 16)
      fs.writeFileSync(file, bytes)
      const found = yield* inCache(root, verifyCache(false))
      expect(found.damaged).toEqual([{ kind: "memo", path: "memo.sqlite", reason: "file is not a database" }])
      yield* inCache(root, verifyCache(true))
      expect(fs.existsSync(path.join(root, "quarantine/memo.sqlite"))).toBe(true)
      expect(fs.existsSync(file)).toBe(false)
    }))
})
