import type { Effect } from "effect"
import { Schema } from "effect"
import type { Artifact, LoadedOutputs } from "./Artifact"

/** Reports a running stage's progress: rows to do, rows done. */
export interface StageProgress {
  readonly total: (rows: number) => Effect.Effect<void>
  readonly done: (rows: number) => Effect.Effect<void>
}

/** What a stage's run receives. */
export interface StageContext<P> {
  /** The node id (`name` or `name[label]`). */
  readonly node: string
  /** The stage's cache key; row memos may use it as a namespace only when rows must not be shared across keys. */
  readonly key: string
  readonly params: P
  readonly inputs: Readonly<Record<string, LoadedOutputs>>
  readonly progress: StageProgress
  /**
   * Records named counts of this run (tokens, requests, retries): kept with the stage's record and shown by
   * `pipeline show`, never part of its outputs or key. Later values of a name replace earlier ones. The engine always
   * gives it; a test calling `run` directly may not.
   */
  readonly count?: (counters: Readonly<Record<string, number>>) => Effect.Effect<void>
}

/** A stage: a named, versioned computation from input stages' outputs and parameters to output artifacts. */
export interface Stage<P = any, E = any, R = any> {
  readonly _tag: "Stage"
  readonly name: string
  /** Bump when the code changes what the stage outputs. */
  readonly version: number
  readonly params: Schema.Schema<P, any, never>
  /** The part of the parameters that enters the key, when some (a local path) must not; all of them by default. */
  readonly keyOf?: (params: P) => unknown
  readonly run: (context: StageContext<P>) => Effect.Effect<Readonly<Record<string, Artifact>>, E, R>
}

/** One instance of a stage in a graph: its parameters (encoded form) and the nodes it reads. */
export interface Node {
  readonly _tag: "Node"
  readonly id: string
  readonly stage: Stage
  /** Parameters in encoded (JSON) form; decoded by the stage's Schema before anything runs. */
  readonly params: unknown
  readonly inputs: Readonly<Record<string, Node>>
  /** Where in the experiment config top-level parameters came from (`{ template: "templates.q1" }`), so plan names a changed field by its config path. */
  readonly configPaths?: Readonly<Record<string, string>>
}

/** Declares a stage. */
export const make = <P, I, E, R>(definition: {
  readonly name: string
  readonly version: number
  readonly params: Schema.Schema<P, I, never>
  readonly keyOf?: (params: P) => unknown
  readonly run: (context: StageContext<P>) => Effect.Effect<Readonly<Record<string, Artifact>>, E, R>
}): Stage<P, E, R> => ({ _tag: "Stage", ...definition })

/** Instantiates a stage as a graph node; `label` distinguishes fan-out instances (`elicit[qualitative_v1]`). */
export const node = <P, I>(
  stage: Stage<P, any, any> & { readonly params: Schema.Schema<P, I, never> },
  options: {
    readonly label?: string
    readonly params: I
    readonly inputs?: Readonly<Record<string, Node>>
    readonly configPaths?: Readonly<Record<string, string>>
  }
): Node => ({
  _tag: "Node",
  id: options.label === undefined ? stage.name : `${stage.name}[${options.label}]`,
  stage,
  params: options.params,
  inputs: options.inputs ?? {},
  ...(options.configPaths === undefined ? {} : { configPaths: options.configPaths })
})

/** A stage with no parameters. */
export const NoParams = Schema.Struct({})
