import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { Progress } from "../../../pipeline/Progress"
import { layerMcpProgress, type ProgressUpdate } from "../../../pipeline/mcp/McpProgress"

describe("layerMcpProgress", () => {
  it.effect("sends strictly increasing progress that ends at the number of stages", () => {
    const updates: ProgressUpdate[] = []
    return Effect.gen(function* () {
      const progress = yield* Progress
      for (const node of ["a", "b"]) {
        const handle = yield* progress.start(node)
        yield* handle.total(10)
        for (const rows of [0, 3, 10]) yield* handle.done(rows)
        yield* progress.note("a note that does not advance")
        yield* handle.finish("executed")
      }
      expect(updates.length).toBeGreaterThan(3)
      expect(updates.every((u, i) => i === 0 || u.progress > updates[i - 1]!.progress)).toBe(true)
      expect(updates.every((u) => u.total === 2)).toBe(true)
      expect(updates.map((u) => u.message)).toContain("a: 10/10 rows")
      expect(updates.at(-1)).toEqual({ progress: 2, total: 2, message: "b: executed" })
    }).pipe(Effect.provide(layerMcpProgress((u) => Effect.sync(() => void updates.push(u)), 2)))
  })
})
