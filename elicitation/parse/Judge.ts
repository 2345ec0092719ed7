import { Context, Effect, Schema } from "effect"
import type { ChatClient, ChatClientError, ChatMessage } from "../../model/ChatClient"
import type { ScoredTemplate } from "../Template"
import type { Reading } from "./Exact"

/** A configured chat model used as refusal judge, valence judge or answer parser. */
export type ChatModel = Context.Tag.Service<typeof ChatClient>

const sampling = { temperature: 0, maxTokens: 128, responseFormat: { type: "json_object" } } as const
const system: ChatMessage = {
  role: "system",
  content: "You read answers that a chatbot gave to a question and report on them as a single JSON object, with no other text."
}

/** The JSON object in a model's reply, tolerating code fences or text around it. */
const jsonObjectIn = (text: string): unknown => {
  const candidates = [text.trim(), text.match(/\{[\s\S]*\}/)?.[0] ?? ""]
  for (const candidate of candidates) {
    try {
      const parsed: unknown = JSON.parse(candidate)
      if (parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)) return parsed
    } catch {
      // not JSON: try the next candidate
    }
  }
  return undefined
}

const ask = (model: ChatModel, question: string, response: string, instruction: string) =>
  model
    .complete({
      messages: [system, { role: "user", content: `Question:\n${question}\n\nAnswer:\n${response}\n\n${instruction}` }],
      ...sampling
    })
    .pipe(Effect.map((reply) => jsonObjectIn(reply.text)))

const RefusalVerdict = Schema.Struct({ refusal: Schema.Boolean })

/** The judge's verdict on whether a response refuses (undefined when its reply is not a verdict). */
export const judgeRefusal = (judge: ChatModel, question: string, response: string): Effect.Effect<boolean | undefined, ChatClientError> =>
  ask(
    judge,
    question,
    response,
    `Does the answer refuse or decline to give what the question asks for (this includes saying it has no preferences or feelings and so cannot answer)? Reply {"refusal": true} or {"refusal": false}.`
  ).pipe(Effect.map((json) => Schema.decodeUnknownOption(RefusalVerdict)(json).pipe((o) => (o._tag === "Some" ? o.value.refusal : undefined))))

const ParserReply = Schema.Union(
  Schema.Struct({ value: Schema.Union(Schema.String, Schema.Number) }),
  Schema.Struct({ unparseable: Schema.Literal(true), reason: Schema.optional(Schema.String) })
)

const allowedValues = (t: ScoredTemplate): string => {
  switch (t.kind) {
    case "qualitative":
      return t.options.map((o) => JSON.stringify(o.label)).join(", ")
    case "stated":
      return `an integer from ${t.scale.min} to ${t.scale.max}`
    case "revealed":
      return `"A" if the answer took Task A, "B" if it took Task B`
    case "open_ended":
      return `a number from ${t.range.min} to ${t.range.max}`
  }
}

/** Checks a parser's value against the template's options or scale. */
const validate = (t: ScoredTemplate, raw: string | number): number | undefined => {
  const text = String(raw).trim().toLowerCase()
  switch (t.kind) {
    case "qualitative":
      return t.options.find((o) => o.label.toLowerCase() === text || (typeof raw === "number" && o.value === raw))?.value
    case "stated": {
      const n = Number(text)
      return text !== "" && Number.isInteger(n) && n >= t.scale.min && n <= t.scale.max ? n : undefined
    }
    case "revealed": {
      const letter = text.replace(/^task\s*/, "")
      return letter === "a" ? 1 : letter === "b" ? 0 : undefined
    }
    case "open_ended": {
      const n = Number(text)
      return text !== "" && n >= t.range.min && n <= t.range.max ? n : undefined
    }
  }
}

const shorten = (s: string) => (s.length > 80 ? `${s.slice(0, 77)}...` : s)

/** Tier 3: asks the parsing model for the answer as JSON and validates it against the template. */
export const askParser = (parser: ChatModel, t: ScoredTemplate, response: string): Effect.Effect<Reading, ChatClientError> =>
  ask(
    parser,
    t.text,
    response,
    `Which answer did it give? Allowed values: ${allowedValues(t)}. Reply {"value": <allowed value>}, or {"unparseable": true, "reason": "<why>"} when it gave none of them or more than one.`
  ).pipe(
    Effect.map((json): Reading => {
      const reply = Schema.decodeUnknownOption(ParserReply)(json)
      if (reply._tag === "None") return { _tag: "unclear", reason: "parser reply is not the requested JSON" }
      if ("unparseable" in reply.value) return { _tag: "unclear", reason: `parser: ${shorten(reply.value.reason ?? "unparseable")}` }
      const v = validate(t, reply.value.value)
      return v === undefined
        ? { _tag: "unclear", reason: "parser gave a value outside the template's options or scale" }
        : { _tag: "value", value: v }
    })
  )

const ValenceReply = Schema.Struct({ value: Schema.Number.pipe(Schema.between(-1, 1)) })

/** The judge's valence of an open-ended answer in [−1, 1] (undefined when its reply is not one). */
export const judgeValence = (judge: ChatModel, question: string, response: string): Effect.Effect<number | undefined, ChatClientError> =>
  ask(
    judge,
    question,
    response,
    `How positive or negative is the feeling the answer expresses about the task? Reply {"value": v} with v from -1 (very negative) through 0 (neutral) to 1 (very positive).`
  ).pipe(Effect.map((json) => Schema.decodeUnknownOption(ValenceReply)(json).pipe((o) => (o._tag === "Some" ? o.value.value : undefined))))

const OrderReply = Schema.Struct({ order: Schema.Array(Schema.String) })

/** Tier 3 for ranking templates: the parser's order of the n task labels, or why it gave none. */
export const askRankingParser = (parser: ChatModel, question: string, n: number, response: string): Effect.Effect<ReadonlyArray<number> | string, ChatClientError> =>
  ask(
    parser,
    question,
    response,
    `In which order did it rank the ${n} tasks, best first? Reply {"order": ["B", "A", ...]} using each task letter once, or {"unparseable": true, "reason": "<why>"}.`
  ).pipe(
    Effect.map((json) => {
      const reply = Schema.decodeUnknownOption(OrderReply)(json)
      if (reply._tag === "None") return "parser gave no order"
      const order = reply.value.order.map((l) => l.trim().toUpperCase().replace(/^TASK\s*/, "").charCodeAt(0) - 65)
      const valid = order.length === n && new Set(order).size === n && order.every((i) => i >= 0 && i < n)
      return valid ? order : "parser order is not a permutation of the tasks"
    })
  )
