import { Either, Schema } from "effect"
import { type Adapter, assembleTask, decodeFields, firstPresent, OptionalPrompt, OptionalText } from "./Adapter"

const MathRow = Schema.Struct({
  problem: OptionalPrompt,
  prompt: OptionalPrompt,
  solution: OptionalText,
  answer: Schema.optional(Schema.NullOr(Schema.Union(Schema.String, Schema.Number))),
  level: Schema.optional(Schema.NullOr(Schema.Union(Schema.Number, Schema.String))),
  type: OptionalText,
  subject: OptionalText
})

/** The argument of the last `\boxed{...}` in a worked solution (braces balanced), which MATH uses as the final answer. */
export const lastBoxed = (solution: string): string | undefined => {
  const start = solution.lastIndexOf("\\boxed{")
  if (start < 0) return undefined
  let depth = 0
  for (let i = start + "\\boxed".length; i < solution.length; i++) {
    if (solution[i] === "{") depth++
    else if (solution[i] === "}" && --depth === 0) return solution.slice(start + "\\boxed{".length, i)
  }
  return undefined
}

// MATH writes levels as "Level 3"; flattened copies and CSV cells write 3 or "3".
const levelOf = (level: number | string): number | string => {
  const match = typeof level === "string" ? /^\s*(?:level\s*)?(\d+)\s*$/i.exec(level) : null
  return match === null ? level : Number(match[1])
}

/** MATH problems: the prompt is `problem` (or `prompt`); meta keeps `answer` (from the last `\boxed{}` of the solution when absent), `solution`, `level` and `subject` (or `type`). */
export const math: Adapter = (record, origin) =>
  Either.flatMap(decodeFields(MathRow, record), (row) => {
    const prompt = firstPresent(row.problem, row.prompt)
    if (prompt === undefined) return Either.left({ field: "problem", reason: "is missing (a MATH row needs `problem` or `prompt`)" })
    const answer = firstPresent(row.answer, row.solution ? lastBoxed(row.solution) : undefined)
    return assembleTask({
      record,
      prompt,
      override: origin,
      fallbackOrigin: "math",
      consumed: ["problem", "solution", "answer", "level", "type", "subject"],
      meta: {
        answer: answer === undefined ? undefined : String(answer),
        solution: row.solution ?? undefined,
        level: row.level === undefined || row.level === null ? undefined : levelOf(row.level),
        subject: firstPresent(row.subject, row.type)
      }
    })
  })
