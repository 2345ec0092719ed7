import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import type { Keyable } from "../core/Key"
import { sha256 } from "../core/Key"
import type { StoreError } from "./StoreErrors"
import { tryFs } from "./AtomicFile"
import { CacheDir, cachePaths, listSharded } from "./CacheDir"
import { readRecord, restateRecord, writeRecord } from "./Records"

/** One stored output of a stage: its kind, content hash, size and row count; a Files output lists its files. */
export interface OutputRecord {
  readonly kind: "Table" | "Matrix" | "Json" | "Files"
  readonly hash: string
  readonly size: number
  readonly rows: number | null
  readonly files?: Readonly<Record<string, { readonly hash: string; readonly size: number }>>
}

/** Everything that went into a stage's key. */
export interface KeyComponents {
  readonly stage: string
  readonly version: number
  readonly params: Keyable
  readonly inputs: Readonly<Record<string, string>>
}

/** What the cache knows of one executed stage: its key, what went in, what came out, and how long it took. */
export interface ActionRecord {
  readonly key: string
  readonly node: string
  readonly components: KeyComponents
  readonly inputNodes: Readonly<Record<string, { readonly node: string; readonly key: string }>>
  readonly outputs: Readonly<Record<string, OutputRecord>>
  readonly outputsHash: string
  readonly seconds: number
  readonly rows: number
  /** Counts the stage recorded while it ran (tokens, requests, retries); absent when it recorded none. */
  readonly counters?: Readonly<Record<string, number>>
  readonly tool: { readonly prefpipe: string; readonly node: string }
}

/** The last state seen for a node id, used to explain why a stage reruns and to detect early cutoff. */
export interface NodeState {
  readonly node: string
  readonly key: string
  readonly components: KeyComponents
  readonly outputsHash: string
}

const nodePath = (root: string, node: string) => path.join(cachePaths(root).nodes, `${sha256(node)}.json`)

const actionPath = (root: string, key: string) => path.join(cachePaths(root).actions, key.slice(0, 2), `${key.slice(2)}.json`)

/** The action recorded under a key, if any; a damaged record is set aside and reads as absent (the stage reruns). */
export const getAction = (key: string): Effect.Effect<ActionRecord | undefined, StoreError, CacheDir> =>
  Effect.flatMap(CacheDir, ({ root }) => readRecord<ActionRecord>(actionPath(root, key), "the stage reruns"))

/** Records an action atomically with its checksum; called only after all its outputs are stored. */
export const putAction = (record: ActionRecord): Effect.Effect<void, StoreError, CacheDir> =>
  Effect.flatMap(CacheDir, ({ root }) => writeRecord(actionPath(root, record.key), record))

/** Forgets an action (its outputs were found corrupt, or garbage collection). */
export const deleteAction = (key: string): Effect.Effect<void, StoreError, CacheDir> =>
  Effect.flatMap(CacheDir, ({ root }) => {
    const file = actionPath(root, key)
    return tryFs(file, () => fs.rmSync(file, { force: true }))
  })

/** Every action key in the cache. */
export const listActions = (): Effect.Effect<string[], StoreError, CacheDir> =>
  Effect.flatMap(CacheDir, ({ root }) => {
    const dir = cachePaths(root).actions
    return tryFs(dir, () => listSharded(dir, ".json").map((a) => a.name))
  })

/** The last recorded state of a node id; a damaged one reads as absent (only plans and cutoff reports use it). */
export const getNodeState = (node: string): Effect.Effect<NodeState | undefined, StoreError, CacheDir> =>
  Effect.flatMap(CacheDir, ({ root }) => readRecord<NodeState>(nodePath(root, node), "the stage's last state is forgotten"))

/** Records the state of a node id after it was built or found cached. */
export const putNodeState = (state: NodeState): Effect.Effect<void, StoreError, CacheDir> =>
  Effect.flatMap(CacheDir, ({ root }) => restateRecord(nodePath(root, state.node), state))
