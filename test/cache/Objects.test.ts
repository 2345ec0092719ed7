import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { sha256 } from "../../core/Key"
import { CacheDir } from "../../cache/CacheDir"
import { checkObject, getObject, objectPath, putObject } from "../../cache/Objects"
import { StoreNotices } from "../../cache/Quarantine"

const inCache = <A, E>(root: string, effect: Effect.Effect<A, E, CacheDir>, notices: string[] = []) =>
  effect.pipe(Effect.provide(CacheDir.layer(root)), Effect.provideService(StoreNotices, { note: (l) => Effect.sync(() => void notices.push(l)) }))

const bytes = new TextEncoder().encode("some stored bytes")
const hash = sha256(bytes)

describe("objects", () => {
  it.effect("putObject replaces a file under the right name whose content is wrong, even at the same size", () =>
    Effect.gen(function* () {
      const root = fs.mkdtempSync(path.join(os.tmpdir(), "prefpipe-objects-"))
      yield* inCache(root, putObject(bytes))
      const file = objectPath(root, hash)
      const damaged = Buffer.from(bytes)
      damaged[3]! ^= 0xff
      fs.writeFileSync(file, damaged)
      const notices: string[] = []
      yield* inCache(root, putObject(bytes), notices)
      expect(sha256(fs.readFileSync(file))).toBe(hash)
      expect(notices).toEqual([
        `! damaged objects/${hash.slice(0, 2)}/${hash.slice(2)}: content hashes to ${sha256(damaged).slice(0, 12)} (17 bytes), not to its name; kept as quarantine/objects/${hash.slice(0, 2)}/${hash.slice(2)}; rewritten`
      ])
      expect(fs.readFileSync(path.join(root, "quarantine/objects", hash.slice(0, 2), hash.slice(2)))).toEqual(damaged)
      const quiet: string[] = []
      yield* inCache(root, putObject(bytes), quiet)
      expect(quiet).toEqual([])
    }))

  it.effect("getObject never returns damaged bytes: the file goes to the quarantine and the read fails naming it", () =>
    Effect.gen(function* () {
      const root = fs.mkdtempSync(path.join(os.tmpdir(), "prefpipe-objects-"))
      yield* inCache(root, putObject(bytes))
      fs.writeFileSync(objectPath(root, hash), "other bytes, same len")
      const error = yield* Effect.flip(inCache(root, getObject(hash)))
      expect(error._tag).toBe("CorruptObject")
      expect(error.message).toMatch(new RegExp(`^cached object ${hash.slice(0, 12)} is damaged: content hashes to \\w{12} \\(21 bytes\\); kept as quarantine/objects/`))
      expect(fs.existsSync(objectPath(root, hash))).toBe(false)
      expect((yield* Effect.flip(inCache(root, getObject(hash)))).message).toBe(`cached object ${hash.slice(0, 12)} is missing (objects/${hash.slice(0, 2)}/${hash.slice(2)})`)
    }))

  it.effect("checkObject checks the size cheaply, or the content when asked", () =>
    Effect.gen(function* () {
      const root = fs.mkdtempSync(path.join(os.tmpdir(), "prefpipe-objects-"))
      yield* inCache(root, putObject(bytes))
      expect(yield* inCache(root, checkObject(hash, bytes.length, true))).toBeUndefined()
      fs.writeFileSync(objectPath(root, hash), "X".repeat(bytes.length))
      expect(yield* inCache(root, checkObject(hash, bytes.length, false))).toBeUndefined()
      expect((yield* inCache(root, checkObject(hash, bytes.length, true)))?.message).toMatch(/is damaged: content hashes to/)
      yield* inCache(root, putObject(bytes))
      fs.appendFileSync(objectPath(root, hash), "more")
      expect((yield* inCache(root, checkObject(hash, bytes.length, false)))?.message).toMatch(/is damaged: 21 bytes where 17 were stored; kept as quarantine\//)
    }))
})
