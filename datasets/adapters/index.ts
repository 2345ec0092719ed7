import { Schema } from "effect"
import type { Adapter } from "./Adapter"
import { alpaca } from "./alpaca"
import { bailbench } from "./bailbench"
import { generic } from "./generic"
import { math } from "./math"
import { wildchat } from "./wildchat"

/** The name of an adapter for a dataset's native row shape. */
export const AdapterName = Schema.Literal("alpaca", "bailbench", "math", "wildchat", "generic")

/** An adapter name. */
export type AdapterName = typeof AdapterName.Type

/** Every adapter by name. */
export const adapters: Readonly<Record<AdapterName, Adapter>> = { alpaca, bailbench, math, wildchat, generic }

/**
 * Picks the adapter for a record by the fields that mark each native shape; an already-flattened row
 * (with `prompt`) goes to the adapter its `origin` names, or to the generic one.
 */
export const detectAdapter = (record: Readonly<Record<string, unknown>>): AdapterName => {
  const has = (field: string) => record[field] !== undefined && record[field] !== null
  if (has("conversation")) return "wildchat"
  if (has("problem")) return "math"
  if (has("instruction")) return "alpaca"
  if (has("content")) return "bailbench"
  const origin = typeof record.origin === "string" ? record.origin.toLowerCase() : ""
  return Schema.is(AdapterName)(origin) ? origin : "generic"
}
