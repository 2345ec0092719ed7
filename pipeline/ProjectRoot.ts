import * as path from "node:path"

/** The project root: the folder holding this checkout's package.json. */
export const projectRoot = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..")
