import { createHash } from "node:crypto"
import { Schema } from "effect"

/** A task origin: a lower-case name such as `alpaca`, `bailbench`, `math` or `wildchat`. */
export const Origin = Schema.String.pipe(
  Schema.pattern(/^[a-z][a-z0-9_]*$/, { message: () => "an origin is lower-case letters, digits and underscores" })
)

/** A string with at least one non-whitespace character. */
export const NonBlankString = Schema.String.pipe(
  Schema.filter((s) => s.trim().length > 0, { message: () => "expected a non-empty string" })
)

/** One task a model is asked to do; `meta` holds every source field not used as the prompt. */
export const Task = Schema.Struct({
  task_id: NonBlankString,
  origin: Origin,
  prompt: NonBlankString,
  meta: Schema.Record({ key: Schema.String, value: Schema.Unknown })
})

/** A decoded task. */
export type Task = typeof Task.Type

/** The id of a task that came without one: `<origin>_<first 12 hex of sha256(prompt)>`. */
export const derivedTaskId = (origin: string, prompt: string): string =>
  `${origin}_${createHash("sha256").update(prompt, "utf8").digest("hex").slice(0, 12)}`
