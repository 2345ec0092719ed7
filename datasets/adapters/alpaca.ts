import { Either, Schema } from "effect"
import { type Adapter, assembleTask, decodeFields, OptionalPrompt, OptionalText } from "./Adapter"

const AlpacaRow = Schema.Struct({ instruction: OptionalPrompt, input: OptionalText, output: OptionalText, prompt: OptionalPrompt })

/** Alpaca rows (`instruction`, `input`, `output`, or an already-flattened `prompt`): the prompt is the instruction, then a blank line and the input when there is one; `output` becomes `reference_output`. */
export const alpaca: Adapter = (record, origin) =>
  Either.flatMap(decodeFields(AlpacaRow, record), (row) => {
    const prompt = row.instruction ? (row.input ? `${row.instruction}\n\n${row.input}` : row.instruction) : row.prompt
    return prompt
      ? assembleTask({
        record,
        prompt,
        override: origin,
        fallbackOrigin: "alpaca",
        consumed: ["instruction", "input", "output"],
        meta: { reference_output: row.output ?? undefined }
      })
      : Either.left({ field: "instruction", reason: "is missing (an Alpaca row needs `instruction` or `prompt`)" })
  })
