import { Schema } from "effect"

/** The experiment config is invalid; raised before any stage runs. */
export class ConfigError extends Schema.TaggedError<ConfigError>()("ConfigError", {
  file: Schema.String,
  field: Schema.String,
  reason: Schema.String
}) {
  get message() {
    return `${this.file}: ${this.field === "" ? "" : `field "${this.field}": `}${this.reason}`
  }
}

/** A build target could not be found or does not define a graph. */
export class TargetError extends Schema.TaggedError<TargetError>()("TargetError", {
  target: Schema.String,
  reason: Schema.String
}) {
  get message() {
    return `target ${this.target}: ${this.reason}`
  }
}

/** The graph is malformed: a cycle, two different nodes with one id, or parameters that do not decode. */
export class GraphError extends Schema.TaggedError<GraphError>()("GraphError", {
  node: Schema.String,
  reason: Schema.String
}) {
  get message() {
    return `stage ${this.node}: ${this.reason}`
  }
}

/** A stage's run failed; its partial outputs were not cached. */
export class StageError extends Schema.TaggedError<StageError>()("StageError", {
  node: Schema.String,
  reason: Schema.String
}) {
  get message() {
    return `stage ${this.node} failed: ${this.reason}`
  }
}

/** A hash given on the command line names no build or stage in the cache. */
export class UnknownHash extends Schema.TaggedError<UnknownHash>()("UnknownHash", {
  hash: Schema.String,
  reason: Schema.String
}) {
  get message() {
    return `${this.hash}: ${this.reason}`
  }
}

/** An export could not be written; an earlier export in the same folder is left as it was. */
export class ExportError extends Schema.TaggedError<ExportError>()("ExportError", {
  to: Schema.String,
  file: Schema.String,
  reason: Schema.String
}) {
  get message() {
    return `export to ${this.to}: ${this.file === "" ? "" : `${this.file}: `}${this.reason}`
  }
}
