import { Effect } from "effect"
import { getAction, getNodeState, type KeyComponents } from "../cache/Actions"
import type { CacheDir } from "../cache/CacheDir"
import type { StoreError } from "../cache/StoreErrors"
import { keyComponents, stageKey } from "./Build"
import type { Graph } from "./Graph"
import { diffValues } from "../core/Key"

/** Why a stage would run, one reason per changed part of its key. */
export type Reason =
  | { readonly kind: "new"; readonly detail: string }
  | { readonly kind: "version"; readonly before: number; readonly after: number }
  | { readonly kind: "param"; readonly path: string; readonly before: unknown; readonly after: unknown }
  | { readonly kind: "input"; readonly input: string; readonly upstream: string; readonly detail: string }
  | { readonly kind: "missing"; readonly detail: string }

/** The plan for one stage. */
export interface PlannedStage {
  readonly stage: string
  /** The key when every input's output is already known; null when an upstream stage must run first. */
  readonly key: string | null
  readonly run: boolean
  readonly reasons: ReadonlyArray<Reason>
}

const segments = (p: string): string[] => p.match(/\[\d+\]|[^.[\]]+/g) ?? []
const segmentName = (segment: string) => (segment.startsWith("[") ? segment.slice(1, -1) : segment)

/**
 * Where a changed parameter sits in the config: the longest `configPaths` key (a parameter path such as `template` or
 * `personas.0.system`) that the parameter's path starts with is replaced by its config path, the rest kept as it is;
 * unmapped paths stay as they are.
 */
export const configPathOf = (configPaths: Readonly<Record<string, string>> | undefined, paramPath: string): string => {
  const path = segments(paramPath)
  const best = Object.entries(configPaths ?? {})
    .map(([key, mapped]) => ({ names: segments(key).map(segmentName), mapped }))
    .filter(({ names }) => names.length <= path.length && names.every((n, i) => segmentName(path[i]!) === n))
    .sort((a, b) => b.names.length - a.names.length)[0]
  if (best === undefined) return paramPath
  return best.mapped + path.slice(best.names.length).map((s) => (s.startsWith("[") ? s : `.${s}`)).join("")
}

/** Compares the current key components with the ones recorded last time for the same stage instance. */
const explain = (
  configPaths: Readonly<Record<string, string>> | undefined,
  before: KeyComponents,
  after: KeyComponents,
  inputNodes: Readonly<Record<string, string>>,
  pending: ReadonlySet<string>
): Reason[] => {
  const reasons: Reason[] = []
  if (before.version !== after.version) reasons.push({ kind: "version", before: before.version, after: after.version })
  for (const change of diffValues(before.params, after.params)) {
    reasons.push({ kind: "param", path: configPathOf(configPaths, change.path), before: change.before, after: change.after })
  }
  for (const name of [...new Set([...Object.keys(before.inputs), ...Object.keys(after.inputs)])].sort()) {
    const upstream = inputNodes[name] ?? "(removed)"
    if (pending.has(upstream)) {
      reasons.push({ kind: "input", input: name, upstream, detail: "upstream stage will run; reruns if its output changes" })
    } else if (before.inputs[name] !== after.inputs[name]) {
      reasons.push({ kind: "input", input: name, upstream, detail: "upstream output changed" })
    }
  }
  return reasons
}

/** What a build would do, and why, without running anything. */
export const plan = (graph: Graph): Effect.Effect<ReadonlyArray<PlannedStage>, StoreError, CacheDir> =>
  Effect.gen(function* () {
    const outputs = new Map<string, string>()
    const pending = new Set<string>()
    const planned: PlannedStage[] = []
    for (const id of graph.order) {
      const resolved = graph.nodes.get(id)!
      const previous = yield* getNodeState(id)
      const blocked = Object.values(resolved.inputs).filter((i) => pending.has(i))
      const inputHashes = Object.fromEntries(
        Object.entries(resolved.inputs).map(([name, inputId]) => [name, outputs.get(inputId) ?? "(pending)"])
      )
      const components = keyComponents(resolved, inputHashes)
      const key = blocked.length === 0 ? stageKey(components) : null
      const record = key === null ? undefined : yield* getAction(key)
      if (record !== undefined) {
        outputs.set(id, record.outputsHash)
        planned.push({ stage: id, key, run: false, reasons: [] })
        continue
      }
      pending.add(id)
      const reasons: Reason[] =
        previous === undefined
          ? [{ kind: "new", detail: "never built in this cache" }]
          : explain(resolved.node.configPaths, previous.components, components, resolved.inputs, pending)
      if (reasons.length === 0) {
        reasons.push({ kind: "missing", detail: "same key as last build, but its outputs are no longer in the cache" })
      }
      planned.push({ stage: id, key, run: true, reasons })
    }
    return planned
  })

/** One line per reason, for people. */
export const formatReason = (r: Reason): string => {
  switch (r.kind) {
    case "new":
      return r.detail
    case "version":
      return `code version ${r.before} -> ${r.after}`
    case "param":
      return `parameter ${r.path} changed: ${short(r.before)} -> ${short(r.after)}`
    case "input":
      return `input ${r.input} (${r.upstream}): ${r.detail}`
    case "missing":
      return r.detail
  }
}

const short = (v: unknown): string => {
  const s = JSON.stringify(v) ?? "undefined"
  return s.length > 60 ? `${s.slice(0, 57)}...` : s
}
