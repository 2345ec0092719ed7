import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { sha256 } from "../../core/Key"
import { makePrng, permutation, type Prng } from "../../stats/prng"
import {
  buildReferenceCache,
  type CliRun,
  copyCache,
  flipByte,
  folderHashes,
  noticeLines,
  objectFile,
  pipelineCli,
  type ReferenceCache,
  stageRecord
} from "../support/cli"

// Each case damages a copy of one cache built through the CLI with `pipeline build reports/hoo`, builds again through
// the CLI, and checks that the damage was named in one line, kept in quarantine/, and that the build hash and every
// output byte equal the undamaged build's.

let ref: ReferenceCache
beforeAll(async () => {
  ref = await buildReferenceCache()
}, 600_000)
afterAll(() => fs.rmSync(ref.dir, { recursive: true, force: true }))

const summary = (run: CliRun) => JSON.parse(run.stdout) as { build: string; executed: number; stages: Array<{ stage: string; status: string }> }

const expectIdentical = (run: CliRun, out: string) => {
  expect(run.code, run.stderr).toBe(0)
  expect(summary(run).build).toBe(ref.build)
  expect(folderHashes(path.join(out, "reports/hoo"))).toEqual(ref.outputs)
}

const memoDb = (cache: string) => new Database(path.join(cache, "memo.sqlite"))
const quarantined = (cache: string) => (fs.existsSync(path.join(cache, "quarantine")) ? (fs.readdirSync(path.join(cache, "quarantine"), { recursive: true }) as string[]) : [])

// CLI runs on a busy machine take a while; each case allows for several.
const slow = { timeout: 900_000 }

