import { Schema } from "effect"
import { AdapterName } from "./adapters"
import { NonBlankString } from "./Task"

/** The task sets that ship with the project. */
export const BuiltinName = Schema.Literal("alpaca", "bailbench", "math", "wildchat")

/** A built-in task set name. */
export type BuiltinName = typeof BuiltinName.Type

/** A file format a dataset can be read from. */
export const DatasetFormat = Schema.Literal("jsonl", "json", "csv", "parquet")

/** A dataset file format. */
export type DatasetFormat = typeof DatasetFormat.Type

/**
 * One dataset in an experiment config: a file (`path`, relative to the config) or a built-in set; the
 * format defaults from the extension, the adapter from the rows, and bad rows fail the load unless
 * `onBadRow` is "skip".
 */
export const DatasetSpec = Schema.Struct({
  name: NonBlankString,
  path: Schema.optional(NonBlankString),
  builtin: Schema.optional(BuiltinName),
  format: Schema.optional(DatasetFormat),
  adapter: Schema.optional(AdapterName),
  origin: Schema.optional(Schema.String),
  onBadRow: Schema.optional(Schema.Literal("error", "skip"))
}).pipe(
  Schema.filter((spec) =>
    (spec.path === undefined) === (spec.builtin === undefined)
      ? { path: ["path"], message: `dataset "${spec.name}" needs exactly one of "path" and "builtin"` }
      : undefined
  )
)

/** A dataset spec. */
export type DatasetSpec = typeof DatasetSpec.Type
