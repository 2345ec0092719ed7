import { createHash } from "node:crypto"

/** A JSON-like value that can enter a cache key. */
export type Keyable =
  | null
  | boolean
  | number
  | string
  | ReadonlyArray<Keyable>
  | { readonly [key: string]: Keyable | undefined }

const numberToken = (n: number): string => {
  if (Number.isNaN(n)) return "nan"
  if (n === Infinity) return "+inf"
  if (n === -Infinity) return "-inf"
  // -0 and 0 must not collide with each other silently differing outputs; keep them distinct.
  return Object.is(n, -0) ? "-0" : String(n)
}

/**
 * The canonical, delimited encoding of a value: every item is type-tagged and length-prefixed, object keys are
 * sorted by code unit and `undefined` members are dropped, so two honest runs always encode equal values equally
 * and no two different values share an encoding.
 */
export const canonical = (value: Keyable | undefined): string => {
  if (value === undefined || value === null) return "n;"
  switch (typeof value) {
    case "boolean":
      return value ? "t;" : "f;"
    case "number": {
      const token = numberToken(value)
      return `d${token.length}:${token};`
    }
    case "string":
      return `s${value.length}:${value};`
    default:
      break
  }
  if (Array.isArray(value)) {
    return `a${value.length}[${(value as ReadonlyArray<Keyable>).map(canonical).join("")}]`
  }
  const record = value as { readonly [key: string]: Keyable | undefined }
  const keys = Object.keys(record).filter((k) => record[k] !== undefined).sort()
  return `o${keys.length}{${keys.map((k) => `k${k.length}:${k};${canonical(record[k])}`).join("")}}`
}

/** Hex sha256 of a string or bytes. */
export const sha256 = (data: string | Uint8Array): string => createHash("sha256").update(data).digest("hex")

/** Hex sha256 of the canonical encoding of a value. */
export const hashValue = (value: Keyable | undefined): string => sha256(canonical(value))

/** Turns any decoded value (records, arrays, bigints, Dates are rejected) into a Keyable, dropping functions. */
export const toKeyable = (value: unknown, path = "$"): Keyable => {
  if (value === null || value === undefined) return null
  if (typeof value === "boolean" || typeof value === "number" || typeof value === "string") return value
  if (typeof value === "bigint") return value.toString()
  if (Array.isArray(value)) return value.map((v, i) => toKeyable(v, `${path}[${i}]`))
  if (value instanceof Date) throw new Error(`toKeyable: ${path} is a Date; keys never hold timestamps`)
  if (typeof value === "object") {
    const out: Record<string, Keyable> = {}
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (v === undefined || typeof v === "function") continue
      out[k] = toKeyable(v, `${path}.${k}`)
    }
    return out
  }
  throw new Error(`toKeyable: ${path} has unsupported type ${typeof value}`)
}

/** One changed leaf between two keyable values, by dotted path. */
export interface KeyChange {
  readonly path: string
  readonly before: Keyable | undefined
  readonly after: Keyable | undefined
}

const isRecord = (v: Keyable | undefined): v is { readonly [key: string]: Keyable | undefined } =>
  typeof v === "object" && v !== null && !Array.isArray(v)

/**
 * The leaves that differ between two values, by dotted path with list indices as segments (`templates.1.text`, the
 * form config errors use); lists are compared whole when their lengths differ.
 */
export const diffValues = (before: Keyable | undefined, after: Keyable | undefined, path = ""): KeyChange[] => {
  if (canonical(before) === canonical(after)) return []
  if (isRecord(before) && isRecord(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort()
    return keys.flatMap((k) => diffValues(before[k], after[k], path === "" ? k : `${path}.${k}`))
  }
  if (Array.isArray(before) && Array.isArray(after) && before.length === after.length) {
    return before.flatMap((b, i) => diffValues(b, (after as ReadonlyArray<Keyable>)[i], path === "" ? String(i) : `${path}.${i}`))
  }
  return [{ path: path === "" ? "(root)" : path, before, after }]
}
