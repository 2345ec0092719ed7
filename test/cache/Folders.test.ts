import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { stableJson } from "../../cache/Artifacts"
import { CacheDir } from "../../cache/CacheDir"
import { checkManifest, type FileHashes, materializeFolder, stampFiles } from "../../cache/Folders"
import { putObject } from "../../cache/Objects"
import { StoreNotices } from "../../cache/Quarantine"
import { recordText } from "../../cache/Records"

const inCache = <A, E>(root: string, effect: Effect.Effect<A, E, CacheDir>, notices: string[] = []) =>
  effect.pipe(Effect.provide(CacheDir.layer(root)), Effect.provideService(StoreNotices, { note: (l) => Effect.sync(() => void notices.push(l)) }))

/** Stores a two-file folder the way the engine stores a Files output: each file, then the manifest of their hashes. */
const storeFolder = (root: string) =>
  inCache(
    root,
    Effect.gen(function* () {
      const files: Record<string, { hash: string; size: number }> = {}
      for (const [name, text] of [["a.bin", "alpha".repeat(100)], ["sub/b.txt", "beta"]] as const) {
        const bytes = new TextEncoder().encode(text)
        files[name] = { hash: yield* putObject(bytes), size: bytes.length }
      }
      return { hash: yield* putObject(new TextEncoder().encode(stableJson(files))), files: files as FileHashes }
    })
  )

describe("materialized folders", () => {
  it.effect("are checked against their recorded hashes on every use; a damaged one is set aside and rebuilt", () =>
    Effect.gen(function* () {
      const root = fs.mkdtempSync(path.join(os.tmpdir(), "prefpipe-folders-"))
      const { hash, files } = yield* storeFolder(root)
      const dir = yield* inCache(root, materializeFolder(hash, files))
      expect(fs.readFileSync(path.join(dir, "sub/b.txt"), "utf8")).toBe("beta")
      // a copy, not a link, so the objects stay intact and the folder alone is damaged
      fs.rmSync(path.join(dir, "a.bin"))
      fs.writeFileSync(path.join(dir, "a.bin"), "alphX".repeat(100))
      const notices: string[] = []
      expect(yield* inCache(root, materializeFolder(hash, files), notices)).toBe(dir)
      expect(notices).toEqual([expect.stringMatching(new RegExp(`^! damaged dirs/${hash}: a\\.bin hashes to \\w{12}, not to its recorded \\w{12}; kept as quarantine/dirs/${hash}; rebuilt from its objects$`))])
      expect(fs.readFileSync(path.join(dir, "a.bin"), "utf8")).toBe("alpha".repeat(100))
      fs.rmSync(path.join(dir, ".complete"))
      const unfinished: string[] = []
      yield* inCache(root, materializeFolder(hash, files), unfinished)
      expect(unfinished).toEqual([expect.stringContaining("was left unfinished (no .complete marker)")])
      const quiet: string[] = []
      yield* inCache(root, materializeFolder(hash, files), quiet)
      expect(quiet).toEqual([])
    }))
})

describe("file manifests", () => {
  it("check sizes always and contents when a file's time changed or when asked for all", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prefpipe-manifest-"))
    const graph = path.join(dir, "g.onnx")
    fs.writeFileSync(graph, "graph bytes")
    const stamp = 1_700_000_000
    fs.utimesSync(graph, stamp, stamp)
    const manifest = path.join(dir, "g.json")
    fs.writeFileSync(manifest, recordText({ files: stampFiles(dir, ["g.onnx"]) }))
    expect(checkManifest(manifest, dir, true)).toBeUndefined()
    fs.writeFileSync(graph, "graph bytez")
    expect(checkManifest(manifest, dir, false)).toMatch(/^g\.onnx hashes to \w{12}, not to its recorded \w{12}$/)
    // The documented limit: an edit that restores the modification time is found by a full check (`cache verify`).
    fs.utimesSync(graph, stamp, stamp)
    expect(checkManifest(manifest, dir, false)).toBeUndefined()
    expect(checkManifest(manifest, dir, true)).toMatch(/hashes to/)
    fs.truncateSync(graph, 3)
    expect(checkManifest(manifest, dir, false)).toBe("g.onnx has 3 bytes where 11 were recorded")
    fs.rmSync(manifest)
    expect(checkManifest(manifest, dir, false)).toMatch(/^has no manifest/)
  })
})
