import { Effect, Layer } from "effect"
import { Progress } from "../Progress"

/** One MCP progress notification's payload. */
export interface ProgressUpdate {
  readonly progress: number
  readonly total: number
  readonly message: string
}

const started = 0.05
const throttleMs = 1000

/**
 * The engine's Progress as MCP progress notifications: each stage that runs counts one unit (a little on start, its
 * row fraction while running, all of it when it finishes) out of the stages the plan says will run. Only strictly
 * increasing values are sent, as the protocol requires, and row updates at most once a second per stage. Notes
 * also go to stderr, the server's log.
 */
export const layerMcpProgress = (notify: (update: ProgressUpdate) => Effect.Effect<void>, stages: number) =>
  Layer.sync(Progress, () => {
    const fractions = new Map<string, number>()
    let finished = 0
    let sent = 0
    const send = (message: string) =>
      Effect.suspend(() => {
        const progress = finished + [...fractions.values()].reduce((a, b) => a + b, 0)
        if (progress <= sent) return Effect.void
        sent = progress
        return notify({ progress, total: Math.max(stages, Math.ceil(progress)), message })
      })
    return {
      // A note (damage set aside, a lock taken over) may not advance progress, so it also goes to the server's log.
      note: (message) => Effect.zipRight(Effect.sync(() => void process.stderr.write(message + "\n")), send(message)),
      start: (node) =>
        Effect.gen(function* () {
          fractions.set(node, started)
          yield* send(`${node}: started`)
          let total: number | undefined
          let lastSent = 0
          return {
            total: (rows) => Effect.sync(() => void (total = rows)),
            done: (rows) =>
              Effect.suspend(() => {
                if (total === undefined || total <= 0) return Effect.void
                const now = Date.now()
                if (now - lastSent < throttleMs && rows < total) return Effect.void
                lastSent = now
                fractions.set(node, started + (1 - 2 * started) * Math.min(1, rows / total))
                return send(`${node}: ${rows}/${total} rows`)
              }),
            finish: (status) =>
              Effect.suspend(() => {
                fractions.delete(node)
                finished++
                return send(`${node}: ${status}`)
              })
          }
        })
    }
  })
