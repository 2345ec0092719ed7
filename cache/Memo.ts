import Database from "better-sqlite3"
import { Context, Effect, Layer, Schedule, type Scope } from "effect"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { StoreError } from "./StoreErrors"
import { hashValue, type Keyable } from "../core/Key"
import { CacheDir, cachePaths } from "./CacheDir"
import { damageLine, moveToQuarantine, notice, quarantineRows } from "./Quarantine"

/** Reads a stored value back; throws when the text is not a value of the expected form. */
export type MemoDecode<A> = (value: string) => A

/**
 * The row-level memo: finished per-item results of expensive work (model calls), committed as they finish, so an
 * interrupted stage resumes from them and adding rows computes only the new ones. Values are strings, each stored
 * with a checksum of its namespace, key and value; a row that fails it, or that `decode` rejects, is never
 * returned: it goes to `quarantine/memo-rows.jsonl`, leaves the memo, and one line per call says how many.
 */
export class RowMemo extends Context.Tag("prefpipe/RowMemo")<
  RowMemo,
  {
    readonly getMany: <A = string>(
      namespace: string,
      keys: ReadonlyArray<string>,
      decode?: MemoDecode<A>
    ) => Effect.Effect<ReadonlyMap<string, A>, StoreError>
    readonly putMany: (
      namespace: string,
      entries: ReadonlyArray<readonly [string, string]>
    ) => Effect.Effect<void, StoreError>
    readonly count: () => Effect.Effect<{ readonly rows: number; readonly namespaces: number }, StoreError>
  }
