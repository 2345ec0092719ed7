import { ParseResult } from "effect"

/** One problem of a decoded value: the field by its dotted path ("" for the root) and what was expected there. */
export interface DecodeIssue {
  readonly field: string
  readonly reason: string
}

/**
 * A Schema decode error's issues as fields and reasons that say what was expected but never quote the value found
 * (a file read by mistake, a key in a config, a row of a dataset must not reach an error message).
 */
export const decodeIssues = (error: ParseResult.ParseError): ReadonlyArray<DecodeIssue> =>
  ParseResult.ArrayFormatter.formatErrorSync(error).map((issue) => ({
    field: issue.path.map(String).join("."),
    reason: issue.message.replace(/, actual [\s\S]*$/, "")
  }))
