import { Either, Schema } from "effect"
import { type Adapter, assembleTask, decodeFields, firstPresent, OptionalPrompt, OptionalText } from "./Adapter"

const BailBenchRow = Schema.Struct({
  content: OptionalPrompt,
  prompt: OptionalPrompt,
  category: OptionalText,
  subcategory: OptionalText
})

/** BailBench prompts: the text is `content` (or `prompt`); `category` and `subcategory` stay in meta. */
export const bailbench: Adapter = (record, origin) =>
  Either.flatMap(decodeFields(BailBenchRow, record), (row) => {
    const prompt = firstPresent(row.content, row.prompt)
    return prompt === undefined
      ? Either.left({ field: "content", reason: "is missing (a BailBench row needs `content` or `prompt`)" })
      : assembleTask({ record, prompt, override: origin, fallbackOrigin: "bailbench", consumed: ["content"] })
  })
