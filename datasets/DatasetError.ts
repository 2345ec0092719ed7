import { Schema } from "effect"

/** A row that could not become a task: where it is and why. `line` is 1-based (0 for the whole file). */
export const BadRow = Schema.Struct({
  file: Schema.String,
  line: Schema.Number,
  field: Schema.String,
  reason: Schema.String
})

/** A bad row. */
export type BadRow = typeof BadRow.Type

/** A dataset file that cannot be read, or a row of it that cannot become a task. */
export class DatasetError extends Schema.TaggedError<DatasetError>()("DatasetError", {
  file: Schema.String,
  line: Schema.Number,
  field: Schema.String,
  reason: Schema.String
}) {
  get message() {
    const where = this.line > 0 ? `${this.file}:${this.line}` : this.file
    return this.field === "" ? `${where}: ${this.reason}` : `${where}: field "${this.field}": ${this.reason}`
  }
}

/** The error for one bad row. */
export const badRowError = (row: BadRow): DatasetError => new DatasetError(row)
