import { Effect } from "effect"
import * as path from "node:path"
import { projectRoot } from "../Target"
import { OutsideFolder } from "./McpErrors"

/** Where the MCP server reads and writes; every folder defaults to its place in the project root. */
export interface McpOptions {
  /** The project whose `reports/*.ts` targets are built (default: this checkout). */
  readonly root?: string
  /** The cache folder (default: `<root>/.pipeline`). */
  readonly cacheDir?: string
  /** Where targets are written (default: `<root>/out`). */
  readonly outDir?: string
  /** Template files read and written by the tools (default: `<root>/templates`). */
  readonly templatesDir?: string
  /** Experiment configs overrides apply to (default: `<root>/experiments`). */
  readonly experimentsDir?: string
  /** Stages a build may run at once (default 1). */
  readonly concurrency?: number
}

/** The resolved folders of a server. */
export interface Workspace {
  readonly root: string
  readonly cacheDir: string
  readonly outDir: string
  readonly templatesDir: string
  readonly experimentsDir: string
  readonly concurrency: number
}

/** Resolves the options to absolute folders. */
export const workspace = (options: McpOptions = {}): Workspace => {
  const root = path.resolve(options.root ?? projectRoot)
  return {
    root,
    cacheDir: path.resolve(options.cacheDir ?? path.join(root, ".pipeline")),
    outDir: path.resolve(options.outDir ?? path.join(root, "out")),
    templatesDir: path.resolve(options.templatesDir ?? path.join(root, "templates")),
    experimentsDir: path.resolve(options.experimentsDir ?? path.join(root, "experiments")),
    concurrency: options.concurrency ?? 1
  }
}

/** A path for people: relative to the project root when inside it. */
export const display = (ws: Workspace, file: string): string => {
  const rel = path.relative(ws.root, file)
  return rel === "" ? "." : rel.startsWith("..") || path.isAbsolute(rel) ? file : rel
}

/** Resolves a relative path inside a folder, refusing absolute paths and anything that climbs out of it. */
export const inside = (folder: string, relative: string, ws: Workspace): Effect.Effect<string, OutsideFolder> => {
  const resolved = path.resolve(folder, relative)
  const rel = path.relative(folder, resolved)
  return path.isAbsolute(relative) || rel === "" || rel.startsWith("..") || path.isAbsolute(rel) || relative.includes("\0")
    ? Effect.fail(new OutsideFolder({ path: relative, folder: `${display(ws, folder)}/` }))
    : Effect.succeed(resolved)
}

const secretName = /KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH/i

/** Replaces the values of secret-looking environment variables wherever they occur in outgoing text. */
export const redact = (text: string, env: NodeJS.ProcessEnv = process.env): string => {
  let out = text
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && value.length >= 8 && secretName.test(name) && out.includes(value)) {
      out = out.replaceAll(value, `[redacted ${name}]`)
    }
  }
  return out
}
