import { Cause, Deferred, Effect, Exit, Option } from "effect"
import type { ActionRecord, KeyComponents, OutputRecord } from "../cache/Actions"
import { deleteAction, getAction, getNodeState, putAction, putNodeState } from "../cache/Actions"
import { stableJson } from "../cache/Artifacts"
import type { CacheDir } from "../cache/CacheDir"
import { materializeFolder } from "../cache/Folders"
import { lockKey } from "../cache/Lock"
import { checkObject, getObject, putObject } from "../cache/Objects"
import { StoreNotices } from "../cache/Quarantine"
import type { Artifact, Loaded } from "./Artifact"
import { loadedOutputs } from "./Artifact"
import { StageError } from "./Errors"
import { CorruptObject, StoreError } from "../cache/StoreErrors"
import type { Graph, ResolvedNode } from "./Graph"
import { hashValue } from "../core/Key"
import { Progress } from "./Progress"
import { toolVersion } from "./ToolVersion"

/** How a stage was satisfied in a build. */
export type StageStatus = "executed" | "cached" | "cutoff"

/** The outcome of one node in a build. */
export interface NodeResult {
  readonly node: string
  readonly key: string
  readonly status: StageStatus
  readonly outputs: Readonly<Record<string, OutputRecord>>
  readonly outputsHash: string
  readonly rows: number
  readonly seconds: number
}

/** The outcome of a build: every node's result in topological order. */
export interface BuildResult {
  readonly root: NodeResult
  readonly nodes: ReadonlyArray<NodeResult>
}

/** The part of a stage key that can be computed once its inputs' outputs are known. */
export const keyComponents = (resolved: ResolvedNode, inputHashes: Readonly<Record<string, string>>): KeyComponents => ({
  stage: resolved.node.stage.name,
  version: resolved.node.stage.version,
  params: resolved.keyParams,
  inputs: inputHashes
})

/** The cache key of a stage: a hash of the canonical encoding of its components. */
export const stageKey = (components: KeyComponents): string => hashValue(["prefpipe/stage/1", components as never])

/** The content hash of a set of outputs: names, kinds and object hashes only. */
export const outputsHashOf = (outputs: Readonly<Record<string, OutputRecord>>): string =>
  hashValue(Object.fromEntries(Object.entries(outputs).map(([k, o]) => [k, [o.kind, o.hash]])))

// Arrow and Parquet load with the first table a build stores or reads: a build that finds every stage cached never needs them.
const tableCodecs = Effect.promise(() => import("../cache/TableCodecs"))

const rowsOf = (a: Artifact): number | null => (a._tag === "Table" || a._tag === "Matrix" ? a.table.numRows : null)

const storeArtifact = (artifact: Artifact): Effect.Effect<OutputRecord, StoreError, CacheDir> =>
  Effect.gen(function* () {
    if (artifact._tag === "Files") {
      const files: Record<string, { hash: string; size: number }> = {}
      for (const name of Object.keys(artifact.files).sort()) {
        const bytes = artifact.files[name]!
        files[name] = { hash: yield* putObject(bytes), size: bytes.byteLength }
      }
      const manifest = new TextEncoder().encode(stableJson(files))
      return { kind: "Files", hash: yield* putObject(manifest), size: manifest.byteLength, rows: null, files }
    }
    const bytes =
      artifact._tag === "Table"
        ? (yield* tableCodecs).encodeParquet(artifact.table)
        : artifact._tag === "Matrix"
          ? (yield* tableCodecs).encodeIpc(artifact.table)
          : new TextEncoder().encode(stableJson(artifact.value))
    return { kind: artifact._tag, hash: yield* putObject(bytes), size: bytes.byteLength, rows: rowsOf(artifact) }
  })

/** Reads one stored output back, verifying every object it touches (and a Files output's folder against its file hashes). */
export const loadOutput = (output: OutputRecord): Effect.Effect<Loaded, CorruptObject | StoreError, CacheDir> =>
  Effect.gen(function* () {
    if (output.kind === "Files") {
      return { _tag: "Files", dir: yield* materializeFolder(output.hash, output.files ?? {}), names: Object.keys(output.files ?? {}) } as const
    }
    const bytes = yield* getObject(output.hash)
    switch (output.kind) {
      case "Table":
        return { _tag: "Table", table: (yield* tableCodecs).decodeParquet(bytes) } as const
      case "Matrix":
        return { _tag: "Matrix", table: (yield* tableCodecs).decodeIpc(bytes) } as const
      case "Json":
        return { _tag: "Json", value: JSON.parse(new TextDecoder().decode(bytes)) as unknown } as const
    }
  })

/**
 * The first reason a recorded action's outputs cannot be reused, or undefined: every object present with its
 * recorded size or, when `full`, hashing to its name, and a Files output's folder intact. Damaged objects are moved
 * to the quarantine on the way.
 */
