import { Cause, Deferred, Effect, Exit, Option } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import type { ActionRecord, KeyComponents, OutputRecord } from "../cache/Actions"
import { deleteAction, getAction, getNodeState, putAction, putNodeState } from "../cache/Actions"
import { stableJson } from "../cache/Artifacts"
import { tryFs } from "../cache/AtomicFile"
import { CacheDir, cachePaths } from "../cache/CacheDir"
import { lockKey } from "../cache/Lock"
import { deleteObject, getObject, hasObject, objectPath, putObject } from "../cache/Objects"
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

/** Materializes a Files output as a folder of hard links (copies across devices) to verified objects. */
const materializeFiles = (output: OutputRecord): Effect.Effect<string, CorruptObject | StoreError, CacheDir> =>
  Effect.gen(function* () {
    const { root } = yield* CacheDir
    const dir = path.join(cachePaths(root).dirs, output.hash)
    const marker = path.join(dir, ".complete")
    if (fs.existsSync(marker)) return dir
    const tmp = `${dir}.tmp-${process.pid}`
    yield* tryFs(tmp, () => fs.rmSync(tmp, { recursive: true, force: true }))
    for (const [name, file] of Object.entries(output.files ?? {})) {
      yield* getObject(file.hash)
      const target = path.join(tmp, name)
      yield* tryFs(target, () => {
        fs.mkdirSync(path.dirname(target), { recursive: true })
        try {
          fs.linkSync(objectPath(root, file.hash), target)
        } catch {
          fs.copyFileSync(objectPath(root, file.hash), target)
        }
      })
    }
    yield* tryFs(dir, () => {
      fs.mkdirSync(tmp, { recursive: true })
      fs.writeFileSync(path.join(tmp, ".complete"), "")
      try {
        fs.renameSync(tmp, dir)
      } catch (e) {
        // Another process materialized the same folder first; its copy is identical.
        if (!fs.existsSync(marker)) throw e
        fs.rmSync(tmp, { recursive: true, force: true })
      }
    })
    return dir
  })

/** Reads one stored output back, verifying every object it touches. */
export const loadOutput = (output: OutputRecord): Effect.Effect<Loaded, CorruptObject | StoreError, CacheDir> =>
  Effect.gen(function* () {
    if (output.kind === "Files") {
      return { _tag: "Files", dir: yield* materializeFiles(output), names: Object.keys(output.files ?? {}) } as const
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

/** True when every object of a recorded action is present with its recorded size. */
const outputsPresent = (record: ActionRecord): Effect.Effect<boolean, StoreError, CacheDir> =>
  Effect.gen(function* () {
    for (const o of Object.values(record.outputs)) {
      if (!(yield* hasObject(o.hash, o.size))) return false
      for (const f of Object.values(o.files ?? {})) if (!(yield* hasObject(f.hash, f.size))) return false
    }
    return true
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
}

/**
 * Builds a resolved graph: every stage whose key is in the cache is reused, the others run (at most `concurrency`
 * at once, each under a cross-process lock on its key so two builds never compute one stage twice), their outputs
 * are stored before their action is recorded, and a corrupt input object is reported, its producer rebuilt, and
 * the read retried. A failing stage fails the build only after independent branches have finished and been cached.
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
        const artifacts = yield* resolved.node.stage
          .run({ node: id, key, params: resolved.params, inputs, progress: handle })
          .pipe(
            Effect.catchAllCause((cause) =>
              Cause.isInterruptedOnly(cause)
                ? Effect.failCause(cause as Cause.Cause<never>)
                : Effect.fail(new StageError({ node: id, reason: describeCause(cause) }))
            )
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
          tool: toolVersion
        })
        const status: StageStatus =
          previous !== undefined && previous.key !== key && previous.outputsHash === outputsHash ? "cutoff" : "executed"
        yield* handle.finish(status)
        return { node: id, key, status, outputs, outputsHash, rows, seconds } satisfies NodeResult
      })

    /** A usable cached action: all its objects present (and, for the root, whose outputs are read next, verified). */
    const lookup = (id: string, key: string) =>
      Effect.gen(function* () {
        const record = yield* getAction(key)
        if (record === undefined) return undefined
        const usable =
          (yield* outputsPresent(record)) &&
          (id !== graph.root ||
            (yield* Effect.forEach(Object.values(record.outputs), loadOutput).pipe(
              Effect.as(true),
              Effect.catchTag("CorruptObject", () => Effect.succeed(false))
            )))
        if (usable) return record
        yield* progress.note(`! ${id}: cached outputs are missing or corrupt; rebuilding`)
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
                    yield* lockKey(key, progress.note(`… ${id}: another build is computing this stage; waiting`))
                    const again = yield* lookup(id, key)
                    return again !== undefined ? fromRecord(again) : yield* execute(resolved, components, key)
                  })
                )
              )
        yield* putNodeState({ node: id, key, components, outputsHash: result.outputsHash })
        return result
      })

    /** Runs a node; if one of its inputs turns out corrupt, forgets that producer, rebuilds it and retries once. */
    const buildWithRepair = (id: string) =>
      buildOne(id).pipe(
        Effect.catchTag("CorruptObject", (error) =>
          Effect.gen(function* () {
            yield* progress.note(`! ${error.message}; rebuilding the stage that produced it`)
            const resolved = graph.nodes.get(id)!
            for (const inputId of Object.values(resolved.inputs)) {
              const producer = results.get(inputId)!
              const touched = Object.values(producer.outputs).some(
                (o) => o.hash === error.hash || Object.values(o.files ?? {}).some((f) => f.hash === error.hash)
              )
              if (!touched) continue
              yield* deleteObject(error.hash)
              yield* deleteAction(producer.key)
              const { root } = yield* CacheDir
              for (const o of Object.values(producer.outputs)) {
                if (o.kind === "Files") {
                  const dir = path.join(cachePaths(root).dirs, o.hash)
                  yield* tryFs(dir, () => fs.rmSync(dir, { recursive: true, force: true }))
                }
              }
              const rebuilt = yield* buildOne(inputId)
              results.set(inputId, rebuilt)
            }
            return yield* buildOne(id)
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
  })
