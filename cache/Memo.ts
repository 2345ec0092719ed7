import Database from "better-sqlite3"
import { Context, Effect, Layer, Schedule, type Scope } from "effect"
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

/** When buffered memo rows are committed: at `rows` pending, or once `ms` have passed since the last commit. */
export interface GroupCommit {
  readonly rows: number
  readonly ms: number
}

/** Every 100 ms or 512 rows: a commit costs an fsync (about 5 ms here), so one per row would cap a stage at ~200 rows/s. */
export const defaultGroupCommit: GroupCommit = { rows: 512, ms: 100 }

/** Buffered writes to one memo namespace. */
export interface MemoWriter {
  /** Adds rows; commits every pending row when the group is full or old enough. */
  readonly put: (entries: ReadonlyArray<readonly [string, string]>) => Effect.Effect<void, StoreError>
  /** A row written but perhaps not yet committed. */
  readonly pending: (key: string) => string | undefined
  /** Commits every pending row now. */
  readonly flush: Effect.Effect<void, StoreError>
}

/**
 * Writes rows to a memo namespace in groups. Whatever is pending is also committed by a timer while rows keep
 * arriving slowly and when the scope closes, a failure or an interrupt included: an answer received is stored
 * whatever fails after it; only a kill of the whole process can lose the last `ms` of answers.
 */
export const memoWriter = (namespace: string, group: GroupCommit = defaultGroupCommit): Effect.Effect<MemoWriter, never, RowMemo | Scope.Scope> =>
  Effect.gen(function* () {
    const memo = yield* RowMemo
    const pending = new Map<string, string>()
    let last = Date.now()
    const flush = Effect.suspend(() => {
      last = Date.now()
      if (pending.size === 0) return Effect.void
      const entries = [...pending.entries()]
      return Effect.map(memo.putMany(namespace, entries), () => entries.forEach(([k, v]) => pending.get(k) === v && pending.delete(k)))
    })
    yield* Effect.addFinalizer(() => Effect.ignore(flush))
    yield* Effect.forkScoped(Effect.forever(Effect.zipRight(Effect.sleep(group.ms), Effect.ignore(flush))))
    return {
      put: (entries) =>
        Effect.suspend(() => {
          for (const [k, v] of entries) pending.set(k, v)
          return pending.size >= group.rows || Date.now() - last >= group.ms ? flush : Effect.void
        }),
      pending: (key) => pending.get(key),
      flush
    }
  })

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
  /** Batches computed at once (default 1: one after another). */
  readonly concurrency?: number
  /** Results worth keeping; the others (a failed request, say) are returned but not stored, so a rerun computes them again. */
  readonly keep?: (result: O) => boolean
  /** Called after each finished batch with the number of items now done (memo hits count as done). */
  readonly onProgress?: (done: number) => Effect.Effect<void>
}

/**
 * Maps items through the memo: hits are read back, misses computed in batches (`concurrency` at once) and committed
 * in groups as they finish (see `memoWriter`), so a crash or interrupt loses at most the answers of the last
 * fraction of a second. Results come back in item order.
 */
export const memoMap = <I, O, E, R>(
  options: MemoMapOptions<I, O, E, R>
): Effect.Effect<ReadonlyArray<O>, E | StoreError, R | RowMemo> =>
  Effect.scoped(
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
      const writer = yield* memoWriter(options.namespace)
      const batches: number[][] = []
      for (let start = 0; start < missing.length; start += options.batchSize) batches.push(missing.slice(start, start + options.batchSize))
      const keep = options.keep ?? (() => true)
      yield* Effect.forEach(
        batches,
        (idx) =>
          Effect.gen(function* () {
            const out = yield* options.compute(idx.map((i) => options.items[i]!))
            idx.forEach((i, j) => (results[i] = out[j]))
            yield* writer.put(idx.flatMap((i, j) => (keep(out[j]!) ? [[keys[i]!, JSON.stringify(out[j])] as const] : [])))
            done += idx.length
            if (options.onProgress) yield* options.onProgress(done)
          }),
        { concurrency: options.concurrency ?? 1, discard: true }
      )
      yield* writer.flush
      return results as ReadonlyArray<O>
    })
  )
