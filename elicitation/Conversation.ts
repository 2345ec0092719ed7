import { Either, Schema } from "effect"
import type { ChatMessage } from "../model/ChatClient"
import type { Template } from "./Template"

/** The part of a task row a conversation needs. */
export interface TaskLike {
  readonly task_id: string
  readonly prompt: string
}

/** Where a task's text sits in a conversation: message index and character offsets in its content. */
export interface TaskSpan {
  readonly task_id: string
  readonly message: number
  readonly start: number
  readonly end: number
}

/** What a template is asked about: the task, and what the kind or timing needs besides. */
export interface ConversationInput {
  /** The persona's system prompt, part of the elicitation config. */
  readonly system?: string
  readonly task: TaskLike
  /** The model's own completion of `task`, needed by post-task templates. */
  readonly completion?: string
  /** The second task of a revealed template. */
  readonly taskB?: TaskLike
  /** Which task is shown as Task A: `ab` puts `task` first (the default), `ba` puts `taskB` first. */
  readonly order?: "ab" | "ba"
  /** For ranking templates, the tasks in display order (Task A, Task B, …). */
  readonly tasks?: ReadonlyArray<TaskLike>
}

/** A rendered elicitation: the messages, the focal task's text (for position selectors) and every task span. */
export interface Conversation {
  readonly messages: ReadonlyArray<ChatMessage>
  readonly taskText: string
  readonly spans: ReadonlyArray<TaskSpan>
}

/** A conversation that cannot be built because the input lacks what the template needs. */
export class ConversationError extends Schema.TaggedError<ConversationError>()("ConversationError", {
  template_id: Schema.String,
  task_id: Schema.String,
  reason: Schema.String
}) {
  get message() {
    return `template ${this.template_id}, task ${this.task_id}: ${this.reason}`
  }
}

/** The letter shown for the task at a display position: A, B, C, … */
export const taskLabel = (position: number): string => String.fromCharCode(65 + position)

const fill = (
  text: string,
  values: Readonly<Record<string, { readonly text: string; readonly task_id?: string }>>,
  message: number
): { content: string; spans: ReadonlyArray<TaskSpan> } => {
  let content = ""
  const spans: Array<TaskSpan> = []
  let last = 0
  for (const match of text.matchAll(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g)) {
    content += text.slice(last, match.index)
    const value = values[match[1]]
    const start = content.length
    content += value.text
    if (value.task_id !== undefined) spans.push({ task_id: value.task_id, message, start, end: content.length })
    last = match.index + match[0].length
  }
  return { content: content + text.slice(last), spans }
}

/**
 * The messages that ask `template` about a task. Pre-task: [system], user: the question with {task} filled in.
 * Post-task: [system], user: the task, assistant: the completion, user: the question. Revealed: [system], user:
 * the question with {task_a}/{task_b} filled in the given order. Ranking: {tasks} becomes a lettered list.
 */
export const conversationFor = (template: Template, input: ConversationInput): Either.Either<Conversation, ConversationError> => {
  const error = (reason: string) =>
    Either.left(new ConversationError({ template_id: template.id, task_id: input.task.task_id, reason }))
  const head: Array<ChatMessage> = input.system === undefined ? [] : [{ role: "system", content: input.system }]
  const at = head.length
  const done = (messages: Array<ChatMessage>, spans: ReadonlyArray<TaskSpan>) =>
    Either.right({ messages, taskText: input.task.prompt, spans })
  switch (template.kind) {
    case "revealed": {
      if (input.taskB === undefined) return error("a revealed template needs taskB")
      const [a, b] = input.order === "ba" ? [input.taskB, input.task] : [input.task, input.taskB]
      const { content, spans } = fill(template.text, { task_a: { text: a.prompt, task_id: a.task_id }, task_b: { text: b.prompt, task_id: b.task_id } }, at)
      return done([...head, { role: "user", content }], spans)
    }
    case "ranking": {
      const tasks = input.tasks ?? []
      if (tasks.length < 2) return error("a ranking template needs at least two tasks")
      const list = tasks.map((t, i) => ({ t, prefix: `Task ${taskLabel(i)}: ` }))
      const listText = list.map(({ prefix, t }) => prefix + t.prompt).join("\n\n")
      const { content } = fill(template.text, { tasks: { text: listText } }, at)
      const listStart = content.indexOf(listText)
      let offset = listStart
      const spans = list.map(({ prefix, t }) => {
        const start = offset + prefix.length
        offset = start + t.prompt.length + 2
        return { task_id: t.task_id, message: at, start, end: start + t.prompt.length }
      })
      return done([...head, { role: "user", content }], spans)
    }
    default: {
      if (template.timing === "pre") {
        const { content, spans } = fill(template.text, { task: { text: input.task.prompt, task_id: input.task.task_id } }, at)
        return done([...head, { role: "user", content }], spans)
      }
      if (input.completion === undefined) return error("a post-task template needs the model's completion")
      return done(
        [
          ...head,
          { role: "user", content: input.task.prompt },
          { role: "assistant", content: input.completion },
          { role: "user", content: template.text }
        ],
        [{ task_id: input.task.task_id, message: at, start: 0, end: input.task.prompt.length }]
      )
    }
  }
}

/**
 * The messages that ask `template` about one task with nothing sampled: an empty completion before a post-task
 * question, the task in both places of a revealed one. What closed-form expected answers are computed on.
 */
export const questionMessages = (template: Template, task: TaskLike, system: string): ReadonlyArray<ChatMessage> =>
  Either.getOrThrow(conversationFor(template, { system, task, completion: "", taskB: task, tasks: [task, task] })).messages
