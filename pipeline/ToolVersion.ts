import * as fs from "node:fs"

const manifest = JSON.parse(fs.readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }

/** The versions recorded with every action and build (provenance only; never part of a key). */
export const toolVersion = { prefpipe: manifest.version, node: process.version } as const
