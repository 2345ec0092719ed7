import { Context, Effect, Layer } from "effect"
import type { StageProgress } from "./Stage"

/** Receives build events and shows them to a person. */
export class Progress extends Context.Tag("prefpipe/Progress")<
  Progress,
  {
    /** A stage started running; returns the handle its run reports rows through. */
    readonly start: (node: string) => Effect.Effect<StageProgress & { readonly finish: (status: string) => Effect.Effect<void> }>
    readonly note: (message: string) => Effect.Effect<void>
  }
>() {
  /** Discards everything (tests, and `--quiet`). */
  static readonly layerSilent = Layer.succeed(Progress, {
    start: () =>
      Effect.succeed({ total: () => Effect.void, done: () => Effect.void, finish: () => Effect.void }),
    note: () => Effect.void
  })

  /** One line per running stage on stderr: rows done, rate and ETA; throttled so logs stay readable. */
  static readonly layerStderr = Layer.sync(Progress, () => {
    const write = (line: string) => process.stderr.write(line + "\n")
    return {
      note: (message) => Effect.sync(() => write(message)),
      start: (node) =>
        Effect.sync(() => {
          const started = Date.now()
          let total: number | undefined
          let done = 0
          let lastPrint = 0
          const line = () => {
            const seconds = (Date.now() - started) / 1000
            const rate = seconds > 0 ? done / seconds : 0
            const of = total === undefined ? "" : `/${total}`
            const eta = total !== undefined && rate > 0 ? `  ETA ${formatSeconds((total - done) / rate)}` : ""
            return `  ${node}  ${done}${of} rows  ${rate.toFixed(1)} rows/s${eta}`
          }
          const maybePrint = (force: boolean) => {
            const now = Date.now()
            if (force || now - lastPrint >= 2000) {
              lastPrint = now
              write(line())
            }
          }
          write(`▶ ${node}`)
          return {
            total: (rows) => Effect.sync(() => void (total = rows)),
            done: (rows) =>
              Effect.sync(() => {
                done = rows
                maybePrint(false)
              }),
            finish: (status) =>
              Effect.sync(() => {
                const rows = total === undefined ? "" : ` ${done} rows,`
                write(`✔ ${node} ${status} (${rows} ${formatSeconds((Date.now() - started) / 1000)})`)
              })
          }
        })
    }
  })
}

/** "1m05s" style durations for progress lines. */
export const formatSeconds = (s: number): string => {
  if (!Number.isFinite(s)) return "?"
  if (s < 60) return `${s.toFixed(1)}s`
  const m = Math.floor(s / 60)
  return `${m}m${String(Math.round(s - m * 60)).padStart(2, "0")}s`
}
