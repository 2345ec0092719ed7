import { Either, Schema } from "effect"
import { NonBlankString } from "../Task"
import { type Adapter, assembleTask, decodeFields, OptionalText } from "./Adapter"

const AlpacaRow = Schema.Struct({ instruction: NonBlankString, input: OptionalText, output: OptionalText })

/** Alpaca rows (`instruction`, `input`, `output`): the prompt is the instruction, then a blank line and the input when there is one; `output` becomes `reference_output`. */
export const alpaca: Adapter = (record, origin) =>
  Either.flatMap(decodeFields(AlpacaRow, record), (row) =>
    assembleTask({
      record,
      prompt: row.input ? `${row.instruction}\n\n${row.input}` : row.instruction,
      override: origin,
      fallbackOrigin: "alpaca",
      consumed: ["instruction", "input", "output"],
      meta: { reference_output: row.output ?? undefined }
    })
  )
