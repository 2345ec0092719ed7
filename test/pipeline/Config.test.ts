import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { experimentConfig } from "../../pipeline/Config"

const load = (config: unknown) => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "prefpipe-config-")), "experiment.json")
  fs.writeFileSync(file, JSON.stringify(config))
  return experimentConfig.load(file)
}

describe("the organism spec in an experiment config", () => {
  it.effect("keeps the fields it sets, as written, and nothing else", () =>
    Effect.gen(function* () {
      const { config, snapshot } = yield* load({ model: { kind: "organism", spec: { spread: 0.3, originMeans: { alpaca: 1 } } } })
      expect(config.model).toEqual({ kind: "organism", spec: { spread: 0.3, originMeans: { alpaca: 1 } } })
      expect((snapshot as { model: unknown }).model).toEqual(config.model)
    })
  )

  it.effect("rejects a value the spec refuses, naming the field", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(load({ model: { kind: "organism", spec: { preSignal: -1 } } }))
      expect(error.field).toBe("model.spec.preSignal")
      expect(error.message).toContain("preSignal must be positive")
    })
  )

  it.effect("rejects a field the spec does not have, naming it", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(load({ model: { kind: "organism", spec: { sprad: 0.3 } } }))
      expect(error.field).toBe("model.spec.sprad")
    })
  )
})
