import { type ChildProcess, spawn } from "node:child_process"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

/** The project's CLI launcher. */
export const pipelineBin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../bin/pipeline")

/** A `pipeline serve` child process: where it listens, the name it serves, and everything it printed. */
export interface ServeProcess {
  readonly url: string
  readonly name: string
  readonly child: ChildProcess
  readonly output: () => string
  /** Stops it (SIGTERM, or SIGKILL to die mid-answer) and waits for the exit. */
  readonly stop: (signal?: NodeJS.Signals) => Promise<void>
}

/**
 * Starts `pipeline serve ARGS --port 0` on 127.0.0.1 and waits (at most `timeoutMs`) for the line naming its address.
 */
export const startServe = (args: ReadonlyArray<string>, env: Record<string, string> = {}, timeoutMs = 180_000): Promise<ServeProcess> =>
  new Promise((resolve, reject) => {
    const child = spawn(pipelineBin, ["serve", "--host", "127.0.0.1", "--port", "0", ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] })
    let out = ""
    const exited = new Promise<void>((done) => child.once("exit", () => done()))
    const stop = (signal: NodeJS.Signals = "SIGTERM") => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      return exited
    }
    const timer = setTimeout(() => {
      void stop("SIGKILL")
      reject(new Error(`pipeline serve did not start within ${timeoutMs} ms:\n${out}`))
    }, timeoutMs)
    const onData = (chunk: Buffer) => {
      out += chunk.toString("utf8")
      const m = /serving (\S+) at (http:\/\/\S+)/.exec(out)
      if (m !== null) {
        clearTimeout(timer)
        resolve({ url: m[2]!, name: m[1]!, child, output: () => out, stop })
      }
    }
    child.stdout.on("data", onData)
    child.stderr.on("data", onData)
    child.once("exit", (code, signal) => {
      clearTimeout(timer)
      reject(new Error(`pipeline serve exited (${code ?? signal}) before listening:\n${out}`))
    })
  })

/** Runs the CLI to completion; resolves with its exit code and output. */
export const runPipeline = (args: ReadonlyArray<string>, env: Record<string, string> = {}, timeoutMs = 600_000): Promise<{ code: number | null; stdout: string; stderr: string }> =>
  new Promise((resolve, reject) => {
    const child = spawn(pipelineBin, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString("utf8")))
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString("utf8")))
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`pipeline ${args.join(" ")} did not finish within ${timeoutMs} ms:\n${stderr}`))
    }, timeoutMs)
    child.once("exit", (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
