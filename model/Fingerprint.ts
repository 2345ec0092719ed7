import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { hashFile } from "../cache/Folders"

/** The files that decide what a checkpoint computes: weights, config, tokenizer and chat template. */
const identityFiles = (dir: string): string[] =>
  fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(".safetensors") || ["config.json", "model.safetensors.index.json", "tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "generation_config.json"].includes(f))
    .sort()

const memoFile = () => path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), "prefpipe", "file-hashes.json")

/**
 * The content hash of a checkpoint folder: sha256 over each identity file's name and content hash. Hashing a
 * 16 GB folder takes a while, so file hashes are remembered on this machine by (path, size, mtime); that memo only
 * saves time and never enters a key.
 */
export const checkpointFingerprint = (dir: string): string => {
  const file = memoFile()
  let memo: Record<string, string> = {}
  try {
    memo = JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, string>
  } catch {
    memo = {}
  }
  let changed = false
  const parts = identityFiles(dir).map((name) => {
    const full = path.resolve(dir, name)
    const stat = fs.statSync(full)
    const id = `${full}:${stat.size}:${stat.mtimeMs}`
    let digest = memo[id]
    if (digest === undefined) {
      digest = hashFile(full)
      memo[id] = digest
      changed = true
    }
    return `${name}:${digest}`
  })
  if (parts.length === 0) throw new Error(`${dir} holds no checkpoint files (config.json, *.safetensors, tokenizer.json)`)
  if (changed) {
    fs.mkdirSync(path.dirname(file), { recursive: true })
    const tmp = `${file}.${process.pid}.tmp`
    fs.writeFileSync(tmp, JSON.stringify(memo))
    fs.renameSync(tmp, file)
  }
  return createHash("sha256").update(parts.join("\n")).digest("hex")
}
