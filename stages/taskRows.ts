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

/** Each task's first completion (sample 0), which post-task questions follow; empty without a completions input. */
export const firstCompletions = (completions: LoadedOutputs | undefined): ReadonlyMap<string, string> =>
  new Map(
    completions === undefined
      ? []
      : fromTable<{ task_id: string; sample: number; text: string }>(completions.table("completions"))
          .filter((c) => c.sample === 0)
          .map((c) => [c.task_id, c.text] as const)
  )
