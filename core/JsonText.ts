import * as Either from "effect/Either"

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

/** Where and why a text is not JSON, without quoting any of it. */
export interface JsonSyntaxError {
  readonly line: number
  readonly column: number
  readonly reason: string
}

/** "line 3, column 7: Unterminated string": a JsonSyntaxError as text that holds nothing of the file's content. */
export const formatJsonSyntaxError = (e: JsonSyntaxError): string => `not valid JSON at line ${e.line}, column ${e.column}: ${e.reason}`

// V8 messages of this shape name no content: "Unterminated string in JSON at position 17" (unlike "Unexpected token").
const positioned = /^(.+?)(?: in JSON)? at position \d+/

/**
 * Parses JSON text. A syntax error comes back as its line, column and a reason in words; the reason never quotes
 * the text (V8's "Unexpected token 'r', "root:x:0:0"... is not valid JSON" would echo a file's first bytes).
 */
export const parseJson = (text: string): Either.Either<unknown, JsonSyntaxError> => {
  try {
    return Either.right(JSON.parse(text) as unknown)
  } catch (e) {
    const offset = Math.min(jsonErrorOffset(text), text.length)
    const before = text.slice(0, offset)
    const line = before.split("\n").length
    const column = offset - before.lastIndexOf("\n")
    const message = e instanceof Error ? e.message : ""
    const known = positioned.exec(message)
    const reason =
      offset >= text.length
        ? "unexpected end of input"
        : known !== null && !known[1]!.startsWith("Unexpected token")
          ? known[1]!.charAt(0).toLowerCase() + known[1]!.slice(1)
          : "unexpected character"
    return Either.left({ line, column, reason })
  }
}
