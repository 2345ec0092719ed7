import { Effect } from "effect"
import { memoMap, type RowMemo } from "../cache/Memo"
import type { StoreError } from "../cache/StoreErrors"
import type { Keyable } from "../core/Key"
import type { TransportCounters } from "../model/api/Transport"
import type { ModelError, Parallelism } from "../model/SubjectModel"
import type { StageContext } from "../pipeline/Stage"

/** A row whose request still failed after its retries: the short reason (`HTTP 500`, `malformed reply: choices is empty`). */
export interface FailedRow {
  readonly failed: string
}

/** True for a failed row. */
export const isFailedRow = (x: unknown): x is FailedRow => typeof x === "object" && x !== null && "failed" in x

/**
 * A model call over a batch that fails row by row: when the call fails, each row is asked alone, so a bad row (a
 * reply still malformed after its retries, a prompt too long) costs only itself.
 */
export const rowByRow =
  <I, O, R>(call: (batch: ReadonlyArray<I>) => Effect.Effect<ReadonlyArray<O>, ModelError, R>) =>
  (batch: ReadonlyArray<I>): Effect.Effect<ReadonlyArray<O | FailedRow>, never, R> => {
    const alone = (item: I) =>
      call([item]).pipe(
        Effect.map((out): O | FailedRow => out[0]!),
        Effect.catchTag("ModelError", (e) => Effect.succeed<FailedRow>({ failed: e.failure ?? e.reason }))
      )
    return call(batch).pipe(Effect.catchTag("ModelError", (e) => (batch.length === 1 ? Effect.succeed([{ failed: e.failure ?? e.reason }]) : Effect.forEach(batch, alone))))
  }

/**
 * Asks a model for every item through the row memo: hits read back, misses in the model's batch size and as many
 * calls at once as it takes, answers committed as they arrive, failed rows returned but never stored (a rerun asks
 * them again).
 */
export const askRows = <I, O, R>(options: {
  readonly parallelism: Parallelism
  readonly namespace: string
  readonly items: ReadonlyArray<I>
  readonly key: (item: I) => Keyable
  readonly call: (batch: ReadonlyArray<I>) => Effect.Effect<ReadonlyArray<O>, ModelError, R>
  readonly onProgress?: (done: number) => Effect.Effect<void>
}): Effect.Effect<ReadonlyArray<O | FailedRow>, StoreError, R | RowMemo> =>
  memoMap<I, O | FailedRow, never, R>({
    namespace: options.namespace,
    items: options.items,
    key: options.key,
    compute: rowByRow(options.call),
    batchSize: options.parallelism.batchSize,
    concurrency: options.parallelism.concurrency,
    keep: (o) => !isFailedRow(o),
    ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress })
  })

/** Token usage of one answered row. */
export interface RowUsage {
  readonly prompt_tokens?: number | null
  readonly completion_tokens?: number | null
}

/**
 * Records what a stage's model rows cost: tokens summed over every row (memo hits included: what the output cost),
 * failed rows, and, for an API model, what its transport did while the stage ran (requests, retries, and per
 * endpoint 429/503s, failures, cuts and raises of the concurrency limit, ejections, the limit now and its lowest).
 */
export const recordUse = (
  context: Pick<StageContext<unknown>, "count">,
  rows: ReadonlyArray<RowUsage | FailedRow>,
  before: TransportCounters | undefined,
  after: TransportCounters | undefined
): Effect.Effect<void> => {
  if (context.count === undefined) return Effect.void
  const answered = rows.filter((r): r is RowUsage => !isFailedRow(r))
  const counts: Record<string, number> = {
    rows_failed: rows.length - answered.length,
    prompt_tokens: answered.reduce((a, r) => a + (r.prompt_tokens ?? 0), 0),
    completion_tokens: answered.reduce((a, r) => a + (r.completion_tokens ?? 0), 0)
  }
  if (before !== undefined && after !== undefined) {
    counts.requests = after.requests - before.requests
    counts.retries = after.retries - before.retries
    after.endpoints.forEach((e, i) => {
      const b = before.endpoints[i]!
      const at = `endpoint${i}`
      counts[`${at}.sent`] = e.sent - b.sent
      counts[`${at}.congested`] = e.congested - b.congested
      counts[`${at}.failed`] = e.failed - b.failed
      counts[`${at}.cuts`] = e.cuts - b.cuts
      counts[`${at}.raises`] = e.raises - b.raises
      counts[`${at}.ejections`] = e.ejections - b.ejections
      counts[`${at}.limit_start`] = b.limit
      counts[`${at}.limit_min`] = e.limitMin
      counts[`${at}.limit_end`] = e.limit
    })
  }
  return context.count(counts)
}
