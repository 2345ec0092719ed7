import type * as arrow from "apache-arrow"
import type { LoadedOutputs } from "../pipeline/Artifact"
import type { Task } from "../datasets/Task"
import { fromTable } from "./tables"

/** The tasks of a tasks table, meta parsed back from JSON. */
export const taskRows = (table: arrow.Table): Task[] =>
  fromTable<{ task_id: string; origin: string; prompt: string; meta: string }>(table).map((r) => ({
    task_id: r.task_id,
    origin: r.origin,
    prompt: r.prompt,
    meta: JSON.parse(r.meta) as Record<string, unknown>
  }))

const sampleZero = (completions: LoadedOutputs | undefined) =>
  completions === undefined
    ? []
    : fromTable<{ task_id: string; sample: number; text: string; error?: string | null }>(completions.table("completions")).filter((c) => c.sample === 0)

/**
 * Each task's first completion (sample 0), which post-task questions follow; empty without a completions input. A
 * completion whose request failed is not here (see `failedCompletions`).
 */
export const firstCompletions = (completions: LoadedOutputs | undefined): ReadonlyMap<string, string> =>
  new Map(sampleZero(completions).flatMap((c) => ((c.error ?? null) === null ? [[c.task_id, c.text] as const] : [])))

/** The tasks whose first completion failed, with the reason: their post-task questions cannot be asked. */
export const failedCompletions = (completions: LoadedOutputs | undefined): ReadonlyMap<string, string> =>
  new Map(sampleZero(completions).flatMap((c) => ((c.error ?? null) === null ? [] : [[c.task_id, c.error!] as const])))
