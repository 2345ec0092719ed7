import { createHash } from "node:crypto"
import type { Task } from "./Task"

/** How many tasks to draw per origin, and the seed that decides which. */
export interface StratifiedSampleOptions {
  readonly perOrigin: number
  readonly seed: number | string
}

/**
 * Draws up to `perOrigin` tasks from each origin. Each task's rank is a hash of (seed, task id), so the
 * draw depends only on the seed and the set of tasks, never on their order. Returns tasks sorted by origin,
 * then task id.
 */
export const sampleStratified = (tasks: ReadonlyArray<Task>, options: StratifiedSampleOptions): Array<Task> => {
  if (!Number.isInteger(options.perOrigin) || options.perOrigin < 0) {
    throw new RangeError(`sampleStratified: perOrigin must be a non-negative integer, got ${options.perOrigin}`)
  }
  const rank = (task: Task) =>
    createHash("sha256").update(`${options.seed}\u0000${task.task_id}\u0000${task.prompt}`, "utf8").digest("hex")
  const byOrigin = new Map<string, Array<{ task: Task; rank: string }>>()
  for (const task of tasks) {
    const group = byOrigin.get(task.origin) ?? []
    group.push({ task, rank: rank(task) })
    byOrigin.set(task.origin, group)
  }
  const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)
  return [...byOrigin.values()]
    .flatMap((group) => group.sort((a, b) => compare(a.rank, b.rank)).slice(0, options.perOrigin).map(({ task }) => task))
    .sort((a, b) => compare(a.origin, b.origin) || compare(a.task_id, b.task_id))
}
