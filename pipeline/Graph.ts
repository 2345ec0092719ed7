import { Effect, ParseResult, Schema } from "effect"
import { GraphError } from "./Errors"
import { canonical, toKeyable, type Keyable } from "../core/Key"
import type { Node } from "./Stage"

/** A node with its parameters decoded and checked, ready to build. */
export interface ResolvedNode {
  readonly node: Node
  /** Decoded parameters, handed to the stage's run. */
  readonly params: unknown
  /** Canonical encoded parameters, the part of the key that comes from parameters. */
  readonly keyParams: Keyable
  readonly inputs: Readonly<Record<string, string>>
}

/** A resolved graph: nodes in topological order (inputs before readers) and the root's id. */
export interface Graph {
  readonly root: string
  readonly order: ReadonlyArray<string>
  readonly nodes: ReadonlyMap<string, ResolvedNode>
}

const identity = (n: Node) =>
  canonical([n.stage.name, n.stage.version, toKeyable(n.params), Object.entries(n.inputs).map(([k, v]) => [k, v.id])])

/**
 * Collects every node reachable from the root, rejects two different nodes sharing an id and cycles, decodes
 * each node's parameters with its stage's Schema (the error names the node and the field), and orders the nodes.
 */
export const resolve = (root: Node): Effect.Effect<Graph, GraphError> =>
  Effect.gen(function* () {
    const nodes = new Map<string, ResolvedNode>()
    const order: string[] = []
    const state = new Map<string, "visiting" | "done">()
    const visit = (n: Node, path: ReadonlyArray<string>): Effect.Effect<void, GraphError> =>
      Effect.gen(function* () {
        const seen = state.get(n.id)
        if (seen === "visiting") {
          return yield* new GraphError({ node: n.id, reason: `cycle: ${[...path, n.id].join(" -> ")}` })
        }
        if (seen === "done") {
          if (identity(nodes.get(n.id)!.node) !== identity(n)) {
            return yield* new GraphError({
              node: n.id,
              reason: "two different stage instances share this id; give fan-out instances distinct labels"
            })
          }
          return
        }
        state.set(n.id, "visiting")
        for (const input of Object.values(n.inputs)) yield* visit(input, [...path, n.id])
        const decoded = yield* Schema.decodeUnknown(n.stage.params)(n.params, { onExcessProperty: "error" }).pipe(
          Effect.mapError(
            (e) =>
              new GraphError({
                node: n.id,
                reason: `invalid parameters: ${ParseResult.TreeFormatter.formatErrorSync(e)}`
              })
          )
        )
        const encoded = yield* Schema.encode(n.stage.params)(decoded).pipe(
          Effect.mapError((e) => new GraphError({ node: n.id, reason: ParseResult.TreeFormatter.formatErrorSync(e) }))
        )
        nodes.set(n.id, {
          node: n,
          params: decoded,
          keyParams: toKeyable(n.stage.keyOf === undefined ? encoded : n.stage.keyOf(decoded)),
          inputs: Object.fromEntries(Object.entries(n.inputs).map(([k, v]) => [k, v.id]))
        })
        state.set(n.id, "done")
        order.push(n.id)
      })
    yield* visit(root, [])
    return { root: root.id, order, nodes }
  })
