import { Schema } from "effect"

/** A tool argument that does not fit its schema, named by its path in the arguments. */
export class InvalidArgument extends Schema.TaggedError<InvalidArgument>()("InvalidArgument", {
  field: Schema.String,
  reason: Schema.String
}) {
  get message() {
    return `argument ${this.field === "" ? "(root)" : `"${this.field}"`}: ${this.reason}`
  }
}

/** A path that would leave the folder the server may use for it. */
export class OutsideFolder extends Schema.TaggedError<OutsideFolder>()("OutsideFolder", {
  path: Schema.String,
  folder: Schema.String
}) {
  get message() {
    return `refused: "${this.path}" is outside ${this.folder}; the server only reads and writes inside the project's templates, experiments, cache and out folders`
  }
}

/** Something a tool or resource names does not exist (a report not built yet, a template id, a file). */
export class NotFound extends Schema.TaggedError<NotFound>()("NotFound", {
  what: Schema.String,
  reason: Schema.String
}) {
  get message() {
    return `${this.what}: ${this.reason}`
  }
}
