import { Effect, Layer } from "effect"
import { RowMemo } from "../cache/Memo"
import type { ParseTools } from "../elicitation/parse/Parse"
import { ChatClient, type ChatClientConfig, type ChatClientError, layerOpenAI, RequestMemo } from "../model/ChatClient"

/** The request memo of the judge client, kept in the cache's row memo so reruns resend only failed requests. */
const requestMemoFromRowMemo = Layer.effect(
  RequestMemo,
  Effect.map(RowMemo, (memo) => ({
    get: (key: string) =>
      memo.getMany("chat/1", [key]).pipe(
        Effect.map((m) => m.get(key)),
        Effect.orElseSucceed(() => undefined)
      ),
    set: (key: string, value: string) => memo.putMany("chat/1", [[key, value]]).pipe(Effect.ignore)
  }))
)

/** Runs `use` with the experiment's judge as refusal judge and parser when one is configured, else with no models. */
export const withParseTools = <A, E, R>(
  judge: ChatClientConfig | undefined,
  use: (tools: ParseTools) => Effect.Effect<A, E, R>
): Effect.Effect<A, E | ChatClientError, R | RowMemo> =>
  judge === undefined
    ? use({})
    : Effect.flatMap(ChatClient, (client) => use({ judge: client, parser: client })).pipe(
        Effect.provide(layerOpenAI(judge).pipe(Layer.provide(requestMemoFromRowMemo)))
      )
