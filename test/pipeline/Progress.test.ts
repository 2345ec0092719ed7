import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { describeRunning, lineProgress, terminalProgress } from "../../pipeline/Progress"

/** A terminal that understands what terminal progress writes: text, newlines, cursor-up-to-line-start and clear-below. */
const screen = () => {
  const lines: string[] = [""]
  let row = 0
  const write = (text: string) => {
    for (const part of text.split(/(\x1b\[\d*[A-Za-z]|\n)/)) {
      if (part === "") continue
      const escape = /^\x1b\[(\d*)([A-Za-z])$/.exec(part)
      if (part === "\n") {
        row++
        if (lines.length <= row) lines.push("")
      } else if (escape?.[2] === "F") {
        row = Math.max(0, row - Number(escape[1] || 1))
      } else if (escape?.[2] === "J") {
        lines.splice(row + 1)
        lines[row] = ""
      } else if (escape !== null) {
        throw new Error(`unexpected escape ${JSON.stringify(part)}`)
      } else {
        lines[row] = (lines[row] ?? "") + part
      }
    }
  }
  return { write, columns: 80, lines: () => lines.slice(0, row).concat(lines[row] === "" ? [] : [lines[row]!]) }
}

describe("terminal progress", () => {
  it.effect("keeps one line per running stage, updated in place, with finished stages and notes above", () =>
    Effect.gen(function* () {
      const term = screen()
      const progress = terminalProgress(term, 0)
      const a = yield* progress.start("elicit[q1]")
      const b = yield* progress.start("probe_eval[q1@1]")
      yield* a.total(1000)
      yield* b.total(6, "steps")
      yield* a.done(250)
      yield* b.done(2, "held-one-out: math")
      yield* a.done(500)
      expect(term.lines()).toHaveLength(2)
      expect(term.lines()[0]).toMatch(/^  elicit\[q1\]  500\/1000 rows  [\d.]+ rows\/s/)
      expect(term.lines()[1]).toMatch(/^  probe_eval\[q1@1\]  2\/6 steps  [\d.]+s.*· held-one-out: math$/)
      yield* progress.note("… a note")
      yield* a.finish("executed")
      expect(term.lines()).toEqual([
        "… a note",
        expect.stringMatching(/^✔ elicit\[q1\] executed \(500 rows, [\d.]+s\)$/),
        expect.stringMatching(/^  probe_eval\[q1@1\]  2\/6 steps/)
      ])
      yield* b.finish("failed")
      expect(term.lines()).toHaveLength(3)
      expect(term.lines()[2]).toMatch(/^✔ probe_eval\[q1@1\] failed \([\d.]+s\)$/)
    })
  )

  it.effect("cuts lines to the terminal's width so that none wraps", () =>
    Effect.gen(function* () {
      const term = { ...screen(), columns: 30 }
      const progress = terminalProgress(term, 0)
      const a = yield* progress.start("activations[a_template_with_a_very_long_name]")
      yield* a.total(10)
      yield* a.done(3)
      for (const line of term.lines()) expect(line.length).toBeLessThanOrEqual(29)
      yield* a.finish("executed")
    })
  )
})

describe("line progress (logs and pipes)", () => {
  it.effect("prints a line per start, step and finish, and throttles row counts", () =>
    Effect.gen(function* () {
      const lines: string[] = []
      const progress = lineProgress((l) => lines.push(l), 60_000)
      const a = yield* progress.start("report_utilities[utilities]")
      yield* a.total(3, "steps")
      yield* a.done(0, "revealed_v1: fits")
      yield* a.done(1, "revealed_v1: probes at layer 1")
      yield* a.done(1, "revealed_v1: probes at layer 1")
      yield* a.finish("executed")
      expect(lines[0]).toBe("▶ report_utilities[utilities]")
      expect(lines[1]).toMatch(/0\/3 steps .*· revealed_v1: fits$/)
      expect(lines[2]).toMatch(/1\/3 steps .*· revealed_v1: probes at layer 1$/)
      expect(lines).toHaveLength(4)
      expect(lines[3]).toMatch(/^✔ report_utilities\[utilities\] executed \([\d.]+s\)$/)
    })
  )

  it("describes a stage with rows, with steps, and with neither", () => {
    const started = 0
    expect(describeRunning({ node: "n", started, total: 100, unit: "rows", done: 50, label: undefined }, 10_000)).toBe("  n  50/100 rows  5.0 rows/s  ETA 10.0s")
    expect(describeRunning({ node: "n", started, total: 4, unit: "steps", done: 1, label: "hoo: math" }, 10_000)).toBe("  n  1/4 steps  10.0s  ETA 30.0s  · hoo: math")
    expect(describeRunning({ node: "n", started, total: undefined, unit: "rows", done: 0, label: "calibrating" }, 2_000)).toBe("  n  2.0s  · calibrating")
  })
})
