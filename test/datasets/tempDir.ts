import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll } from "@effect/vitest"

/** A fresh temporary folder, removed after the calling test file; `write` puts a file in it and returns its name. */
export const tempDir = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prefpipe-datasets-"))
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))
  return {
    dir,
    write: (name: string, content: string | Uint8Array): string => {
      fs.writeFileSync(path.join(dir, name), content)
      return name
    }
  }
}
