import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { changedEndpointFields, checkSecrets } from "../../pipeline/ConfigSecrets"
import { experimentConfig } from "../../pipeline/Config"

const refusal = (raw: unknown) => {
  const result = Effect.runSync(Effect.either(checkSecrets(raw, "x.json")))
  return Either.isLeft(result) ? { field: result.left.field, message: result.left.message } : undefined
}

describe("checkSecrets", () => {
  it("refuses a user name or password in any URL of the config, naming the field and never repeating the URL", () => {
    for (const [raw, field] of [
      [{ judge: { baseUrl: "http://user:sk-0123456789@127.0.0.1:8000/v1", model: "m" } }, "judge.baseUrl"],
      [{ model: { kind: "api", endpoints: [{ baseUrl: "https://a.example/v1" }, { baseUrl: "https://key@b.example/v1" }] } }, "model.endpoints.1.baseUrl"],
      [{ embeddings: { url: "https://:sk-0123456789@c.example/" } }, "embeddings.url"],
      [{ templates: [{ id: "t", text: "ftp://u:p@files.example/x" }] }, "templates.0.text"]
    ] as const) {
      const found = refusal(raw)
      expect(found?.field).toBe(field)
      expect(found?.message).toContain("holds a user name or password")
      expect(found?.message).not.toMatch(/sk-0123456789|key@b|u:p@files|example/)
    }
    expect(refusal({ judge: { baseUrl: "http://127.0.0.1:8000/v1", model: "m", apiKeyEnv: "JUDGE_API_KEY" }, system: "see http://example.com/a@b" })).toBeUndefined()
  })

  it("refuses an apiKey field anywhere", () => {
    expect(refusal({ model: { endpoints: [{ baseUrl: "http://h/v1", apiKey: "sk-x" }] } })?.field).toBe("model.endpoints.0.apiKey")
  })

  it("lets apiKeyEnv name only *_API_KEY, *_TOKEN or a variable the config lists in apiKeyEnvAllowed", () => {
    expect(refusal({ judge: { apiKeyEnv: "JUDGE_API_KEY" }, model: { endpoints: [{ apiKeyEnv: "HF_TOKEN" }] } })).toBeUndefined()
    const home = refusal({ judge: { apiKeyEnv: "JUDGE_API_KEY" }, model: { endpoints: [{ apiKeyEnv: "HOME" }] } })
    expect(home).toEqual({ field: "model.endpoints.0.apiKeyEnv", message: expect.stringContaining('"HOME" does not end in _API_KEY or _TOKEN') })
    expect(refusal({ judge: { apiKeyEnv: "HOME" }, apiKeyEnvAllowed: ["HOME"] })).toBeUndefined()
    expect(refusal({ judge: { apiKeyEnv: "MY KEY" } })?.message).toContain("must be the name of an environment variable")
  })

  it("is applied when a config file is loaded and when a recorded snapshot is rebuilt", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prefpipe-secrets-"))
    const file = path.join(dir, "experiment.json")
    fs.writeFileSync(file, JSON.stringify({ judge: { baseUrl: "http://127.0.0.1:1/v1", model: "m", apiKeyEnv: "PATH" } }))
    const loaded = Effect.runSync(Effect.either(experimentConfig.load(file)))
    expect(Either.isLeft(loaded) && loaded.left.message).toBe(
      `${file}: field "judge.apiKeyEnv": "PATH" does not end in _API_KEY or _TOKEN; name such a variable, or list this one in the config's top-level "apiKeyEnvAllowed" field`
    )
    fs.writeFileSync(file, JSON.stringify({ judge: { baseUrl: "http://127.0.0.1:1/v1", model: "m", apiKeyEnv: "PATH" }, apiKeyEnvAllowed: ["PATH"] }))
    const allowed = Effect.runSync(experimentConfig.load(file))
    expect(allowed.config.apiKeyEnvAllowed).toEqual(["PATH"])
    const snapshot = { ...(allowed.snapshot as object), judge: { baseUrl: "http://u:p@127.0.0.1:1/v1", model: "m" } }
    const rebuilt = Effect.runSync(Effect.either(experimentConfig.fromSnapshot(snapshot)))
    expect(Either.isLeft(rebuilt) && rebuilt.left.field).toBe("judge.baseUrl")
  })
})

describe("changedEndpointFields", () => {
  const base = { judge: { baseUrl: "http://a/v1", apiKeyEnv: "JUDGE_API_KEY", model: "m" }, sample: { perOrigin: 5 } }
  it("names every baseUrl, apiKeyEnv or allowlist that overrides add or change, at any depth", () => {
    expect(changedEndpointFields(base, { ...base, sample: { perOrigin: 6 }, judge: { ...base.judge, model: "n" } })).toEqual([])
    expect(changedEndpointFields(base, { ...base, judge: { ...base.judge, baseUrl: "http://evil/v1" } })).toEqual(["judge.baseUrl"])
    expect(changedEndpointFields(base, { ...base, judge: { ...base.judge, apiKeyEnv: "OTHER_SECRET_TOKEN" } })).toEqual(["judge.apiKeyEnv"])
    expect(changedEndpointFields(base, { ...base, model: { kind: "api", endpoints: [{ baseUrl: "http://evil/v1" }] } })).toEqual(["model.endpoints.0.baseUrl"])
    expect(changedEndpointFields(base, { ...base, apiKeyEnvAllowed: ["HOME"] })).toEqual(["apiKeyEnvAllowed"])
    // removing the judge sends nothing anywhere
    expect(changedEndpointFields(base, { sample: base.sample })).toEqual([])
  })
})
