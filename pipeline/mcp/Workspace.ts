import { Effect } from "effect"
import * as fs from "node:fs"
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

/**
 * The real path of a file that may not exist yet: symlinks resolved as far as the path exists (a dangling link is
 * followed to where it points), the missing rest appended.
 */
const realPath = (file: string, hops = 0): string => {
  const resolved = path.resolve(file)
  try {
    return fs.realpathSync(resolved)
  } catch {
    // missing, or a link to something missing: resolve the link itself, else the parent
  }
  try {
    if (hops < 40 && fs.lstatSync(resolved).isSymbolicLink()) {
      return realPath(path.resolve(path.dirname(resolved), fs.readlinkSync(resolved)), hops + 1)
    }
  } catch {
    // does not exist at all
  }
  const parent = path.dirname(resolved)
  return parent === resolved ? resolved : path.join(realPath(parent, hops), path.basename(resolved))
}

const within = (folder: string, file: string) => {
  const rel = path.relative(folder, file)
  return rel !== "" && !rel.startsWith("..") && !path.isAbsolute(rel)
}

/**
 * Resolves a relative path inside a folder, refusing absolute paths, anything that climbs out of it, and anything
 * whose real path (symlinks resolved, in the folder's path too) is not inside the folder's real path.
 */
export const inside = (folder: string, relative: string, ws: Workspace): Effect.Effect<string, OutsideFolder> => {
  const resolved = path.resolve(folder, relative)
  return path.isAbsolute(relative) || relative.includes("\0") || !within(folder, resolved) || !within(realPath(folder), realPath(resolved))
    ? Effect.fail(new OutsideFolder({ path: relative, folder: `${display(ws, folder)}/` }))
    : Effect.succeed(resolved)
}

/** True when a path's real location (symlinks resolved) is inside a folder's real location. */
export const reallyInside = (folder: string, file: string): boolean => within(realPath(folder), realPath(file))

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
