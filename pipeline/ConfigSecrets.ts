import { Effect } from "effect"
import { canonical, toKeyable } from "../core/Key"
import { ConfigError } from "./Errors"

/** The config field (top level) listing environment variables that `apiKeyEnv` may name besides `*_API_KEY` and `*_TOKEN`. */
const allowlistField = "apiKeyEnvAllowed"

/**
 * Fields that decide where requests go and which environment variable's value they carry, wherever they sit in a
 * config (a judge, a model's endpoints, an embeddings endpoint): an MCP client may not change them.
 */
export const endpointFields: ReadonlyArray<string> = ["baseUrl", "apiKeyEnv", allowlistField]

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v)

/** Every leaf of a JSON value with its dotted path (list items by index) and the name of the field holding it. */
const leaves = (value: unknown, at = "", name = ""): Array<{ readonly path: string; readonly name: string; readonly value: unknown }> => {
  if (Array.isArray(value)) return value.flatMap((v, i) => leaves(v, at === "" ? String(i) : `${at}.${i}`, name))
  if (isObject(value)) return Object.entries(value).flatMap(([k, v]) => leaves(v, at === "" ? k : `${at}.${k}`, k))
  return [{ path: at, name, value }]
}

/** Every field with one of the given names, at any depth, by dotted path, with its value (objects and lists whole). */
const fieldsNamed = (value: unknown, names: ReadonlyArray<string>, at = ""): Array<{ readonly path: string; readonly value: unknown }> => {
  const here = (k: string) => (at === "" ? k : `${at}.${k}`)
  if (Array.isArray(value)) return value.flatMap((v, i) => fieldsNamed(v, names, here(String(i))))
  if (!isObject(value)) return []
  return Object.entries(value).flatMap(([k, v]) => [...(names.includes(k) ? [{ path: here(k), value: v }] : []), ...fieldsNamed(v, names, here(k))])
}

const hasCredentials = (text: string): boolean => {
  try {
    const url = new URL(text)
    return url.username !== "" || url.password !== ""
  } catch {
    return false
  }
}

const keyEnvName = /^[A-Za-z_][A-Za-z0-9_]*$/

/**
 * Refuses a config that would put a secret where builds record it or send one where it was not meant to go: an
 * `apiKey` field anywhere, a URL with a user name or password (`http://user:KEY@host`) in any string field, or an
 * `apiKeyEnv` naming a variable that neither ends in `_API_KEY` or `_TOKEN` nor is listed in `apiKeyEnvAllowed`.
 * Errors name the field and never repeat its value.
 */
export const checkSecrets = (raw: unknown, file: string): Effect.Effect<void, ConfigError> =>
  Effect.gen(function* () {
    for (const leaf of leaves(raw)) {
      if (leaf.name === "apiKey") {
        return yield* new ConfigError({
          file,
          field: leaf.path,
          reason: "API keys are never stored in a config (builds record their config); set an environment variable and name it in apiKeyEnv"
        })
      }
      if (typeof leaf.value === "string" && hasCredentials(leaf.value)) {
        return yield* new ConfigError({
          file,
          field: leaf.path,
          reason: "the URL holds a user name or password (user:pass@host), which builds would record; put the key in an environment variable named by apiKeyEnv"
        })
      }
    }
    const listed = isObject(raw) ? raw[allowlistField] : undefined
    const allowed = Array.isArray(listed) ? listed.filter((v): v is string => typeof v === "string") : []
    for (const { path, value } of fieldsNamed(raw, ["apiKeyEnv"])) {
      if (typeof value !== "string" || !keyEnvName.test(value)) {
        return yield* new ConfigError({ file, field: path, reason: "must be the name of an environment variable (letters, digits and _)" })
      }
      if (!value.endsWith("_API_KEY") && !value.endsWith("_TOKEN") && !allowed.includes(value)) {
        return yield* new ConfigError({
          file,
          field: path,
          reason: `"${value}" does not end in _API_KEY or _TOKEN; name such a variable, or list this one in the config's top-level "${allowlistField}" field`
        })
      }
    }
  })

/**
 * The endpoint fields (`endpointFields`, at any depth) whose value in `merged` is new or differs from `base`, by
 * dotted path. Removing one is not a change: without it no request goes anywhere.
 */
export const changedEndpointFields = (base: unknown, merged: unknown): ReadonlyArray<string> => {
  const before = new Map(fieldsNamed(base, endpointFields).map((f) => [f.path, canonical(toKeyable(f.value))]))
  return fieldsNamed(merged, endpointFields)
    .filter((f) => before.get(f.path) !== canonical(toKeyable(f.value)))
    .map((f) => f.path)
}
