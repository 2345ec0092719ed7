import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { CacheDir } from "../../cache/CacheDir"
import { lockKey } from "../../cache/Lock"

const lockFile = (root: string, key: string) => path.join(root, "locks", `${key}.lock`)

/** Takes the lock on `key` in a cache at `root` and releases it, recording what the lock said on the way. */
const takeLock = (root: string, key: string, said: string[]) =>
  Effect.scoped(
    lockKey(key, {
      waiting: Effect.sync(() => void said.push("waiting")),
      takenOver: (owner) => Effect.sync(() => void said.push(`took over from ${owner}`))
    })
  ).pipe(Effect.provide(CacheDir.layer(root)))

describe("lockKey", () => {
  it.live("takes a free lock silently and leaves no file behind", () =>
    Effect.gen(function* () {
      const root = fs.mkdtempSync(path.join(os.tmpdir(), "prefpipe-lock-"))
      const said: string[] = []
      yield* takeLock(root, "k", said)
      expect(said).toEqual([])
      expect(fs.readdirSync(path.join(root, "locks"))).toEqual([])
    }))

  it.live("takes over at once a lock whose owner is dead, and says whose it was", () =>
    Effect.gen(function* () {
      const root = fs.mkdtempSync(path.join(os.tmpdir(), "prefpipe-lock-"))
      const dead = spawnSync(process.execPath, ["-e", ""]).pid!
      fs.mkdirSync(path.join(root, "locks"))
      fs.writeFileSync(lockFile(root, "k"), String(dead))
      const said: string[] = []
      yield* takeLock(root, "k", said)
      expect(said).toEqual([`took over from process ${dead}, which is no longer running`])
    }))

  it.live("takes over an unreadable lock file once it is ten seconds old, and waits on a younger one", () =>
    Effect.gen(function* () {
      const root = fs.mkdtempSync(path.join(os.tmpdir(), "prefpipe-lock-"))
      fs.mkdirSync(path.join(root, "locks"))
      fs.writeFileSync(lockFile(root, "old"), "\u0000garbage")
      const past = new Date(Date.now() - 60_000)
      fs.utimesSync(lockFile(root, "old"), past, past)
      const said: string[] = []
      yield* takeLock(root, "old", said)
      expect(said).toEqual(["took over from an unreadable lock file"])

      fs.writeFileSync(lockFile(root, "young"), "")
      const young: string[] = []
      const fiber = yield* Effect.fork(takeLock(root, "young", young))
      yield* Effect.sleep("300 millis")
      expect(young).toEqual(["waiting"])
      fs.rmSync(lockFile(root, "young"))
      yield* Fiber.join(fiber)
      expect(young).toEqual(["waiting"])
    }))

  it.live("waits while the owner lives and takes over, saying so, when it dies holding the lock", () =>
    Effect.gen(function* () {
      const root = fs.mkdtempSync(path.join(os.tmpdir(), "prefpipe-lock-"))
      const owner = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)"], { stdio: "ignore" })
      fs.mkdirSync(path.join(root, "locks"))
      fs.writeFileSync(lockFile(root, "k"), String(owner.pid))
      const said: string[] = []
      const fiber = yield* Effect.fork(takeLock(root, "k", said))
      yield* Effect.sleep("300 millis")
      expect(said).toEqual(["waiting"])
      const exited = new Promise((resolve) => owner.on("exit", resolve))
      owner.kill("SIGKILL")
      yield* Effect.promise(() => exited)
      yield* Fiber.join(fiber)
      expect(said).toEqual(["waiting", `took over from process ${owner.pid}, which is no longer running`])
    }))
})
