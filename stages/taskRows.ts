import type * as arrow from "apache-arrow"
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
