import Database from "better-sqlite3"
import { Context, Effect, Layer, Schedule } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { StoreError } from "./StoreErrors"
import { hashValue, type Keyable } from "../core/Key"
import { CacheDir, cachePaths } from "./CacheDir"

/**
 * The row-level memo: finished per-item results of expensive work (model calls), committed as they finish, so an
 * interrupted stage resumes from them and adding rows computes only the new ones. Values are JSON strings.
 */
export class RowMemo extends Context.Tag("prefpipe/RowMemo")<
  RowMemo,
  {
    readonly getMany: (
      namespace: string,
      keys: ReadonlyArray<string>
    ) => Effect.Effect<ReadonlyMap<string, string>, StoreError>
    readonly putMany: (
      namespace: string,
      entries: ReadonlyArray<readonly [string, string]>
    ) => Effect.Effect<void, StoreError>
    readonly count: () => Effect.Effect<{ readonly rows: number; readonly namespaces: number }, StoreError>
  }
>() {
  /** An SQLite memo (WAL, synchronous FULL: a committed row survives a crash) in the cache folder. */
  static readonly layerSqlite = Layer.scoped(
    RowMemo,
    Effect.gen(function* () {
      const { root } = yield* CacheDir
      const file = cachePaths(root).memo
      const fail = (e: unknown) => new StoreError({ path: file, reason: e instanceof Error ? e.message : String(e) })
      // Two processes opening a new cache at once can meet SQLITE_BUSY while one switches the file to WAL.
      const db = yield* Effect.acquireRelease(
        Effect.try({
          try: () => {
            fs.mkdirSync(path.dirname(file), { recursive: true })
            const d = new Database(file, { timeout: 60_000 })
            try {
              d.pragma("journal_mode = WAL")
              d.pragma("synchronous = FULL")
              d.exec("CREATE TABLE IF NOT EXISTS memo (namespace TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (namespace, key)) WITHOUT ROWID")
              return d
            } catch (e) {
              d.close()
              throw e
            }
          },
          catch: fail
        }).pipe(Effect.retry(Schedule.intersect(Schedule.spaced("100 millis"), Schedule.recurs(50)))),
        (d) => Effect.sync(() => d.close())
      )
      const select = db.prepare<[string, string], { value: string }>("SELECT value FROM memo WHERE namespace = ? AND key = ?")
      const insert = db.prepare("INSERT OR REPLACE INTO memo (namespace, key, value) VALUES (?, ?, ?)")
      const insertAll = db.transaction((ns: string, entries: ReadonlyArray<readonly [string, string]>) => {
        for (const [k, v] of entries) insert.run(ns, k, v)
      })
      return {
        getMany: (namespace, keys) =>
          Effect.try({
            try: () => {
              const out = new Map<string, string>()
              for (const k of keys) {
                const row = select.get(namespace, k)
                if (row !== undefined) out.set(k, row.value)
              }
              return out
            },
            catch: fail
          }),
        putMany: (namespace, entries) => Effect.try({ try: () => insertAll(namespace, entries), catch: fail }),
        count: () =>
          Effect.try({
            try: () =>
              db.prepare("SELECT count(*) AS rows, count(DISTINCT namespace) AS namespaces FROM memo").get() as {
                rows: number
                namespaces: number
              },
            catch: fail
          })
      }
    })
  )

  /** A memo held in memory, for tests. */
  static readonly layerMemory = Layer.sync(RowMemo, () => {
    const data = new Map<string, Map<string, string>>()
    const ns = (n: string) => {
      let m = data.get(n)
      if (m === undefined) data.set(n, (m = new Map()))
      return m
    }
    return {
      getMany: (namespace, keys) =>
        Effect.sync(() => new Map(keys.flatMap((k) => (ns(namespace).has(k) ? [[k, ns(namespace).get(k)!] as const] : [])))),
      putMany: (namespace, entries) => Effect.sync(() => entries.forEach(([k, v]) => ns(namespace).set(k, v))),
      count: () =>
        Effect.sync(() => ({ rows: [...data.values()].reduce((a, m) => a + m.size, 0), namespaces: data.size }))
    }
  })
}

/** How a stage maps items through the memo. */
export interface MemoMapOptions<I, O, E, R> {
  /** Names the work (stage name and version, plus anything every row shares). */
  readonly namespace: string
  readonly items: ReadonlyArray<I>
  /** The identity of one item's work: everything that can change its result. */
  readonly key: (item: I) => Keyable
  /** Computes a batch of missing items, in order. */
  readonly compute: (batch: ReadonlyArray<I>) => Effect.Effect<ReadonlyArray<O>, E, R>
  readonly batchSize: number
  /** Called after each committed batch with the number of items now done (memo hits count as done). */
  readonly onProgress?: (done: number) => Effect.Effect<void>
}

/**
 * Maps items through the memo: hits are read back, misses computed in batches and committed after each batch,
 * so a crash or interrupt loses at most the batch in flight. Results come back in item order.
 */
export const memoMap = <I, O, E, R>(
  options: MemoMapOptions<I, O, E, R>
): Effect.Effect<ReadonlyArray<O>, E | StoreError, R | RowMemo> =>
  Effect.gen(function* () {
    const memo = yield* RowMemo
    const keys = options.items.map((item) => hashValue(options.key(item)))
    const found = yield* memo.getMany(options.namespace, keys)
    const results: Array<O | undefined> = keys.map((k) => {
      const v = found.get(k)
      return v === undefined ? undefined : (JSON.parse(v) as O)
    })
    const missing = results.flatMap((r, i) => (r === undefined ? [i] : []))
    let done = options.items.length - missing.length
    if (options.onProgress) yield* options.onProgress(done)
    for (let start = 0; start < missing.length; start += options.batchSize) {
      const idx = missing.slice(start, start + options.batchSize)
      const out = yield* options.compute(idx.map((i) => options.items[i]!))
      yield* memo.putMany(
        options.namespace,
        idx.map((i, j) => [keys[i]!, JSON.stringify(out[j])] as const)
      )
      idx.forEach((i, j) => (results[i] = out[j]))
      done += idx.length
      if (options.onProgress) yield* options.onProgress(done)
    }
    return results as ReadonlyArray<O>
  })
