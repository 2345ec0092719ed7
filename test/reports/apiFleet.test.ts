/**
 * A build against a fleet of three `pipeline serve` processes of one organism, one of them killed with SIGKILL while
 * the elicitation stage is asking: the requests in flight on it are asked elsewhere, the build finishes with every
 * row present exactly once and answered, and a rerun executes nothing.
 */
import { afterAll, describe, expect, it } from "@effect/vitest"
import Database from "better-sqlite3"
import * as fs from "node:fs"
import * as path from "node:path"
import { getAction } from "../../cache/Actions"
import { CacheDir } from "../../cache/CacheDir"
import { Effect } from "effect"
import { fromTable } from "../../stages/tables"
import { type ServeProcess, startServe } from "../support/cliProcess"
import { experimentWorkspace, stageOutputs } from "../support/experiment"

const experiment = {
  sample: { perOrigin: 20 },
  completion: { maxTokens: 12 },
  elicitation: { samples: 5, maxTokens: 8 },
  templates: ["qualitative_post_v1"]
}

/** Memo rows of a namespace prefix, read while a build writes them (SQLite WAL allows a reader beside the writer). */
const memoRows = (cache: string, prefix: string): number => {
  const file = path.join(cache, "memo.sqlite")
  if (!fs.existsSync(file)) return 0
  const db = new Database(file, { readonly: true, fileMustExist: true })
  try {
    return (db.prepare("SELECT count(*) AS n FROM memo WHERE namespace LIKE ?").get(`${prefix}%`) as { n: number }).n
  } finally {
    db.close()
  }
}

describe("a fleet of three pipeline serve processes, one killed mid-stage", () => {
  const w = experimentWorkspace()
  const servers: ServeProcess[] = []
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop("SIGKILL")))
    fs.rmSync(w.dir, { recursive: true, force: true })
  })

  it("finishes with every row exactly once, answered, and a rerun executes nothing", async () => {
    const serveConfig = path.join(w.dir, "organism.json")
    fs.writeFileSync(serveConfig, JSON.stringify(experiment))
    // One at a time: the first builds the organism and compiles it, the others reuse both from the shared cache.
    for (let i = 0; i < 3; i++) servers.push(await startServe(["--config", serveConfig, "--cache", w.cache, "--batch-size", "16"]))
    expect(new Set(servers.map((s) => s.name)).size).toBe(1)
    w.writeConfig({
      ...experiment,
      model: { kind: "api", model: servers[0]!.name, endpoints: servers.map((s) => ({ baseUrl: s.url, maxConcurrency: 16 })), timeoutMs: 20_000, backoffMs: 50 }
    })
    const building = w.build("reports/parsing")
    const victim = servers[1]!
    let killedAt = -1
    await new Promise<void>((resolve, reject) => {
      const started = Date.now()
      const poll = setInterval(() => {
        const answered = memoRows(w.cache, "elicit/")
        if (answered >= 60) {
          clearInterval(poll)
          killedAt = answered
          void victim.stop("SIGKILL").then(resolve)
        } else if (Date.now() - started > 600_000) {
          clearInterval(poll)
          reject(new Error("the elicitation stage never got going"))
        }
      }, 50)
      building.catch((e) => {
        clearInterval(poll)
        reject(e)
      })
    })
    expect(killedAt).toBeGreaterThanOrEqual(60)
    expect(victim.child.signalCode).toBe("SIGKILL")
    const built = await building
    const rows = fromTable<{ task_id: string; sample: number; error: string | null; response: string }>(
      (await stageOutputs(w.cache, built, "elicit[qualitative_post_v1]")).table("elicitations")
    )
    expect(rows.length).toBe(80 * 5)
    expect(new Set(rows.map((r) => `${r.task_id}/${r.sample}`)).size).toBe(rows.length)
    expect(rows.filter((r) => r.error !== null)).toEqual([])
    // The stage finished after the kill (it had rows left), and the dead endpoint's requests went elsewhere.
    expect(killedAt).toBeLessThan(rows.length)
    const counters = await Effect.runPromise(
      Effect.map(getAction(built.stages.find((s) => s.stage === "elicit[qualitative_post_v1]")!.key), (r) => r!.counters!).pipe(Effect.provide(CacheDir.layer(w.cache)))
    )
    expect(counters.rows_failed).toBe(0)
    expect(counters["endpoint1.sent"]!).toBeGreaterThan(0)
    expect(counters["endpoint1.failed"]!).toBeGreaterThan(0)
    expect(counters.retries!).toBeGreaterThan(0)
    expect(counters["endpoint0.sent"]! + counters["endpoint2.sent"]!).toBeGreaterThan(rows.length - killedAt)
    const again = await w.build("reports/parsing")
    expect(again.executed).toBe(0)
    expect(again.build).toBe(built.build)
  }, 1_200_000)
})
