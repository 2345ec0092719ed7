import { Effect } from "effect"
import { DatasetError } from "../DatasetError"
import { decodeUtf8, isRecord, kindOf, type Loader, type RawRow } from "./RawRow"

/**
 * The offset of the first JSON syntax error in text that JSON.parse rejected (Node 20's messages do not
 * always carry a position), found by a recursive-descent scan of the JSON grammar.
 */
export const jsonErrorOffset = (text: string): number => {
  let i = 0
  const space = () => {
    while (i < text.length && " \t\n\r".includes(text[i]!)) i++
  }
  const advance = (by: number) => {
    i += by
    return true
  }
  const literal = (word: string) => text.startsWith(word, i) && advance(word.length)
  const number = () => {
    const pattern = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y
    pattern.lastIndex = i
    return pattern.test(text) && advance(pattern.lastIndex - i)
  }
  const string = () => {
    i++
    while (i < text.length) {
      const c = text[i]!
      if (c === '"') return advance(1)
      if (c < " ") return false
      if (c !== "\\") i++
      else if (text[i + 1] === "u" && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) i += 6
      else if (/^["\\/bfnrt]$/.test(text[i + 1] ?? "")) i += 2
      else return false
    }
    return false
  }
  const sequence = (close: string, item: () => boolean): boolean => {
    i++
    space()
    if (text[i] === close) return advance(1)
    for (;;) {
      if (!item()) return false
      space()
      if (text[i] === close) return advance(1)
      if (text[i] !== ",") return false
      i++
      space()
    }
  }
  const member = (): boolean => {
    if (text[i] !== '"' || !string()) return false
    space()
    if (text[i] !== ":") return false
    i++
    space()
    return value()
  }
  const value = (): boolean => {
    const c = text[i]
    if (c === "{") return sequence("}", member)
    if (c === "[") return sequence("]", value)
    if (c === '"') return string()
    if (c === "t") return literal("true")
    if (c === "f") return literal("false")
    if (c === "n") return literal("null")
    return number()
  }
  space()
  if (value()) space()
  return i
}

const lineAt = (text: string, offset: number): number => text.slice(0, offset).split("\n").length

/** Parses a JSON array of objects; each element's row number is its 1-based index. */
export const parseJsonArray = (text: string, file: string): Effect.Effect<ReadonlyArray<RawRow>, DatasetError> =>
  Effect.try({
    try: () => JSON.parse(text) as unknown,
    catch: (e) =>
      new DatasetError({
        file,
        line: lineAt(text, jsonErrorOffset(text)),
        field: "",
        reason: `malformed JSON: ${(e as Error).message}`
      })
  }).pipe(
    Effect.filterOrFail(
      (value): value is ReadonlyArray<unknown> => Array.isArray(value),
      (value) => new DatasetError({ file, line: 0, field: "", reason: `expected a JSON array of objects, got ${kindOf(value)}` })
    ),
    Effect.map((values) =>
      values.map((value, index): RawRow =>
        isRecord(value)
          ? { _tag: "Record", line: index + 1, value }
          : { _tag: "Malformed", line: index + 1, field: "", reason: `expected a JSON object, got ${kindOf(value)}` }
      )
    )
  )

/** Loads a file holding one JSON array of objects. */
export const loadJson: Loader = (data, file) => Effect.flatMap(decodeUtf8(data, file), (text) => parseJsonArray(text, file))
