import { Either, Schema } from "effect"
import { NonBlankString } from "../Task"
import { type Adapter, assembleTask, decodeFields } from "./Adapter"

const GenericRow = Schema.Struct({ prompt: NonBlankString })

/** Rows already in task shape: `prompt`, an `origin` (from the row or the spec) and optionally `id`/`task_id`. */
export const generic: Adapter = (record, origin) =>
  Either.flatMap(decodeFields(GenericRow, record), (row) =>
    assembleTask({ record, prompt: row.prompt, override: origin, fallbackOrigin: undefined, consumed: [] })
  )
