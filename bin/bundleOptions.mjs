// esbuild options shared by the CLI bundle and the engine benchmark's bundle.
import * as fs from "node:fs"
import * as path from "node:path"

/**
 * Options bundling project sources into `outfile`, with native and wasm packages left external; dynamic imports
 * become chunks beside it, loaded when first imported.
 */
export const bundleOptions = (outfile) => ({
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  outdir: path.dirname(outfile),
  entryNames: path.basename(outfile, ".mjs"),
  outExtension: { ".js": ".mjs" },
  splitting: true,
  chunkNames: "chunk-[hash]",
  logLevel: "warning",
  external: ["onnxruntime-node", "better-sqlite3", "@resvg/resvg-js", "parquet-wasm", "canvas", "esbuild"],
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  plugins: [
    {
      // Source files resolve paths from import.meta.url; keep each file's own location, relative to the bundle.
      name: "own-import-meta-url",
      setup(build) {
        build.onLoad({ filter: /\.ts$/ }, async (args) => {
          if (args.path.includes(`${path.sep}node_modules${path.sep}`)) return undefined
          const source = await fs.promises.readFile(args.path, "utf8")
          const relative = path.relative(path.dirname(outfile), args.path).split(path.sep).join("/")
          return { contents: source.replaceAll("import.meta.url", `new URL(${JSON.stringify(relative)}, import.meta.url).href`), loader: "ts" }
        })
      }
    }
  ]
})
