import { Context, Effect, Layer } from "effect"
import type { ProgressUnit, StageProgress } from "./Stage"

/** Receives build events and shows them to a person. */
export class Progress extends Context.Tag("prefpipe/Progress")<
  Progress,
  {
    /** A stage started running; returns the handle its run reports progress through. */
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

  /** Line-based progress for logs and pipes: a line per stage start, step and finish, row counts every 2 seconds. */
  static readonly layerStderr = Layer.sync(Progress, () => lineProgress((line) => process.stderr.write(line + "\n")))

  /** On a terminal: finished stages and notes scroll by, and one line per running stage is updated in place. */
  static readonly layerTerminal = Layer.sync(Progress, () => terminalProgress(process.stderr))

  /** `layerTerminal` when stderr is a terminal, else `layerStderr`. */
  static readonly layerAuto = Layer.suspend(() => (process.stderr.isTTY === true ? Progress.layerTerminal : Progress.layerStderr))
}

/** The state of one running stage, as the progress lines show it. */
export interface RunningStage {
  readonly node: string
  readonly started: number
  total: number | undefined
  unit: ProgressUnit
  done: number
  label: string | undefined
}

/** One line for a running stage: work done of its total, rate and ETA, and the step it is on. */
export const describeRunning = (r: RunningStage, now: number): string => {
  const seconds = (now - r.started) / 1000
  const label = r.label === undefined ? "" : `  · ${r.label}`
  if (r.total === undefined) return `  ${r.node}  ${formatSeconds(seconds)}${label}`
  const rate = seconds > 0 ? r.done / seconds : 0
  const eta = rate > 0 && r.done < r.total ? `  ETA ${formatSeconds((r.total - r.done) / rate)}` : ""
  const speed = r.unit === "rows" ? `  ${rate.toFixed(1)} rows/s` : `  ${formatSeconds(seconds)}`
  return `  ${r.node}  ${r.done}/${r.total} ${r.unit}${speed}${eta}${label}`
}

const finishedLine = (r: RunningStage, status: string, now: number) => {
  const rows = r.total === undefined || r.unit !== "rows" ? "" : ` ${r.done} rows,`
  return `✔ ${r.node} ${status} (${rows} ${formatSeconds((now - r.started) / 1000)})`.replace("( ", "(")
}

const newStage = (node: string): RunningStage => ({ node, started: Date.now(), total: undefined, unit: "rows", done: 0, label: undefined })

/** Line-based progress: each event is a line of its own; row counts are throttled so logs stay readable. */
export const lineProgress = (write: (line: string) => void, throttleMs = 2000): Context.Tag.Service<Progress> => ({
  note: (message) => Effect.sync(() => write(message)),
  start: (node) =>
    Effect.sync(() => {
      const r = newStage(node)
      let lastPrint = 0
      write(`▶ ${node}`)
      return {
        total: (count, unit = "rows") =>
          Effect.sync(() => {
            r.total = count
            r.unit = unit
          }),
        done: (count, label) =>
          Effect.sync(() => {
            const stepChanged = label !== undefined && label !== r.label
            r.done = count
            if (label !== undefined) r.label = label
            const now = Date.now()
            if (stepChanged || now - lastPrint >= throttleMs) {
              lastPrint = now
              write(describeRunning(r, now))
            }
          }),
        finish: (status) => Effect.sync(() => write(finishedLine(r, status, Date.now())))
      }
    })
})

/** Where terminal progress is drawn: a stream with the terminal's width. */
export interface TerminalOut {
  readonly write: (text: string) => unknown
  readonly columns?: number
}

/**
 * Terminal progress: a live block of one line per running stage at the bottom, redrawn in place (cursor up, clear to
 * the end of the screen) on every event, row updates at most every `throttleMs`; finished stages and notes are
 * printed above it and stay. Lines are cut to the terminal's width so that none wraps and the block keeps its height.
 */
export const terminalProgress = (out: TerminalOut, throttleMs = 100): Context.Tag.Service<Progress> => {
  const running: RunningStage[] = []
  let drawn = 0
  let lastDraw = 0
  let timer: ReturnType<typeof setInterval> | undefined
  const fit = (line: string) => {
    const width = Math.max(20, (out.columns ?? 100) - 1)
    return line.length > width ? `${line.slice(0, width - 1)}…` : line
  }
  const redraw = (permanent: ReadonlyArray<string> = []) => {
    const now = Date.now()
    lastDraw = now
    const clear = drawn > 0 ? `\x1b[${drawn}F\x1b[0J` : ""
    const live = running.map((r) => fit(describeRunning(r, now)))
    out.write(clear + [...permanent.map(fit), ...live].map((l) => `${l}\n`).join(""))
    drawn = live.length
    if (running.length > 0 && timer === undefined) {
      // Elapsed times and rates move even when no event arrives.
      timer = setInterval(() => redraw(), 1000)
      timer.unref?.()
    } else if (running.length === 0 && timer !== undefined) {
      clearInterval(timer)
      timer = undefined
    }
  }
  return {
    note: (message) => Effect.sync(() => redraw([message])),
    start: (node) =>
      Effect.sync(() => {
        const r = newStage(node)
        running.push(r)
        redraw()
        return {
          total: (count, unit = "rows") =>
            Effect.sync(() => {
              r.total = count
              r.unit = unit
              redraw()
            }),
          done: (count, label) =>
            Effect.sync(() => {
              const stepChanged = label !== undefined && label !== r.label
              r.done = count
              if (label !== undefined) r.label = label
              if (stepChanged || Date.now() - lastDraw >= throttleMs) redraw()
            }),
          finish: (status) =>
            Effect.sync(() => {
              const index = running.indexOf(r)
              if (index >= 0) running.splice(index, 1)
              redraw([finishedLine(r, status, Date.now())])
            })
        }
      })
  }
}

/** "1m05s" style durations for progress lines. */
export const formatSeconds = (s: number): string => {
  if (!Number.isFinite(s)) return "?"
  if (s < 60) return `${s.toFixed(1)}s`
  const m = Math.floor(s / 60)
  return `${m}m${String(Math.round(s - m * 60)).padStart(2, "0")}s`
}
