import { Effect, Either } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import type { StoreError } from "./StoreErrors"
import type { ActionRecord } from "./Actions"
import { tryFs } from "./AtomicFile"
import { readBuildLog, rewriteBuildLog } from "./Builds"
import { CacheDir, cachePaths, listSharded } from "./CacheDir"
import { checkFolder, checkManifest, type FileHashes, hashFile } from "./Folders"
import { checkMemo } from "./Memo"
import { moveToQuarantine } from "./Quarantine"
import { checkRecordText } from "./Records"

/** One damaged entry of the cache: what kind, its path in the cache, and why it fails. */
export interface Finding {
  readonly kind: "object" | "stage record" | "node state" | "build record" | "build log" | "folder" | "compiled graph" | "memo" | "memo row"
  readonly path: string
  readonly reason: string
}

/** What `cache verify` checked and found; `repaired` when the damage was moved to the quarantine. */
export interface VerifyReport {
  readonly checked: {
    readonly objects: number
    readonly stageRecords: number
    readonly nodeStates: number
    readonly buildRecords: number
    readonly folders: number
    readonly compiledGraphs: number
    readonly memoRows: number
  }
  readonly damaged: ReadonlyArray<Finding>
  readonly repaired: boolean
}

const rel = (root: string, file: string) => path.relative(root, file).split(path.sep).join("/")

const isHex64 = (s: string) => /^[0-9a-f]{64}$/.test(s)

/**
 * Walks the whole cache: rehashes every object against its name, checks every stage record, node state and build
 * record against its checksum (and a stage record's objects against the object scan), every materialized folder
 * against its recorded file hashes, every compiled graph against its manifest (contents rehashed), and the memo with
 * SQLite's integrity check and every row's checksum. With `repair`, each damaged entry is moved to `quarantine/`
 * (memo rows to `quarantine/memo-rows.jsonl`), so the next build recomputes what it stood for.
 */
export const verifyCache = (repair: boolean): Effect.Effect<VerifyReport, StoreError, CacheDir> =>
  Effect.gen(function* () {
    const { root } = yield* CacheDir
    const paths = cachePaths(root)
    return yield* tryFs(root, () => {
      const damaged: Finding[] = []
      const flag = (kind: Finding["kind"], files: ReadonlyArray<string>, reason: string) => {
        damaged.push({ kind, path: rel(root, files[0]!), reason })
        if (repair) for (const f of files) moveToQuarantine(root, f)
      }

      const objects = listSharded(paths.objects, "")
      const sizes = new Map<string, number>()
      for (const { name, file } of objects) {
        const actual = hashFile(file)
        if (actual === name) sizes.set(name, fs.statSync(file).size)
        else flag("object", [file], `content hashes to ${actual.slice(0, 12)}, not to its name`)
      }
      const objectProblem = (hash: string, size: number) =>
        !sizes.has(hash) ? `object ${hash.slice(0, 12)} is missing or damaged` : sizes.get(hash) !== size ? `object ${hash.slice(0, 12)} has another size` : undefined

      const records = <A>(files: ReadonlyArray<string>, kind: Finding["kind"], also?: (record: A) => string | undefined) => {
        for (const file of files) {
          const checked = checkRecordText<A>(fs.readFileSync(file, "utf8"))
          const problem = Either.isLeft(checked) ? checked.left : also?.(checked.right.value)
          if (problem !== undefined) flag(kind, [file], problem)
        }
        return files.length
      }
      const actions = listSharded(paths.actions, ".json").map((a) => a.file)
      records<ActionRecord>(actions, "stage record", (record) => {
        for (const [name, o] of Object.entries(record.outputs ?? {})) {
          for (const { hash, size } of [o, ...Object.values(o.files ?? {})]) {
            const problem = objectProblem(hash, size)
            if (problem !== undefined) return `output ${name}: ${problem}`
          }
        }
        return undefined
      })
      const jsonFiles = (dir: string) =>
        fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith(".json") && !f.includes(".tmp-")).map((f) => path.join(dir, f)) : []
      const nodeStates = records(jsonFiles(paths.nodes), "node state")
      const buildRecords = records(jsonFiles(paths.builds), "build record")
      const log = readBuildLog(root)
      if (log.bad > 0) {
        damaged.push({ kind: "build log", path: rel(root, paths.buildLog), reason: `${log.bad} of ${log.bad + log.entries.length} lines are not build entries` })
        if (repair) rewriteBuildLog(root, log.entries)
      }

      const folders = fs.existsSync(paths.dirs) ? fs.readdirSync(paths.dirs).filter((d) => isHex64(d)) : []
      for (const hash of folders) {
        const dir = path.join(paths.dirs, hash)
        if (!sizes.has(hash)) {
          flag("folder", [dir], `its manifest object ${hash.slice(0, 12)} is missing or damaged`)
          continue
        }
        const files = JSON.parse(fs.readFileSync(path.join(paths.objects, hash.slice(0, 2), hash.slice(2)), "utf8")) as FileHashes
        const problem = checkFolder(dir, files)
        if (problem !== undefined) flag("folder", [dir], problem)
      }

      const graphs = fs.existsSync(paths.compiled) ? fs.readdirSync(paths.compiled).filter((f) => f.endsWith(".onnx")) : []
      for (const graph of graphs) {
        const file = path.join(paths.compiled, graph)
        const manifest = path.join(paths.compiled, `${graph.slice(0, -".onnx".length)}.json`)
        const problem = checkManifest(manifest, paths.compiled, true)
        if (problem !== undefined) flag("compiled graph", [file, `${file}.data`, manifest], problem)
      }

      const memo = checkMemo(root, repair)
      if (memo.damagedFile !== undefined) damaged.push({ kind: "memo", path: rel(root, paths.memo), reason: memo.damagedFile })
      for (const row of memo.damagedRows) damaged.push({ kind: "memo row", path: `${row.namespace} ${row.key.slice(0, 16)}`, reason: row.reason })

      return {
        checked: {
          objects: objects.length,
          stageRecords: actions.length,
          nodeStates,
          buildRecords,
          folders: folders.length,
          compiledGraphs: graphs.length,
          memoRows: memo.rows
        },
        damaged,
        repaired: repair && damaged.length > 0
      }
    })
  })