const unusableOutputs = (record: ActionRecord, full: boolean): Effect.Effect<CorruptObject | undefined, StoreError, CacheDir> =>
  Effect.gen(function* () {
    for (const o of Object.values(record.outputs)) {
      for (const { hash, size } of [o, ...Object.values(o.files ?? {})]) {
        const problem = yield* checkObject(hash, size, full)
        if (problem !== undefined) return problem
      }
      if (full && o.kind === "Files") {
        const folder = yield* materializeFolder(o.hash, o.files ?? {}).pipe(Effect.as(undefined), Effect.catchTag("CorruptObject", Effect.succeed))
        if (folder !== undefined) return folder
      }
    }
    return undefined
  })

const describeCause = (cause: Cause.Cause<unknown>): string => {
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) {
    const e = failure.value
    return e instanceof Error || (typeof e === "object" && e !== null && "message" in e)
      ? String((e as { message: unknown }).message)
      : String(e)
  }
  return Cause.pretty(cause).split("\n").slice(0, 6).join("\n")
}

/** Options of a build. */
export interface BuildOptions {
  /** How many stages may run at once. */
  readonly concurrency: number
  /** Rehash every cached stage's outputs before reusing them (by default only the root's; the others by size). */
  readonly verify?: boolean
}

/**
 * Builds a resolved graph: every stage whose key is in the cache is reused, the others run (at most `concurrency`
 * at once, each under a cross-process lock on its key so two builds never compute one stage twice), their outputs
 * are stored before their action is recorded, and a corrupt input object is reported, its producer rebuilt, and
 * the read retried. A failing stage fails the build only after independent branches have finished and been cached.
 * Whatever the store finds damaged on the way is reported through Progress, one line each.
 */