describe("a damaged cache entry is named in one line, kept in quarantine/ and recomputed (through the CLI)", slow, () => {
  it("an output object with a flipped byte is replaced, so the next build reuses it", async () => {
    const c = copyCache(ref, "root-object")
    const hash = Object.values(stageRecord(c.cache, ref.build, "report_hoo[hoo]").outputs)[0]!.hash
    flipByte(objectFile(c.cache, hash))
    const first = await c.build()
    expectIdentical(first, c.out)
    expect(noticeLines(first)).toEqual([
      expect.stringMatching(new RegExp(`^! report_hoo\\[hoo\\]: cached object ${hash.slice(0, 12)} is damaged: content hashes to \\w+ .*; kept as quarantine/objects/${hash.slice(0, 2)}/${hash.slice(2)}; the stage reruns$`))
    ])
    expect(sha256(fs.readFileSync(objectFile(c.cache, hash)))).toBe(hash)
    const second = await c.build()
    expect(second.code, second.stderr).toBe(0)
    expect(summary(second).executed).toBe(0)
    expect(noticeLines(second)).toEqual([])
  })

  for (const [kind, damage] of [
    ["a flipped byte", (file: string) => flipByte(file)],
    ["64 KiB of garbage", (file: string) => {
      const bytes = fs.readFileSync(file)
      bytes.fill(0x5a, 4096, 4096 + 65536)
      fs.writeFileSync(file, bytes)
    }]
  ] as const) {
    it(`a checkpoint folder with ${kind} in its weights is rebuilt before use, not used`, async () => {
      const c = copyCache(ref, `folder-${kind.length}`)
      const checkpoint = stageRecord(c.cache, ref.build, "organism").outputs["checkpoint"]!
      const dir = path.join(c.cache, "dirs", checkpoint.hash)
      damage(path.join(dir, "model.safetensors"))
      // Nothing downstream may cover for the folder: no compiled graph, no memo rows, and the stage reading it must run.
      fs.rmSync(path.join(c.cache, "compiled"), { recursive: true })
      fs.rmSync(path.join(c.cache, "memo.sqlite"))
      fs.rmSync(stageRecord(c.cache, ref.build, "complete").file)
      const run = await c.build()
      expectIdentical(run, c.out)
      expect(run.stderr).not.toContain("TypeError")
      expect(noticeLines(run)).toEqual([
        expect.stringMatching(
          new RegExp(`^! damaged dirs/${checkpoint.hash}: model\\.safetensors hashes to \\w+, not to its recorded \\w+; kept as quarantine/dirs/${checkpoint.hash}; rebuilt from its objects$`)
        ),
        expect.stringMatching(/^! complete: cached object \w{12} is damaged: content hashes to .*; rebuilding organism$/)
      ])
      // cp -a keeps the folder's hard links, so the object behind the file was damaged too and the organism reran.
      expect(summary(run).stages.find((s) => s.stage === "organism")!.status).toBe("executed")
      expect(folderHashes(dir)["model.safetensors"]).toBe(checkpoint.files!["model.safetensors"]!.hash)
    })
  }

  it("memo rows edited in place are dropped and recomputed, with one warning per stage naming how many", async () => {
    const c = copyCache(ref, "memo-rows")
    const db = memoDb(c.cache)
    const rows = db.prepare("SELECT namespace, key, value FROM memo WHERE namespace LIKE 'elicit/%' ORDER BY key LIMIT 5").all() as Array<{ namespace: string; key: string; value: string }>
    const update = db.prepare("UPDATE memo SET value = ? WHERE namespace = ? AND key = ?")
    for (const r of rows) {
      const value = JSON.parse(r.value) as { option_probs: Array<number | null> | null }
      update.run(JSON.stringify({ ...value, option_probs: value.option_probs?.map(() => null) ?? null }), r.namespace, r.key)
    }
    db.close()
    for (const stage of ["elicit[qualitative_post_v1]", "elicit[stated_pre_v1]"]) fs.rmSync(stageRecord(c.cache, ref.build, stage).file)
    const run = await c.build()
    expectIdentical(run, c.out)
    const warnings = noticeLines(run).map((l) =>
      /^! (elicit\[\w+\]): damaged memo rows: (\d+) of elicit\/\d+\/\w+… (?:fails its checksum or does not decode|fail their checksum or do not decode); kept in quarantine\/memo-rows\.jsonl; recomputing them$/.exec(l)
    )
    expect(warnings.every((w) => w !== null), noticeLines(run).join("\n")).toBe(true)
    expect(new Set(warnings.map((w) => w![1])).size).toBe(warnings.length)
    expect(warnings.reduce((a, w) => a + Number(w![2]), 0)).toBe(5)
    expect(fs.readFileSync(path.join(c.cache, "quarantine/memo-rows.jsonl"), "utf8").trim().split("\n")).toHaveLength(5)
  })

  it("a memo.sqlite whose header is garbage is set aside; a fully cached build goes on", async () => {
    const c = copyCache(ref, "memo-header")
    const file = path.join(c.cache, "memo.sqlite")
    const bytes = fs.readFileSync(file)
    bytes.fill(0x41, 0, 100)
    fs.writeFileSync(file, bytes)
    const run = await c.build()
    expectIdentical(run, c.out)
    expect(summary(run).executed).toBe(0)
    expect(noticeLines(run)).toEqual([
      "! damaged memo.sqlite: file is not a database; kept as quarantine/memo.sqlite; a fresh memo takes its place; rows are recomputed as stages ask for them"
    ])
    expect(fs.readFileSync(path.join(c.cache, "quarantine/memo.sqlite")).subarray(0, 100)).toEqual(Buffer.alloc(100, 0x41))
  })

  it("memo values that are not JSON are dropped and recomputed, not a stack trace", async () => {
    const c = copyCache(ref, "memo-json")
    const db = memoDb(c.cache)
    const changed = db.prepare("UPDATE memo SET value = substr(value, 1, length(value) - 7) WHERE namespace LIKE 'complete/%'").run().changes
    db.close()
    fs.rmSync(stageRecord(c.cache, ref.build, "complete").file)
    const run = await c.build()
    expectIdentical(run, c.out)
    expect(noticeLines(run)).toEqual([expect.stringMatching(new RegExp(`^! complete: damaged memo rows: ${changed} of complete/\\d+/\\w+… fail their checksum or do not decode; kept in quarantine/memo-rows.jsonl; recomputing them$`))])
    expect(run.stderr).not.toMatch(/at \S+ \(|SyntaxError/)
  })

  it("a truncated stage record is set aside and its stage recomputed", async () => {
    const c = copyCache(ref, "action")
    const { file } = stageRecord(c.cache, ref.build, "probe_eval[qualitative_post_v1@1]")
    fs.truncateSync(file, Math.floor(fs.statSync(file).size / 2))
    const run = await c.build()
    expectIdentical(run, c.out)
    const relative = path.relative(c.cache, file)
    expect(noticeLines(run)).toEqual([
      expect.stringMatching(new RegExp(`^! damaged ${relative}: not valid JSON at line \\d+, column \\d+: .*; kept as quarantine/${relative}; the stage reruns$`))
    ])
    expect(summary(run).stages.find((s) => s.stage === "probe_eval[qualitative_post_v1@1]")!.status).toBe("executed")
    const again = await c.build()
    expect(summary(again).executed).toBe(0)
  })

  it("a truncated compiled graph is set aside and compiled again", async () => {
    const c = copyCache(ref, "compiled")
    const graphs = fs.readdirSync(path.join(c.cache, "compiled")).filter((f) => f.endsWith(".onnx"))
    for (const g of graphs) {
      const file = path.join(c.cache, "compiled", g)
      fs.truncateSync(file, Math.floor(fs.statSync(file).size / 2))
    }
    fs.rmSync(path.join(c.cache, "memo.sqlite"))
    fs.rmSync(stageRecord(c.cache, ref.build, "complete").file)
    const run = await c.build()
    expectIdentical(run, c.out)
    expect(run.stderr).not.toContain("Protobuf parsing failed")
    const lines = noticeLines(run)
    expect(lines.length).toBeGreaterThan(0)
    for (const line of lines) {
      expect(line).toMatch(/^! complete: damaged compiled\/(\w+)\.onnx: \1\.onnx has \d+ bytes where \d+ were recorded; kept as quarantine\/compiled\/\1\.onnx, quarantine\/compiled\/\1\.onnx\.data, quarantine\/compiled\/\1\.json; compiling it again$/)
    }
  })

  it("a compiled model whose weights file was changed is set aside and compiled again", async () => {
    const c = copyCache(ref, "compiled-data")
    const data = fs.readdirSync(path.join(c.cache, "compiled")).filter((f) => f.endsWith(".onnx.data"))
    expect(data.length).toBeGreaterThan(0)
    for (const d of data) flipByte(path.join(c.cache, "compiled", d))
    fs.rmSync(path.join(c.cache, "memo.sqlite"))
    fs.rmSync(stageRecord(c.cache, ref.build, "complete").file)
    const run = await c.build()
    expectIdentical(run, c.out)
    const lines = noticeLines(run)
    expect(lines.length).toBeGreaterThan(0)
    for (const line of lines) {
      expect(line).toMatch(/^! complete: damaged compiled\/(\w+)\.onnx: \1\.onnx\.data .+; kept as quarantine\/compiled\/\1\.onnx, quarantine\/compiled\/\1\.onnx\.data, quarantine\/compiled\/\1\.json; compiling it again$/)
    }
  })

  it("cache verify names damage nobody read, reproduce --reuse-cache rehashes what it reuses, --repair quarantines", async () => {
    const c = copyCache(ref, "verify")
    const parse = stageRecord(c.cache, ref.build, "parse[stated_pre_v1]")
    // The scores table: its object belongs to this stage alone (an empty diagnostics output is shared by many).
    const hash = parse.outputs.scores!.hash
    flipByte(objectFile(c.cache, hash))
    const found = await pipelineCli(["cache", "verify", "--cache", c.cache, "--json"])
    expect(found.code).toBe(1)
    const report = JSON.parse(found.stdout) as { damaged: Array<{ kind: string; path: string; reason: string }>; checked: Record<string, number>; repaired: boolean }
    expect(report.damaged).toEqual([
      { kind: "object", path: `objects/${hash.slice(0, 2)}/${hash.slice(2)}`, reason: expect.stringMatching(/^content hashes to \w+, not to its name$/) },
      { kind: "stage record", path: path.relative(c.cache, parse.file), reason: `output scores: object ${hash.slice(0, 12)} is missing or damaged` }
    ])
    expect(report.checked.memoRows).toBeGreaterThan(0)
    expect(report.repaired).toBe(false)
    expect(fs.existsSync(path.join(c.cache, "quarantine"))).toBe(false)

    const reproduced = await pipelineCli(["reproduce", ref.build, "--reuse-cache", "--cache", c.cache, "--json"])
    expect(reproduced.code, reproduced.stderr).toBe(0)
    expect(JSON.parse(reproduced.stdout).identical).toBe(true)
    expect(noticeLines(reproduced)).toEqual([expect.stringMatching(new RegExp(`^! parse\\[stated_pre_v1\\]: cached object ${hash.slice(0, 12)} is damaged: .*; the stage reruns$`))])
    expect(sha256(fs.readFileSync(objectFile(c.cache, hash)))).toBe(hash)

    const d = copyCache(ref, "repair")
    flipByte(objectFile(d.cache, hash))
    fs.truncateSync(stageRecord(d.cache, ref.build, "sample").file, 10)
    const repaired = await pipelineCli(["cache", "verify", "--repair", "--cache", d.cache])
    expect(repaired.code, repaired.stderr).toBe(0)
    expect(repaired.stdout).toMatch(/: 3 damaged, moved to quarantine\/\n$/)
    expect(quarantined(d.cache)).toEqual(expect.arrayContaining([`objects/${hash.slice(0, 2)}/${hash.slice(2)}`]))
    const clean = await pipelineCli(["cache", "verify", "--cache", d.cache])
    expect(clean.code, clean.stdout).toBe(0)
    expect(clean.stdout).toMatch(/: all intact\n$/)
    expectIdentical(await d.build(), d.out)
  })

  it("a lock left by a dead process is taken over at once, and the message says so", async () => {
    const c = copyCache(ref, "lock")
    const root = stageRecord(c.cache, ref.build, "report_hoo[hoo]")
    fs.rmSync(root.file)
    const dead = spawnSync(process.execPath, ["-e", ""]).pid!
    fs.mkdirSync(path.join(c.cache, "locks"), { recursive: true })
    fs.writeFileSync(path.join(c.cache, "locks", `${root.key}.lock`), String(dead))
    const run = await c.build()
    expectIdentical(run, c.out)
    expect(noticeLines(run)).toEqual([`… report_hoo[hoo]: took over the lock left by process ${dead}, which is no longer running; computing it here`])
    expect(run.stderr).not.toContain("waiting")
  })
})

describe("random damage", slow, () => {
  const kinds = ["flip", "truncate", "delete", "garbage"] as const
  const damage = (file: string, kind: (typeof kinds)[number], prng: Prng) => {
    const size = fs.statSync(file).size
    switch (kind) {
      case "flip":
        if (size === 0) fs.writeFileSync(file, Buffer.from([prng.int(256)]))
        else flipByte(file, prng.int(size))
        return `flip ${file}`
      case "truncate": {
        const to = size === 0 ? 0 : prng.int(size)
        fs.truncateSync(file, to)
        return `truncate ${file} to ${to} of ${size} bytes`
      }
      case "delete":
        fs.rmSync(file)
        return `delete ${file}`
      case "garbage": {
        const start = prng.int(size + 1)
        const garbage = Buffer.from(Array.from({ length: 1 + prng.int(65536) }, () => prng.int(256)))
        const fd = fs.openSync(file, "r+")
        fs.writeSync(fd, garbage, 0, garbage.length, start)
        fs.closeSync(fd)
        return `garbage ${file}: ${garbage.length} bytes at ${start} of ${size}`
      }
    }
  }

  for (const seed of [1, 2, 3, 4, 5]) {
    it(`seed ${seed}: 4 random files flipped, truncated, deleted or garbled; the next build has the original hash and outputs`, async () => {
      const c = copyCache(ref, `random-${seed}`)
      const prng = makePrng(seed)
      const files = (fs.readdirSync(c.cache, { recursive: true }) as string[]).filter((f) => fs.statSync(path.join(c.cache, f)).isFile()).sort()
      const order = permutation(files.length, prng)
      const done = Array.from(order.slice(0, 4), (i) => damage(path.join(c.cache, files[i]!), kinds[prng.int(kinds.length)]!, prng))
      const run = await c.build()
      const context = `${done.join("\n")}\n${run.stderr}`
      expect(run.code, context).toBe(0)
      expect(summary(run).build, context).toBe(ref.build)
      expect(folderHashes(path.join(c.out, "reports/hoo")), context).toEqual(ref.outputs)
    })
  }
})
