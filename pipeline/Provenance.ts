import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { getAction, listActions, type ActionRecord } from "../cache/Actions"
import { getBuild, listBuilds, type BuildRecord } from "../cache/Builds"
import { CacheDir } from "../cache/CacheDir"
import { RowMemo } from "../cache/Memo"
import { buildTarget, type ConfigSpec } from "./BuildTarget"
import { UnknownHash } from "./Errors"
import { StoreError } from "../cache/StoreErrors"

/** A build or a stage action, found by a full hash or an unambiguous prefix of at least 6 characters. */
export const findHash = (
  hash: string
): Effect.Effect<{ readonly build: BuildRecord } | { readonly action: ActionRecord }, UnknownHash | StoreError, CacheDir> =>
  Effect.gen(function* () {
    if (!/^[0-9a-f]{6,64}$/.test(hash)) {
      return yield* new UnknownHash({ hash, reason: "not a hash (expected at least 6 lowercase hex characters)" })
    }
    const builds = (yield* listBuilds()).filter((b) => b.startsWith(hash))
    const actions = (yield* listActions()).filter((k) => k.startsWith(hash))
    const all = [...builds.map((b) => ({ b })), ...actions.map((a) => ({ a }))]
    if (all.length === 0) return yield* new UnknownHash({ hash, reason: "no build or stage with this hash in the cache" })
    if (all.length > 1) return yield* new UnknownHash({ hash, reason: `ambiguous: ${all.length} matches; give more characters` })
    if (builds.length === 1) {
      const build = yield* getBuild(builds[0]!)
      if (build !== undefined) return { build }
    }
    const action = yield* getAction(actions[0]!)
    if (action === undefined) return yield* new UnknownHash({ hash, reason: "the record disappeared while reading it" })
    return { action }
  })

const fmtParams = (params: unknown): string => {
  const s = JSON.stringify(params)
  return s.length > 160 ? `${s.slice(0, 157)}...` : s
}

/** `name value` pairs of a stage's counters, thousands separated. */
const formatCounters = (counters: Readonly<Record<string, number>>): string =>
  Object.entries(counters).map(([k, v]) => `${k} ${Number.isInteger(v) ? v.toLocaleString("en-US") : v.toFixed(2)}`).join(", ")

/** A stage's provenance as an indented tree: stage, parameters, outputs, inputs recursively. */
const actionTree = (record: ActionRecord, indent: string, seen: Set<string>): Effect.Effect<string[], StoreError, CacheDir> =>
  Effect.gen(function* () {
    const lines = [
      `${indent}${record.node}  key ${record.key.slice(0, 16)}  ${record.rows} rows  ${record.seconds.toFixed(2)}s  (${record.components.stage} v${record.components.version}, prefpipe ${record.tool.prefpipe}, node ${record.tool.node})`,
      `${indent}  params ${fmtParams(record.components.params)}`,
      ...(record.counters === undefined ? [] : [`${indent}  counts ${formatCounters(record.counters)}`]),
      ...Object.entries(record.outputs).map(
        ([n, o]) => `${indent}  output ${n}: ${o.kind} ${o.hash.slice(0, 16)} ${o.size} bytes${o.rows === null ? "" : `, ${o.rows} rows`}`
      )
    ]
    for (const [name, input] of Object.entries(record.inputNodes)) {
      lines.push(`${indent}  input ${name} <- ${input.node} (output ${record.components.inputs[name]?.slice(0, 16)})`)
      if (seen.has(input.key)) continue
      seen.add(input.key)
      const upstream = yield* getAction(input.key)
      if (upstream === undefined) lines.push(`${indent}    (no longer in the cache)`)
      else lines.push(...(yield* actionTree(upstream, `${indent}    `, seen)))
    }
    return lines
  })

/** `pipeline show`: the provenance of a build or stage as text. */
export const showHash = (hash: string) =>
  Effect.gen(function* () {
    const found = yield* findHash(hash)
    if ("build" in found) {
      const b = found.build
      const root = yield* getAction(b.root.key)
      const records = yield* Effect.forEach(b.stages, (s) => getAction(s.key))
      const sum = (name: string) => records.reduce((a, r) => a + (r?.counters?.[name] ?? 0), 0)
      const counted = records.filter((r) => r?.counters?.prompt_tokens !== undefined).length
      const head = [
        `build ${b.build}`,
        `  target ${b.target}  (config ${b.configFile}, ${b.stages.length} stages, prefpipe ${b.tool.prefpipe}, node ${b.tool.node})`,
        ...(counted === 0 ? [] : [`  tokens ${formatCounters({ prompt_tokens: sum("prompt_tokens"), completion_tokens: sum("completion_tokens") })} over ${counted} model stages`])
      ]
      return [...head, ...(root === undefined ? ["  (root stage no longer in the cache)"] : yield* actionTree(root, "  ", new Set()))].join("\n")
    }
    return (yield* actionTree(found.action, "", new Set())).join("\n")
  })

/** The outcome of reproducing a build: for every stage, the recorded and the reproduced output hash. */
export interface ReproduceReport {
  readonly build: string
  readonly target: string
  readonly reproducedBuild: string
  readonly identical: boolean
  readonly stages: ReadonlyArray<{ readonly stage: string; readonly recorded: string; readonly reproduced: string | null; readonly match: boolean }>
}

/**
 * Rebuilds a recorded build from its config snapshot alone. By default every stage is recomputed in a fresh
 * scratch cache (a true reproduction); `reuseCache` rebuilds in the current cache instead, rehashing every output it
 * reuses (a damaged one is set aside and its stage recomputed, so the comparison never rests on unread bytes).
 */
export const reproduce = <C>(build: string, spec: ConfigSpec<C>, options: { readonly concurrency: number; readonly reuseCache: boolean; readonly root?: string }) =>
  Effect.gen(function* () {
    const found = yield* findHash(build)
    if (!("build" in found)) return yield* new UnknownHash({ hash: build, reason: "is a stage key, not a build" })
    const record = found.build
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "prefpipe-reproduce-"))
    const run = buildTarget({
      target: record.target,
      spec,
      config: { snapshot: record.config, file: record.configFile },
      concurrency: options.concurrency,
      verify: options.reuseCache,
      outRoot: path.join(scratch, "out"),
      ...(options.root === undefined ? {} : { root: options.root })
    })
    const isolated = run.pipe(
      Effect.provide(RowMemo.layerSqlite),
      Effect.provide(CacheDir.layer(path.join(scratch, "cache")))
    )
    const rebuilt = yield* (options.reuseCache ? run : isolated).pipe(
      Effect.ensuring(Effect.sync(() => fs.rmSync(scratch, { recursive: true, force: true })))
    )
    const produced = new Map(rebuilt.result.nodes.map((n) => [n.node, n.outputsHash]))
    const stages = record.stages.map((s) => {
      const reproduced = produced.get(s.node) ?? null
      return { stage: s.node, recorded: s.outputsHash, reproduced, match: reproduced === s.outputsHash }
    })
    return {
      build: record.build,
      target: record.target,
      reproducedBuild: rebuilt.build,
      identical: stages.every((s) => s.match) && rebuilt.build === record.build,
      stages
    } satisfies ReproduceReport
  })