>() {
  /**
   * An SQLite memo (WAL, synchronous FULL: a committed row survives a crash) in the cache folder. A file that is not
   * a database, or whose pages are damaged, is moved to the quarantine with one line and a fresh memo takes its
   * place (its rows are recomputed as stages ask for them).
   */
  static readonly layerSqlite = Layer.scoped(
    RowMemo,
    Effect.gen(function* () {
      const { root } = yield* CacheDir
      const file = cachePaths(root).memo
      const fail = (e: unknown) => new StoreError({ path: file, reason: e instanceof Error ? e.message : String(e) })
      let conn: Connection | undefined
      const replaceDamaged = (reason: string) =>
        Effect.gen(function* () {
          const damaged = conn
          conn = undefined
          const kept = yield* Effect.try({ try: () => setAsideDatabase(root, file, damaged), catch: fail })
          yield* notice(damageLine("memo.sqlite", reason, kept, "a fresh memo takes its place; rows are recomputed as stages ask for them"))
        })
      const connection = (): Effect.Effect<Connection, StoreError> =>
        conn !== undefined
          ? Effect.succeed(conn)
          : Effect.suspend(() => {
              try {
                return Effect.succeed((conn = openMemo(file)))
              } catch (e) {
                if (!isDamagedDatabase(e)) return Effect.fail(fail(e))
                return Effect.zipRight(replaceDamaged(reasonOf(e)), Effect.try({ try: () => (conn = openMemo(file)), catch: fail }))
              }
            })
      /** Runs an operation; if SQLite finds the file damaged, it is set aside, a fresh memo opened, and the operation retried once. */
      const guarded = <A>(op: (c: Connection) => A): Effect.Effect<A, StoreError> =>
        Effect.flatMap(connection(), (c) => {
          try {
            return Effect.succeed(op(c))
          } catch (e) {
            if (!isDamagedDatabase(e)) return Effect.fail(fail(e))
            return Effect.zipRight(
              replaceDamaged(reasonOf(e)),
              Effect.flatMap(connection(), (fresh) => Effect.try({ try: () => op(fresh), catch: fail }))
            )
          }
        })
      // Two processes opening a new cache at once can meet SQLITE_BUSY while one switches the file to WAL.
      yield* Effect.acquireRelease(
        connection().pipe(Effect.retry(Schedule.intersect(Schedule.spaced("100 millis"), Schedule.recurs(50)))),
        () => Effect.sync(() => conn?.db.close())
      )
      return {
        getMany: <A = string>(namespace: string, keys: ReadonlyArray<string>, decode?: MemoDecode<A>) =>
          Effect.gen(function* () {
            const { found, damaged } = yield* guarded((c) => readRows(c, namespace, keys, decode ?? ((v) => v as A)))
            if (damaged.length > 0) {
              yield* guarded((c) => c.removeAll(namespace, damaged.map((d) => d.key)))
              const kept = yield* Effect.try({ try: () => quarantineRows(root, damaged.map((d) => ({ namespace, ...d }))), catch: fail })
              const where = namespace.replace(/[0-9a-f]{64}/g, (h) => `${h.slice(0, 12)}…`)
              yield* notice(
                `! damaged memo rows: ${damaged.length} of ${where} ${damaged.length === 1 ? "fails its checksum or does not decode" : "fail their checksum or do not decode"}; kept in ${kept}; recomputing them`
              )
            }
            return found
          }),
        putMany: (namespace, entries) => guarded((c) => c.insertAll(namespace, entries)),
        count: () =>
          guarded(
            (c) =>
              c.db.prepare("SELECT count(*) AS rows, count(DISTINCT namespace) AS namespaces FROM memo").get() as {
                rows: number
                namespaces: number
              }
          )
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
      getMany: <A = string>(namespace: string, keys: ReadonlyArray<string>, decode?: MemoDecode<A>) =>
        Effect.sync(() => {
          const out = new Map<string, A>()
          for (const k of keys) {
            const v = ns(namespace).get(k)
            if (v !== undefined) out.set(k, decode === undefined ? (v as A) : decode(v))
          }
          return out as ReadonlyMap<string, A>
        }),
      putMany: (namespace, entries) => Effect.sync(() => entries.forEach(([k, v]) => ns(namespace).set(k, v))),
      count: () =>
        Effect.sync(() => ({ rows: [...data.values()].reduce((a, m) => a + m.size, 0), namespaces: data.size }))
    }
  })
}

/** The checksum a memo row carries: sha256 over its namespace, key and value, length-delimited, 128 bits in hex. */
export const rowChecksum = (namespace: string, key: string, value: string): string =>
  createHash("sha256").update(`${namespace.length}:${namespace};${key.length}:${key};`).update(value).digest("hex").slice(0, 32)

interface Connection {
  readonly db: Database.Database
  /** The inode the file had when opened: a damaged file is set aside only if another process has not already. */
  readonly ino: number
  readonly select: Database.Statement<[string, string], { key: string; value: unknown; checksum: unknown }>
  readonly insertAll: (namespace: string, entries: ReadonlyArray<readonly [string, string]>) => void
  readonly removeAll: (namespace: string, keys: ReadonlyArray<string>) => void
}

const isDamagedDatabase = (e: unknown): boolean => {
  const code = (e as { code?: unknown }).code
  return typeof code === "string" && (code.startsWith("SQLITE_CORRUPT") || code === "SQLITE_NOTADB")
}

const reasonOf = (e: unknown) => (e instanceof Error ? e.message : String(e))

/**
 * Opens (creating when absent) the memo database. A memo written before rows carried checksums is upgraded in
 * place: its rows are checksummed as they are, once, inside one transaction.
 */
const openMemo = (file: string): Connection => {
  fs.mkdirSync(path.dirname(file), { recursive: true })
  const db = new Database(file, { timeout: 60_000 })
  try {
    db.pragma("journal_mode = WAL")
    db.pragma("synchronous = FULL")
    db.exec(
      "CREATE TABLE IF NOT EXISTS memo (namespace TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, checksum TEXT, PRIMARY KEY (namespace, key)) WITHOUT ROWID"
    )
    const hasChecksum = () => (db.pragma("table_info(memo)") as Array<{ name: string }>).some((c) => c.name === "checksum")
    if (!hasChecksum()) {
      db.function("memo_checksum", { deterministic: true }, (ns, key, value) => rowChecksum(String(ns), String(key), String(value)))
      db.transaction(() => {
        if (hasChecksum()) return
        db.exec("ALTER TABLE memo ADD COLUMN checksum TEXT")
        db.exec("UPDATE memo SET checksum = memo_checksum(namespace, key, value)")
      }).immediate()
    }
    const insert = db.prepare("INSERT OR REPLACE INTO memo (namespace, key, value, checksum) VALUES (?, ?, ?, ?)")
    const remove = db.prepare("DELETE FROM memo WHERE namespace = ? AND key = ?")
    return {
      db,
      ino: fs.statSync(file).ino,
      select: db.prepare("SELECT key, value, checksum FROM memo WHERE namespace = ? AND key = ?"),
      insertAll: db.transaction((ns: string, entries: ReadonlyArray<readonly [string, string]>) => {
        for (const [k, v] of entries) insert.run(ns, k, v, rowChecksum(ns, k, v))
      }),
      removeAll: db.transaction((ns: string, keys: ReadonlyArray<string>) => {
        for (const k of keys) remove.run(ns, k)
      })
    }
  } catch (e) {
    db.close()
    throw e
  }
}

/** Moves a damaged memo database (and its WAL files) to the quarantine unless another process already replaced it. */
const setAsideDatabase = (root: string, file: string, open: Connection | undefined): string | undefined => {
  try {
    open?.db.close()
  } catch {
    // closing a damaged database can fail; the file is set aside either way
  }
  const current = fs.existsSync(file) ? fs.statSync(file).ino : undefined
  if (current === undefined || (open !== undefined && current !== open.ino)) return undefined
  const kept = moveToQuarantine(root, file)
  for (const suffix of ["-wal", "-shm"]) moveToQuarantine(root, file + suffix)
  return kept
}

/** Looks keys up, separating rows that verify and decode from damaged ones. */
const readRows = <A>(c: Connection, namespace: string, keys: ReadonlyArray<string>, decode: MemoDecode<A>) => {
  const found = new Map<string, A>()
  const damaged: Array<{ key: string; value: unknown; reason: string }> = []
  for (const k of keys) {
    const row = c.select.get(namespace, k)
    if (row === undefined) continue
    if (row.key !== k || typeof row.value !== "string" || row.checksum !== rowChecksum(namespace, k, row.value)) {
      damaged.push({ key: k, value: row.value, reason: "checksum does not match" })
      continue
    }
    try {
      found.set(k, decode(row.value))
    } catch (e) {
      damaged.push({ key: k, value: row.value, reason: `does not decode: ${e instanceof Error ? e.name : "error"}` })
    }
  }
  return { found, damaged }
}

/** What checking every memo row found: rows read, and the damaged ones (or the whole file when SQLite rejects it). */
export interface MemoCheck {
  readonly rows: number
  readonly damagedFile: string | undefined
  readonly damagedRows: ReadonlyArray<{ readonly namespace: string; readonly key: string; readonly reason: string }>
}

/**
 * Checks the memo without changing it: SQLite's integrity check, then every row's checksum. With `repair`, a damaged
 * file is moved to the quarantine (the next build starts a fresh one) and damaged rows are moved to
 * `quarantine/memo-rows.jsonl` and deleted.
 */
export const checkMemo = (root: string, repair: boolean): MemoCheck => {
  const file = cachePaths(root).memo
  if (!fs.existsSync(file)) return { rows: 0, damagedFile: undefined, damagedRows: [] }
  let db: Database.Database | undefined
  try {
    db = new Database(file, { fileMustExist: true, timeout: 60_000 })
    const integrity = (db.pragma("integrity_check") as Array<{ integrity_check: string }>).map((r) => r.integrity_check)
    if (integrity.join() !== "ok") throw Object.assign(new Error(`integrity check: ${integrity.slice(0, 3).join("; ")}`), { code: "SQLITE_CORRUPT" })
    const columns = (db.pragma("table_info(memo)") as Array<{ name: string }>).map((c) => c.name)
    if (!columns.includes("checksum")) return { rows: (db.prepare("SELECT count(*) AS n FROM memo").get() as { n: number }).n, damagedFile: undefined, damagedRows: [] }
    let rows = 0
    const damaged: Array<{ namespace: string; key: string; value: unknown; reason: string }> = []
    for (const row of db.prepare("SELECT namespace, key, value, checksum FROM memo").iterate() as IterableIterator<{ namespace: string; key: string; value: unknown; checksum: unknown }>) {
      rows++
      if (typeof row.value !== "string" || row.checksum !== rowChecksum(row.namespace, row.key, row.value)) {
        damaged.push({ namespace: row.namespace, key: row.key, value: row.value, reason: "checksum does not match" })
      }
    }
    if (repair && damaged.length > 0) {
      quarantineRows(root, damaged)
      const remove = db.prepare("DELETE FROM memo WHERE namespace = ? AND key = ?")
      db.transaction(() => damaged.forEach((d) => remove.run(d.namespace, d.key)))()
    }
    return { rows, damagedFile: undefined, damagedRows: damaged.map(({ namespace, key, reason }) => ({ namespace, key, reason })) }
  } catch (e) {
    if (!isDamagedDatabase(e)) throw e
    db?.close()
    db = undefined
    if (repair) setAsideDatabase(root, file, undefined)
    return { rows: 0, damagedFile: reasonOf(e), damagedRows: [] }
  } finally {
    db?.close()
  }
}

/** When buffered memo rows are committed: at `rows` pending, or once `ms` have passed since the last commit. */
export interface GroupCommit {
  readonly rows: number
  readonly ms: number
}

/**
 * Every 250 ms or 1,024 rows: a commit costs an fsync (5-6 ms here), so one per row would cap a stage near 200 rows/s,
 * while each row costs a page of the write-ahead log anyway (its key is a hash, so rows land on scattered pages).
 */
export const defaultGroupCommit: GroupCommit = { rows: 1024, ms: 250 }

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
    if (group.rows > 1 && group.ms > 0) yield* Effect.forkScoped(Effect.forever(Effect.zipRight(Effect.sleep(group.ms), Effect.ignore(flush))))
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
 * Maps items through the memo: hits are read back, misses computed in batches and committed as they finish. One
 * batch at a time (a local model), each batch is committed before the next starts, so a crash loses at most the
 * batch in flight; with `concurrency` batches at once (requests to servers) rows are committed in groups (see
 * `memoWriter`), and a crash loses at most the answers of the last quarter of a second. Results come back in item order.
 */
export const memoMap = <I, O, E, R>(
  options: MemoMapOptions<I, O, E, R>
): Effect.Effect<ReadonlyArray<O>, E | StoreError, R | RowMemo> =>
  Effect.scoped(
    Effect.gen(function* () {
      const memo = yield* RowMemo
      const keys = options.items.map((item) => hashValue(options.key(item)))
      const found = yield* memo.getMany(options.namespace, keys, (v) => JSON.parse(v) as O)
      const results: Array<O | undefined> = keys.map((k) => found.get(k))
      const missing = results.flatMap((r, i) => (r === undefined ? [i] : []))
      let done = options.items.length - missing.length
      if (options.onProgress) yield* options.onProgress(done)
      const concurrency = options.concurrency ?? 1
      const writer = yield* memoWriter(options.namespace, concurrency <= 1 ? { rows: 1, ms: 0 } : defaultGroupCommit)
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
        { concurrency, discard: true }
      )
      yield* writer.flush
      return results as ReadonlyArray<O>
    })
  )
