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
}

export { projectRoot } from "./ProjectRoot"

/** Normalizes a target name (`reports/hoo`, `reports/hoo.ts`, `./reports/hoo`) to its canonical form. */
export const targetName = (target: string): string =>
  path.posix.normalize(target.replaceAll("\\", "/")).replace(/^\.\//, "").replace(/\.ts$/, "")

/** Imports a target's definition module (from the bundle's registry when the CLI runs bundled). */
export const loadTarget = <C>(target: string, root = projectRoot): Effect.Effect<Target<C>, TargetError> =>
  Effect.gen(function* () {
    const name = targetName(target)
    const registered = (globalThis as { __prefpipeTargets?: Record<string, () => Promise<{ target?: Target<C> }>> }).__prefpipeTargets?.[name]
    const bundled = registered === undefined ? undefined : yield* Effect.promise(registered)
    if (bundled?.target !== undefined) return bundled.target
    const file = path.join(root, `${name}.ts`)
    if (name.startsWith("..") || path.isAbsolute(name) || !fs.existsSync(file)) {
      return yield* new TargetError({ target, reason: `no definition at ${path.relative(process.cwd(), file) || file}` })
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
