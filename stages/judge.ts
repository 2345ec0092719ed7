import { Effect, Layer } from "effect"
import { memoWriter, RowMemo } from "../cache/Memo"
import type { ParseTools } from "../elicitation/parse/Parse"
import { ChatClient, type ChatClientConfig, type ChatClientError, layerOpenAI, RequestMemo } from "../model/ChatClient"

const namespace = "chat/1"

/**
 * The request memo of the judge client, kept in the cache's row memo (written in groups, committed whatever fails
 * after an answer arrives), so reruns resend only the requests that failed.
 */
const requestMemoFromRowMemo = Layer.scoped(
  RequestMemo,
  Effect.gen(function* () {
    const memo = yield* RowMemo
    const writer = yield* memoWriter(namespace)
    return {
      get: (key: string) => {
        const pending = writer.pending(key)
        return pending !== undefined
          ? Effect.succeed(pending)
          : memo.getMany(namespace, [key]).pipe(
              Effect.map((m) => m.get(key)),
              Effect.orElseSucceed(() => undefined)
            )
      },
      set: (key: string, value: string) => writer.put([[key, value]]).pipe(Effect.ignore)
    }
  })
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
