/** Renders chat prompts through the checkpoint's Jinja `chat_template`, or a documented plain-text fallback. */
import { Template } from "@huggingface/jinja"

/** One chat message. */
export interface ChatMessage {
  readonly role: string
  readonly content: string
}

/** A rendered prompt and whether the tokenizer's post-processor should still add special tokens. */
export interface RenderedChat {
  readonly text: string
  readonly addSpecialTokens: boolean
}

/** Renders a conversation. */
export interface ChatRenderer {
  readonly hasTemplate: boolean
  readonly render: (messages: ReadonlyArray<ChatMessage>, addGenerationPrompt: boolean) => RenderedChat
}

const capitalise = (role: string) => role.charAt(0).toUpperCase() + role.slice(1)

/**
 * The fallback for checkpoints without a chat template: messages as `Role: content` separated by blank lines
 * ("System: …\n\nUser: …\n\nAssistant:"), a completed assistant turn closed by the EOS token text, the generation
 * prompt `\n\nAssistant:`; the tokenizer's post-processor adds BOS as for plain text.
 */
export const fallbackRender = (eosToken: string | undefined) =>
(messages: ReadonlyArray<ChatMessage>, addGenerationPrompt: boolean): RenderedChat => {
  const turns = messages.map((m) => `${capitalise(m.role)}: ${m.content}${m.role === "assistant" ? eosToken ?? "" : ""}`)
  if (addGenerationPrompt) turns.push("Assistant:")
  return { text: turns.join("\n\n"), addSpecialTokens: true }
}

/** A renderer for a Jinja chat template (special tokens come from the template, so none are added) or the fallback. */
export const makeChatRenderer = (chatTemplate: string | undefined, bosToken: string | undefined, eosToken: string | undefined): ChatRenderer => {
  if (chatTemplate === undefined) return { hasTemplate: false, render: fallbackRender(eosToken) }
  const template = new Template(chatTemplate)
  return {
    hasTemplate: true,
    render: (messages, addGenerationPrompt) => ({
      text: template.render({
        messages: messages.map((m) => ({ role: m.role, content: m.content })),
        add_generation_prompt: addGenerationPrompt,
        bos_token: bosToken ?? "",
        eos_token: eosToken ?? ""
      }),
      addSpecialTokens: false
    })
  }
}
