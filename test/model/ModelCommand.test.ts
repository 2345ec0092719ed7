import { Command } from "@effect/cli"
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { vi } from "vitest"
import { modelCommand } from "../../pipeline/ModelCommand"
import { sharedJson, sharedPath } from "../support/sharedData"

interface Case {
  prompt: string
  ids: number[]
  greedy_ids: number[]
  resid_after_layer: Record<string, number[]>
}
const reference = sharedJson<{ cases: Case[] }>("reference/stories260K/reference.json")
const modelDir = sharedPath("models/stories260K-hf")
const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), "prefpipe-cli-"))

const run = (...args: string[]) =>
  Effect.gen(function* () {
    const lines: string[] = []
    const spy = vi.spyOn(console, "log").mockImplementation((...xs: unknown[]) => void lines.push(xs.join(" ")))
    yield* Command.run(modelCommand, { name: "prefpipe", version: "0" })(["node", "prefpipe", ...args, "--cache-dir", cacheDir]).pipe(
      Effect.ensuring(Effect.sync(() => spy.mockRestore()))
    )
    return JSON.parse(lines.join("\n")) as Record<string, unknown>
  }).pipe(Effect.provide(NodeContext.layer))

describe.skipIf(reference === undefined || modelDir === undefined)("model command", () => {
  // Collected even when skipped, so it must not touch the missing reference.
  const c = reference?.cases[0]!

  it.effect("generate prints the whole token sequence, text and finish reason", () =>
    Effect.gen(function* () {
      const out = yield* run("generate", modelDir!, "--prompt", c.prompt, "--max-tokens", String(c.greedy_ids.length - c.ids.length), "--json")
      expect(out.token_ids).toEqual(c.greedy_ids)
      expect(out.finish).toBe("length")
      expect(typeof out.text).toBe("string")
    }))

  it.effect("generate applies a steering vector from a file", () =>
    Effect.gen(function* () {
      const vector = path.join(cacheDir, "direction.json")
      fs.writeFileSync(vector, JSON.stringify(Array.from({ length: 64 }, (_, i) => Math.cos(i))))
      const out = yield* run("generate", modelDir!, "--prompt", c.prompt, "--max-tokens", "20", "--steer-layer", "2", "--steer-coef", "8", "--steer-vector", vector, "--json")
      expect(out.token_ids).not.toEqual(c.greedy_ids.slice(0, c.ids.length + 20))
    }))

  it.effect("score prints each option's probability and activations print the residual at the last prompt token", () =>
    Effect.gen(function* () {
      const scored = yield* run("score", modelDir!, "--prompt", c.prompt, "--options", ". He,. She", "--json")
      expect(scored.options).toEqual([". He", ". She"])
      expect((scored.probs as number[]).every((p) => p > 0 && p < 1)).toBe(true)
      const acts = yield* run("activations", modelDir!, "--prompt", c.prompt, "--layers", "0,4", "--json")
      const layers = acts.layers as Record<string, number[]>
      expect(Object.keys(layers)).toEqual(["0", "4"])
      expect(Math.max(...layers["4"]!.map((x, i) => Math.abs(x - c.resid_after_layer["4"]![i]!)))).toBeLessThan(1e-4)
      const plain = (yield* run("activations", modelDir!, "--prompt", c.prompt, "--layers", "4", "--plain", "--json")).layers as Record<string, number[]>
      expect(Math.max(...plain["4"]!.map((x, i) => Math.abs(x - c.resid_after_layer["4"]![i]!)))).toBeLessThan(1e-4)
      const half = (yield* run("activations", modelDir!, "--prompt", c.prompt, "--layers", "4", "--dtype", "float16", "--json")).layers as Record<string, number[]>
      const halfError = Math.max(...half["4"]!.map((x, i) => Math.abs(x - c.resid_after_layer["4"]![i]!)))
      expect(halfError).toBeGreaterThan(1e-6)
      expect(halfError).toBeLessThan(5e-2)
    }))
})
