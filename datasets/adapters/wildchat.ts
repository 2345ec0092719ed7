import { Either, Schema } from "effect"
import { type Adapter, assembleTask, decodeFields, OptionalPrompt, OptionalText } from "./Adapter"

const Turn = Schema.Struct({ role: Schema.String, content: OptionalText })
const Conversation = Schema.Array(Turn)

const WildChatRow = Schema.Struct({
  // CSV exports hold the conversation as a JSON string.
  conversation: Schema.optional(Schema.NullOr(Schema.Union(Conversation, Schema.parseJson(Conversation)))),
  prompt: OptionalPrompt
})

/** WildChat conversations: the prompt is the first user turn of `conversation` (or an already-flattened `prompt`); meta gains `turns` and the reply as `reference_output`. */
export const wildchat: Adapter = (record, origin) =>
  Either.flatMap(decodeFields(WildChatRow, record), (row) => {
    const base = { record, override: origin, fallbackOrigin: "wildchat", consumed: ["conversation"] }
    if (row.conversation === undefined || row.conversation === null) {
      return row.prompt === undefined || row.prompt === null
        ? Either.left({ field: "conversation", reason: "is missing (a WildChat row needs `conversation` or `prompt`)" })
        : assembleTask({ ...base, prompt: row.prompt })
    }
    const turns = row.conversation
    const first = turns.findIndex((turn) => turn.role.toLowerCase() === "user")
    if (first < 0) return Either.left({ field: "conversation", reason: "has no user turn" })
    const prompt = turns[first]!.content
    if (!prompt || prompt.trim() === "") return Either.left({ field: `conversation.${first}.content`, reason: "is empty" })
    const reply = turns.slice(first + 1).find((turn) => turn.role.toLowerCase() === "assistant")?.content ?? undefined
    return assembleTask({ ...base, prompt, meta: { turns: turns.length, reference_output: reply } })
  })
