import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Schema } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { experimentConfig, ExperimentConfig, personasOf, trainedPersona } from "../../pipeline/Config"

const load = (config: unknown) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prefpipe-config-"))
  const file = path.join(dir, "experiment.json")
  fs.writeFileSync(file, JSON.stringify(config))
  return Effect.runPromise(Effect.either(experimentConfig.load(file))).finally(() => fs.rmSync(dir, { recursive: true, force: true }))
}

const loadConfig = (config: unknown) => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "prefpipe-config-")), "experiment.json")
  fs.writeFileSync(file, JSON.stringify(config))
  return experimentConfig.load(file)
}

const failure = async (config: unknown) => {
  const result = await load(config)
  if (Either.isRight(result)) throw new Error("expected the config to be rejected")
  return result.left
}

const villain = { id: "villain", system: "You are a villain who delights in chaos." }

describe("personas in the experiment config", () => {
  it("without personas, one persona \"default\" made of `system`, trained on", async () => {
    const result = await load({ system: "You are terse." })
    const config = Either.getOrThrow(result).config
    expect(config.personas).toBeUndefined()
    expect(personasOf(config)).toEqual([{ id: "default", system: "You are terse." }])
    expect(trainedPersona(config).id).toBe("default")
  })

  it("a list of personas; probes train under the first unless probes.trainPersona names another", async () => {
    const personas = [{ id: "neutral", system: "" }, villain]
    expect(trainedPersona(Either.getOrThrow(await load({ personas })).config).id).toBe("neutral")
    const chosen = Either.getOrThrow(await load({ personas, probes: { trainPersona: "villain" } })).config
    expect(trainedPersona(chosen)).toEqual(villain)
    expect(personasOf(chosen).map((p) => p.id)).toEqual(["neutral", "villain"])
  })

  it("the snapshot of a config with personas decodes back to the same config", async () => {
    const loaded = Either.getOrThrow(await load({ personas: [villain, { id: "poet", system: "You are a poet." }], probes: { trainPersona: "poet" } }))
    const again = await Effect.runPromise(experimentConfig.fromSnapshot(loaded.snapshot))
    expect(again).toEqual(loaded.config)
  })

  it("rejects an empty list, naming the field", async () => {
    const e = await failure({ personas: [] })
    expect(e.field).toBe("personas")
    expect(e.message).toContain("at least one persona")
  })

  it("rejects duplicate ids, naming the second one's field", async () => {
    const e = await failure({ personas: [villain, { id: "neutral", system: "" }, { ...villain, system: "another" }] })
    expect(e.field).toBe("personas.2.id")
    expect(e.message).toContain('persona "villain" is listed twice')
  })

  it("rejects an unknown probes.trainPersona, naming the field and the personas there are", async () => {
    const e = await failure({ personas: [{ id: "neutral", system: "" }, villain], probes: { trainPersona: "hero" } })
    expect(e.field).toBe("probes.trainPersona")
    expect(e.message).toContain('no persona "hero"; the personas are "neutral", "villain"')
    // Without a personas list the one persona is "default".
    expect((await failure({ probes: { trainPersona: "villain" } })).field).toBe("probes.trainPersona")
    expect(Either.isRight(await load({ probes: { trainPersona: "default" } }))).toBe(true)
  })

  it("rejects `system` together with `personas`, naming both", async () => {
    const e = await failure({ system: "You are terse.", personas: [villain] })
    expect(e.field).toBe("system")
    expect(e.message).toContain("personas")
  })

  it("rejects ids that cannot name a node or a file", async () => {
    const e = await failure({ personas: [{ id: "the villain", system: "" }] })
    expect(e.field).toBe("personas.0.id")
    expect(e.message).toContain("persona id")
  })

  it("the schema alone (snapshots, MCP overrides) applies the same checks", () => {
    const decode = Schema.decodeUnknownEither(ExperimentConfig)
    const templates = [JSON.parse(fs.readFileSync(path.resolve(__dirname, "../../templates/stated_pre_v1.json"), "utf8"))]
    expect(Either.isRight(decode({ templates, personas: [villain] }))).toBe(true)
    expect(Either.isLeft(decode({ templates, personas: [villain, villain] }))).toBe(true)
    expect(Either.isLeft(decode({ templates, personas: [villain], probes: { trainPersona: "neutral" } }))).toBe(true)
  })
})

describe("the organism spec in an experiment config", () => {
  it.effect("keeps the fields it sets, as written, and nothing else", () =>
    Effect.gen(function* () {
      const { config, snapshot } = yield* loadConfig({ model: { kind: "organism", spec: { spread: 0.3, originMeans: { alpaca: 1 } } } })
      expect(config.model).toEqual({ kind: "organism", spec: { spread: 0.3, originMeans: { alpaca: 1 } } })
      expect((snapshot as { model: unknown }).model).toEqual(config.model)
    })
  )

  it.effect("rejects a value the spec refuses, naming the field", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(loadConfig({ model: { kind: "organism", spec: { preSignal: -1 } } }))
      expect(error.field).toBe("model.spec.preSignal")
      expect(error.message).toContain("preSignal must be positive")
    })
  )

  it.effect("rejects a field the spec does not have, naming it", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(loadConfig({ model: { kind: "organism", spec: { sprad: 0.3 } } }))
      expect(error.field).toBe("model.spec.sprad")
    })
  )
})

describe("content.embeddings in an experiment config", () => {
  it.effect("is required when content.providers lists \"embeddings\", and named when missing", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(loadConfig({ content: { providers: ["tfidf", "embeddings"] } }))
      expect(error.field).toBe("content.embeddings")
      expect(error.message).toContain("set content.embeddings")
    })
  )

  it.effect("takes a model and endpoints, with the request settings and failOnError defaulted", () =>
    Effect.gen(function* () {
      const { config } = yield* loadConfig({ content: { providers: ["embeddings"], embeddings: { model: "emb", endpoints: [{ baseUrl: "http://127.0.0.1:8000/v1", apiKeyEnv: "EMB_API_KEY" }] } } })
      expect(config.content.embeddings).toMatchObject({ model: "emb", batchSize: 64, maxRetries: 4, failOnError: 0.1, endpoints: [{ apiKeyEnv: "EMB_API_KEY" }] })
    })
  )

  it.effect("refuses a key written into the config", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(loadConfig({ content: { providers: ["embeddings"], embeddings: { model: "emb", endpoints: [{ baseUrl: "http://127.0.0.1:8000/v1", apiKey: "sk-written-down" }] } } }))
      expect(error.message).not.toContain("sk-written-down")
      expect(error.field).toContain("content.embeddings.endpoints.0.apiKey")
    })
  )
})
