import { Context, Layer } from "effect"
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
  memo: path.join(root, "memo.sqlite")
})
