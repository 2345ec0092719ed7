import { Either, Schema } from "effect"
import { decodeIssues } from "../../core/DecodeIssue"
import { derivedTaskId, type Task } from "../Task"
import { kindOf } from "../loaders/RawRow"

/** Why one record could not become a task: the field at fault and the reason. */
export interface RowIssue {
  readonly field: string
  readonly reason: string
}

/** Turns one raw record into a task; `origin`, when given, overrides the record's own origin. */
export type Adapter = (record: Readonly<Record<string, unknown>>, origin: string | undefined) => Either.Either<Task, RowIssue>

/** Decodes the fields an adapter reads, reporting the first failing field by its path. */
export const decodeFields = <A, I>(
  schema: Schema.Schema<A, I>,
  record: Readonly<Record<string, unknown>>
): Either.Either<A, RowIssue> =>
  Either.mapLeft(Schema.decodeUnknownEither(schema)(record), (error) => decodeIssues(error)[0] ?? { field: "", reason: "invalid" })

/** An optional text field; null (as Parquet writes a missing cell) counts as absent. */
export const OptionalText = Schema.optional(Schema.NullOr(Schema.String))

/** A field whose text, when present, must not be blank. */
export const OptionalPrompt = Schema.optional(
  Schema.NullOr(Schema.String.pipe(Schema.filter((s) => s.trim().length > 0, { message: () => "is empty" })))
)

/** The first defined, non-null value among the candidates. */
export const firstPresent = <A>(...values: ReadonlyArray<A | null | undefined>): A | undefined =>
  values.find((value): value is A => value !== undefined && value !== null)

const idOf = (record: Readonly<Record<string, unknown>>): Either.Either<string | undefined, RowIssue> => {
  const field = record.id !== undefined && record.id !== null && record.id !== "" ? "id" : "task_id"
  const value = record[field]
  if (value === undefined || value === null || value === "") return Either.right(undefined)
  if (typeof value === "string" && value.trim() !== "") return Either.right(value)
  if (typeof value === "number" && Number.isSafeInteger(value)) return Either.right(String(value))
  return Either.left({ field, reason: `expected a non-empty string or an integer, got ${kindOf(value)}` })
}

const originOf = (
  record: Readonly<Record<string, unknown>>,
  override: string | undefined,
  fallback: string | undefined
): Either.Either<string, RowIssue> => {
  const own = record.origin === null || record.origin === "" ? undefined : record.origin
  if (override === undefined && own !== undefined && typeof own !== "string") {
    return Either.left({ field: "origin", reason: `expected a string, got ${kindOf(own)}` })
  }
  const origin = (override ?? (own as string | undefined) ?? fallback)?.trim().toLowerCase()
  if (origin === undefined) return Either.left({ field: "origin", reason: "is missing (set it in the row or in the dataset spec)" })
  return /^[a-z][a-z0-9_]*$/.test(origin)
    ? Either.right(origin)
    : Either.left({ field: "origin", reason: "is not an origin name (lower-case letters, digits, underscores)" })
}

const identityFields = new Set(["id", "task_id", "origin", "prompt"])

/**
 * Assembles a task: keeps a given `id`/`task_id` or derives one from origin and prompt; meta is every
 * field of the record the adapter did not consume, then the adapter's own meta entries.
 */
export const assembleTask = (args: {
  readonly record: Readonly<Record<string, unknown>>
  readonly prompt: string
  readonly override: string | undefined
  readonly fallbackOrigin: string | undefined
  readonly consumed: ReadonlyArray<string>
  readonly meta?: Readonly<Record<string, unknown>>
}): Either.Either<Task, RowIssue> =>
  Either.gen(function* () {
    const origin = yield* originOf(args.record, args.override, args.fallbackOrigin)
    const id = yield* idOf(args.record)
    const consumed = new Set([...identityFields, ...args.consumed])
    const rest = Object.entries(args.record).filter(([key]) => !consumed.has(key))
    const extra = Object.entries(args.meta ?? {}).filter(([, value]) => value !== undefined)
    return {
      task_id: id ?? derivedTaskId(origin, args.prompt),
      origin,
      prompt: args.prompt,
      meta: Object.fromEntries([...rest, ...extra])
    }
  })
