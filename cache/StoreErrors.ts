import { Schema } from "effect"

/** The cache folder could not be read or written. */
export class StoreError extends Schema.TaggedError<StoreError>()("StoreError", {
  path: Schema.String,
  reason: Schema.String
}) {
  get message() {
    return `cache ${this.path}: ${this.reason}`
  }
}

/** A cached object is missing, truncated or does not match its hash; it must never be used. `reason` reads after its hash. */
export class CorruptObject extends Schema.TaggedError<CorruptObject>()("CorruptObject", {
  hash: Schema.String,
  path: Schema.String,
  reason: Schema.String
}) {
  get message() {
    return `cached object ${this.hash.slice(0, 12)} ${this.reason}`
  }
}
