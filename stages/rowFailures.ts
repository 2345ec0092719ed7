import { Effect, Schema } from "effect"

/** Counts of failed rows by reason, most frequent first (ties by reason). */
export const countReasons = (reasons: Iterable<string>): Array<readonly [string, number]> => {
  const counts = new Map<string, number>()
  for (const r of reasons) counts.set(r, (counts.get(r) ?? 0) + 1)
  return [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
}

/** "50 HTTP 500, 33 timeout": the reasons and how often, most frequent first. */
export const formatReasons = (reasons: Iterable<string>): string => countReasons(reasons).map(([r, n]) => `${n} ${r}`).join(", ")

/** More of a stage's rows failed than its `failOnError` allows. */
export class TooManyFailedRows extends Schema.TaggedError<TooManyFailedRows>()("TooManyFailedRows", {
  failed: Schema.Number,
  total: Schema.Number,
  failOnError: Schema.Number,
  reasons: Schema.String
}) {
  get message() {
    const share = this.total === 0 ? 0 : this.failed / this.total
    return (
      `${this.failed} of ${this.total} rows failed (${(100 * share).toFixed(1)}%, more than failOnError ${this.failOnError}): ${this.reasons}. ` +
      "Answers already received are kept in the row memo, so a rerun asks only the failed rows; raise failOnError to accept them as failed"
    )
  }
}

/** Fails with `TooManyFailedRows` when the share of failed rows exceeds `failOnError`; otherwise lets the stage finish. */
export const checkFailedRows = (reasons: ReadonlyArray<string>, total: number, failOnError: number): Effect.Effect<void, TooManyFailedRows> =>
  total > 0 && reasons.length / total > failOnError
    ? Effect.fail(new TooManyFailedRows({ failed: reasons.length, total, failOnError, reasons: formatReasons(reasons) }))
    : Effect.void

/** The `failOnError` field: the share of a stage's rows that may fail (requests still failing after their retries) before the stage does. */
export const FailOnError = Schema.Number.pipe(Schema.between(0, 1))

/** `failOnError` as a stage parameter: 0.1 when a graph gives none. */
export const FailOnErrorParam = Schema.optionalWith(FailOnError, { default: () => 0.1 })
