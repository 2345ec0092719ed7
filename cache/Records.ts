import { Effect, Either } from "effect"
import { formatJsonSyntaxError, parseJson } from "../core/JsonText"
import { hashValue, toKeyable } from "../core/Key"
import type { StoreError } from "./StoreErrors"
import { readIfExists, writeAtomic } from "./AtomicFile"
import type { CacheDir } from "./CacheDir"
import { setAside } from "./Quarantine"

const checksumOf = (value: object): string => hashValue(["prefpipe/record/1", toKeyable(value)])

/** A record as stored: its fields and a checksum of them (the canonical hash of everything else in the file). */
export const recordText = (value: object): string => JSON.stringify({ ...value, checksum: checksumOf(value) }, null, 1)

/**
 * Checks a stored record's text: the record without its checksum, or why the text is not a whole, unaltered record.
 * A record with no checksum at all was written before records carried one: it is accepted as it is (`legacy`).
 */
export const checkRecordText = <A>(text: string): Either.Either<{ readonly value: A; readonly legacy: boolean }, string> => {
  const parsed = parseJson(text)
  if (Either.isLeft(parsed)) return Either.left(formatJsonSyntaxError(parsed.left))
  const value = parsed.right
  if (typeof value !== "object" || value === null || Array.isArray(value)) return Either.left("not a JSON object")
  const { checksum, ...rest } = value as Record<string, unknown>
  if (checksum === undefined) return Either.right({ value: rest as A, legacy: true })
  return checksum === checksumOf(rest) ? Either.right({ value: rest as A, legacy: false }) : Either.left("checksum does not match its content")
}

/** Writes a checksummed JSON record atomically. */
export const writeRecord = (file: string, value: object): Effect.Effect<void, StoreError> => writeAtomic(file, recordText(value))

/**
 * Writes a record unless the file already holds exactly its text: a build that finds every stage cached restates
 * every node's state, and a durable write (an fsync) for each was most of its time.
 */
export const restateRecord = (file: string, value: object): Effect.Effect<void, StoreError> => {
  const text = recordText(value)
  return Effect.flatMap(readIfExists(file), (held) => (held !== undefined && held.equals(Buffer.from(text)) ? Effect.void : writeAtomic(file, text)))
}

/**
 * Reads a checksummed record, or undefined when there is none. A record that does not parse or fails its checksum
 * is moved to the quarantine with one line saying so and reads as absent, so whatever it stood for is recomputed;
 * `then` says what that means for this kind of record. A record from before checksums is rewritten with one.
 */
export const readRecord = <A extends object>(file: string, then: string): Effect.Effect<A | undefined, StoreError, CacheDir> =>
  Effect.flatMap(readIfExists(file), (buf) => {
    if (buf === undefined) return Effect.succeed(undefined)
    const checked = checkRecordText<A>(buf.toString("utf8"))
    if (Either.isLeft(checked)) return Effect.as(setAside([file], checked.left, then), undefined)
    return checked.right.legacy ? Effect.as(writeRecord(file, checked.right.value), checked.right.value) : Effect.succeed(checked.right.value)
  })