export const build = (
  graph: Graph,
  options: BuildOptions
): Effect.Effect<BuildResult, StageError | StoreError | CorruptObject, any> =>
  Effect.gen(function* () {
    const progress = yield* Progress
    const semaphore = yield* Effect.makeSemaphore(Math.max(1, options.concurrency))
    const deferreds = new Map<string, Deferred.Deferred<NodeResult, StageError | StoreError | CorruptObject>>()
    for (const id of graph.order) {
      deferreds.set(id, yield* Deferred.make<NodeResult, StageError | StoreError | CorruptObject>())
    }
    const results = new Map<string, NodeResult>()

    const loadInputs = (resolved: ResolvedNode) =>
      Effect.gen(function* () {
        const inputs: Record<string, ReturnType<typeof loadedOutputs>> = {}
        for (const [name, inputId] of Object.entries(resolved.inputs)) {
          const producer = results.get(inputId)!
          const loaded: Record<string, Loaded> = {}
          for (const [outName, record] of Object.entries(producer.outputs)) {
            loaded[outName] = yield* loadOutput(record)
          }
          inputs[name] = loadedOutputs(inputId, loaded)
        }
        return inputs
      })

    const execute = (resolved: ResolvedNode, components: KeyComponents, key: string) =>
      Effect.gen(function* () {
        const id = resolved.node.id
        const handle = yield* progress.start(id)
        const started = Date.now()
        const inputs = yield* loadInputs(resolved)
        const counters: Record<string, number> = {}
        const count = (values: Readonly<Record<string, number>>) => Effect.sync(() => void Object.assign(counters, values))
        const artifacts = yield* resolved.node.stage
          .run({ node: id, key, params: resolved.params, inputs, progress: handle, count })
          .pipe(
            Effect.provideService(StoreNotices, { note: (line) => progress.note(line.replace(/^! /, `! ${id}: `)) }),
            Effect.catchAllCause((cause) =>
              Cause.isInterruptedOnly(cause)
                ? Effect.failCause(cause as Cause.Cause<never>)
                : Effect.fail(new StageError({ node: id, reason: describeCause(cause) }))
            ),
            // A progress display must not keep showing a stage that is no longer running.
            Effect.onError((cause) => handle.finish(Cause.isInterruptedOnly(cause) ? "interrupted" : "failed"))
          )
        const outputs: Record<string, OutputRecord> = {}
        for (const name of Object.keys(artifacts).sort()) outputs[name] = yield* storeArtifact(artifacts[name]!)
        const outputsHash = outputsHashOf(outputs)
        const seconds = (Date.now() - started) / 1000
        const rows = Object.values(outputs).reduce((a, o) => a + (o.rows ?? 0), 0)
        const previous = yield* getNodeState(id)
        yield* putAction({
          key,
          node: id,
          components,
          inputNodes: Object.fromEntries(
            Object.entries(resolved.inputs).map(([k, v]) => [k, { node: v, key: results.get(v)!.key }])
          ),
          outputs,
          outputsHash,
          seconds,
          rows,
          ...(Object.keys(counters).length === 0 ? {} : { counters: Object.fromEntries(Object.entries(counters).sort(([a], [b]) => (a < b ? -1 : 1))) }),
          tool: toolVersion
        })
        const status: StageStatus =
          previous !== undefined && previous.key !== key && previous.outputsHash === outputsHash ? "cutoff" : "executed"
        yield* handle.finish(status)
        return { node: id, key, status, outputs, outputsHash, rows, seconds } satisfies NodeResult
      })

    /**
     * A usable cached action: all its objects present with their sizes, and rehashed for the root (whose outputs are
     * read next) or for every stage under `verify`.
     */
    const lookup = (id: string, key: string) =>
      Effect.gen(function* () {
        const record = yield* getAction(key)
        if (record === undefined) return undefined
        const problem = yield* unusableOutputs(record, options.verify === true || id === graph.root)
        if (problem === undefined) return record
        yield* progress.note(`! ${id}: ${problem.message}; the stage reruns`)
        yield* deleteAction(key)
        return undefined
      })

    const buildOne = (id: string): Effect.Effect<NodeResult, StageError | StoreError | CorruptObject, any> =>
      Effect.gen(function* () {
        const resolved = graph.nodes.get(id)!
        const inputHashes: Record<string, string> = {}
        for (const [name, inputId] of Object.entries(resolved.inputs)) {
          inputHashes[name] = (yield* Deferred.await(deferreds.get(inputId)!)).outputsHash
        }
        const components = keyComponents(resolved, inputHashes)
        const key = stageKey(components)
        const fromRecord = (record: ActionRecord): NodeResult => ({
          node: id,
          key,
          status: "cached",
          outputs: record.outputs,
          outputsHash: record.outputsHash,
          rows: record.rows,
          seconds: record.seconds
        })
        const cached = yield* lookup(id, key)
        const result: NodeResult =
          cached !== undefined
            ? fromRecord(cached)
            : yield* semaphore.withPermits(1)(
                Effect.scoped(
                  Effect.gen(function* () {
                    yield* lockKey(key, {
                      waiting: progress.note(`… ${id}: another build is computing this stage; waiting`),
                      takenOver: (owner) => progress.note(`… ${id}: took over the lock left by ${owner}; computing it here`)
                    })
                    const again = yield* lookup(id, key)
                    return again !== undefined ? fromRecord(again) : yield* execute(resolved, components, key)
                  })
                )
              )
        yield* putNodeState({ node: id, key, components, outputsHash: result.outputsHash })
        return result
      })

    /**
     * Runs a node; when an input object turns out damaged (it is in the quarantine by then), forgets the stage that
     * produced it, rebuilds that stage (repairing its own inputs the same way) and retries. Each retry follows a
     * damaged object being set aside, so it ends after at most one round per object the inputs hold.
     */
    const buildWithRepair = (id: string, rounds = 0): Effect.Effect<NodeResult, StageError | StoreError | CorruptObject, any> =>
      buildOne(id).pipe(
        Effect.catchTag("CorruptObject", (error) =>
          Effect.gen(function* () {
            const inputs = Object.values(graph.nodes.get(id)!.inputs)
            const producers = inputs.filter((inputId) =>
              Object.values(results.get(inputId)!.outputs).some(
                (o) => o.hash === error.hash || Object.values(o.files ?? {}).some((f) => f.hash === error.hash)
              )
            )
            const budget = inputs.reduce((a, i) => a + Object.values(results.get(i)!.outputs).reduce((b, o) => b + 1 + Object.keys(o.files ?? {}).length, 0), 0)
            if (producers.length === 0 || rounds >= budget) return yield* Effect.fail(error)
            yield* progress.note(`! ${id}: ${error.message}; rebuilding ${producers.join(", ")}`)
            for (const inputId of producers) {
              yield* deleteAction(results.get(inputId)!.key)
              results.set(inputId, yield* buildWithRepair(inputId))
            }
            return yield* buildWithRepair(id, rounds + 1)
          })
        )
      )

    const fibers = yield* Effect.forEach(graph.order, (id) =>
      Effect.fork(
        Effect.gen(function* () {
          const exit = yield* Effect.exit(buildWithRepair(id))
          if (Exit.isSuccess(exit)) results.set(id, exit.value)
          yield* Deferred.complete(deferreds.get(id)!, exit)
        })
      )
    )
    for (const fiber of fibers) yield* fiber.await
    const failures: Array<StageError | StoreError | CorruptObject> = []
    for (const id of graph.order) {
      const exit = yield* Deferred.await(deferreds.get(id)!).pipe(Effect.exit)
      if (Exit.isFailure(exit)) {
        const cause = exit.cause
        if (Cause.isInterruptedOnly(cause)) return yield* Effect.interrupt
        const failure = Cause.failureOption(cause)
        if (Option.isSome(failure) && !failures.includes(failure.value)) failures.push(failure.value)
        else if (Option.isNone(failure)) return yield* Effect.failCause(cause)
      }
    }
    if (failures.length > 0) return yield* Effect.fail(failures[0]!)
    return { root: results.get(graph.root)!, nodes: graph.order.map((id) => results.get(id)!) }
  }).pipe(Effect.provideServiceEffect(StoreNotices, Effect.map(Progress, (progress) => ({ note: progress.note }))))
