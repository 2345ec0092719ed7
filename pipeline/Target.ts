import { Effect, Either, Schema } from "effect"
import { decodeIssues } from "../core/DecodeIssue"
import { formatJsonSyntaxError, parseJson } from "../core/JsonText"
import * as fs from "node:fs"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import { ConfigError, TargetError } from "./Errors"
import type { LoadedOutputs } from "./Artifact"
import { projectRoot } from "./ProjectRoot"
import type { Node } from "./Stage"

/** A build target: a module under the project (e.g. `reports/hoo.ts`) exporting `target`. */
export interface Target<C> {
  readonly description: string
  /** The graph behind the target for an experiment config; its root's outputs are written to `out/<target>/`. */
  readonly graph: (config: C) => Node
  /**
   * Writes the root's outputs into the output folder once the build hash is known (reports print it); without it,
   * Files outputs are copied as they are and tables written as Parquet.
   */
  readonly write?: (
    root: LoadedOutputs,
    context: { readonly build: string; readonly outputDir: string; readonly config: C }
  ) => Effect.Effect<void, { readonly message: string }, any>
  /**
   * What the config lacks for this target (a revealed template, a layer the model has), each naming the config field;
   * checked before anything runs, so `plan` and `build` refuse the config instead of building an empty report.
   */
  readonly check?: (config: C) => ReadonlyArray<ConfigProblem>
}

/** Why a config cannot build a target: the field at fault (dotted path, `activations.layers.1`) and what is wrong. */
export interface ConfigProblem {
  readonly field: string
  readonly reason: string
}

export { projectRoot } from "./ProjectRoot"

/** Normalizes a target name (`reports/hoo`, `reports/hoo.ts`, `./reports/hoo`) to its canonical form. */
export const targetName = (target: string): string =>
  path.posix.normalize(target.replaceAll("\\", "/")).replace(/^\.\//, "").replace(/\.ts$/, "")

/** The bundle's registry (bin/bundle.mjs): every target's module, loaded on first use; undefined when run from sources. */
const bundledTargets = () => (globalThis as { __prefpipeTargets?: Record<string, () => Promise<{ target?: Target<any> }>> }).__prefpipeTargets

/**
 * The targets a project defines: every `reports/*.ts` that exports a `target` (read as text, so nothing is loaded);
 * without the sources, the modules of the bundle's registry. Sorted.
 */
export const targetNames = (root = projectRoot): ReadonlyArray<string> => {
  const dir = path.join(root, "reports")
  if (!fs.existsSync(dir)) {
    const bundled = bundledTargets()
    return bundled !== undefined && root === projectRoot ? Object.keys(bundled).sort() : []
  }
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(".ts") && /^export const target\b/m.test(fs.readFileSync(path.join(dir, f), "utf8")))
    .map((f) => `reports/${f.slice(0, -3)}`)
    .sort()
}

/** Levenshtein distance between two strings. */
export const editDistance = (a: string, b: string): number => {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    previous = current
  }
  return previous[b.length]!
}

/** The known name closest to `name` by edit distance, when it is close enough to be a likely typo. */
export const nearestName = (name: string, known: ReadonlyArray<string>): string | undefined => {
  const scored = known.map((k) => ({ k, d: editDistance(name, k) })).sort((a, b) => a.d - b.d || (a.k < b.k ? -1 : 1))
  const best = scored[0]
  return best !== undefined && best.d <= Math.max(2, Math.floor(best.k.length / 3)) ? best.k : undefined
}

/** The reason for an unknown target: the nearest known target, and every target. */
const unknownTarget = (name: string, root: string): string => {
  const known = targetNames(root)
  const nearest = nearestName(name, known)
  return (
    `no such target${nearest === undefined ? "." : `; did you mean ${nearest}?`} ` +
    (known.length === 0 ? `(no reports/*.ts exports a target in ${root})` : `Targets: ${known.join(", ")}`)
  )
}

/** Imports a target's definition module (from the bundle's registry when the CLI runs bundled). */
export const loadTarget = <C>(target: string, root = projectRoot): Effect.Effect<Target<C>, TargetError> =>
  Effect.gen(function* () {
    const name = targetName(target)
    const registered = bundledTargets()?.[name]
    const bundled = registered === undefined ? undefined : yield* Effect.promise(registered)
    if (bundled?.target !== undefined) return bundled.target as Target<C>
    const file = path.join(root, `${name}.ts`)
    if (name.startsWith("..") || path.isAbsolute(name) || !fs.existsSync(file)) {
      return yield* new TargetError({ target, reason: unknownTarget(name, root) })
    }
    const module = yield* Effect.tryPromise({
      try: () => import(pathToFileURL(file).href) as Promise<{ target?: Target<C> }>,
      catch: (e) => new TargetError({ target, reason: `could not load ${file}: ${e instanceof Error ? e.message : String(e)}` })
    })
    if (module.target === undefined || typeof module.target.graph !== "function") {
      return yield* new TargetError({ target, reason: `${file} does not export a \`target\` with a graph` })
    }
    return module.target
  })

/** Every target with its description (each target module is loaded; one that fails to load is left out). */
export const describeTargets = (root = projectRoot): Effect.Effect<ReadonlyArray<{ readonly target: string; readonly description: string }>> =>
  Effect.map(
    Effect.forEach(targetNames(root), (target) =>
      Effect.map(Effect.either(loadTarget(target, root)), (loaded) => (Either.isRight(loaded) ? [{ target, description: loaded.right.description }] : []))
    ),
    (lists) => lists.flat()
  )

/** Decodes a config value with a Schema; the error names the file and the first failing field by its path. */
export const decodeConfig = <C, I>(
  schema: Schema.Schema<C, I, never>,
  raw: unknown,
  file: string
): Effect.Effect<C, ConfigError> => {
  const result = Schema.decodeUnknownEither(schema)(raw, { onExcessProperty: "error", errors: "all" })
  if (Either.isRight(result)) return Effect.succeed(result.right)
  const issues = decodeIssues(result.left)
  const first = issues[0]
  const rest = issues.length > 1 ? ` (and ${issues.length - 1} more: ${issues.slice(1, 4).map((i) => i.field || "(root)").join(", ")})` : ""
  return Effect.fail(new ConfigError({ file, field: first?.field ?? "", reason: `${first?.reason ?? "invalid"}${rest}` }))
}

/** Reads a JSON config file; a syntax error is named by line and column, never quoted. */
export const readConfigFile = (file: string): Effect.Effect<unknown, ConfigError> =>
  Effect.flatMap(
    Effect.try({
      try: () => fs.readFileSync(file, "utf8"),
      catch: (e) => new ConfigError({ file, field: "", reason: `cannot read: ${(e as NodeJS.ErrnoException).code ?? String(e)}` })
    }),
    (text) => Either.match(parseJson(text), { onLeft: (e) => Effect.fail(new ConfigError({ file, field: "", reason: formatJsonSyntaxError(e) })), onRight: Effect.succeed })
  )
