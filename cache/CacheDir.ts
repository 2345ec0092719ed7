import { Context, Layer } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"

/** Where the cache lives: `.pipeline/` in the project, or `--cache DIR` / `PIPELINE_CACHE`. */
export class CacheDir extends Context.Tag("prefpipe/CacheDir")<CacheDir, { readonly root: string }>() {
  /** A cache rooted at the given folder. */
  static readonly layer = (root: string) => Layer.succeed(CacheDir, { root: path.resolve(root) })
}

/** The sub-folders of a cache root. */
export const cachePaths = (root: string) => ({
  objects: path.join(root, "objects"),
  actions: path.join(root, "actions"),
  nodes: path.join(root, "nodes"),
  builds: path.join(root, "builds"),
  buildLog: path.join(root, "builds", "log.jsonl"),
  dirs: path.join(root, "dirs"),
  locks: path.join(root, "locks"),
  memo: path.join(root, "memo.sqlite"),
  compiled: path.join(root, "compiled"),
  quarantine: path.join(root, "quarantine")
})

/** Files `dir/xx/rest<suffix>` of a folder sharded by the first two characters, as name `xxrest` (temporary files skipped). */
export const listSharded = (dir: string, suffix: string): Array<{ readonly name: string; readonly file: string }> =>
  fs.existsSync(dir)
    ? fs.readdirSync(dir).flatMap((p) => {
        const sub = path.join(dir, p)
        if (!fs.statSync(sub).isDirectory()) return []
        return fs
          .readdirSync(sub)
          .filter((f) => f.endsWith(suffix) && !f.includes(".tmp-"))
          .map((f) => ({ name: p + f.slice(0, f.length - suffix.length), file: path.join(sub, f) }))
      })
    : []
