import { Effect } from "effect"
import * as http from "node:http"
import type { AddressInfo } from "node:net"

/** One request as the test server saw it. */
export interface SeenRequest {
  readonly method: string
  readonly path: string
  readonly body: any
  readonly authorization: string | undefined
}

/** What the handler tells the server to do with a request. */
export type Reply =
  | { readonly status: number; readonly json?: unknown; readonly text?: string; readonly headers?: Record<string, string>; readonly delayMs?: number }
  | { readonly stall: true }
  | { readonly destroy: true }

/** A chat completion body in the OpenAI shape. */
export const completion = (content: string, extra: { model?: string; usage?: unknown; logprobs?: unknown; finish?: string } = {}) => ({
  id: "chatcmpl-test",
  object: "chat.completion",
  created: 0,
  model: extra.model ?? "test-model",
  choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: extra.finish ?? "stop", logprobs: extra.logprobs ?? null }],
  usage: extra.usage ?? { prompt_tokens: 7, completion_tokens: 2, total_tokens: 9 }
})

/**
 * A real HTTP listener on 127.0.0.1 (port chosen by the OS) that answers every request with what `handle` returns
 * for it (`n` counts requests from 1); released with the scope, stalled requests included. It records every request
 * and the largest number in flight at once.
 */
export const openaiServer = (handle: (request: SeenRequest, n: number) => Reply) =>
  Effect.acquireRelease(
    Effect.async<{ url: string; port: number; requests: SeenRequest[]; maxInFlight: () => number; server: http.Server }>((resume) => {
      const requests: SeenRequest[] = []
      let inFlight = 0
      let maxInFlight = 0
      const server = http.createServer((req, res) => {
        inFlight++
        maxInFlight = Math.max(maxInFlight, inFlight)
        res.on("close", () => inFlight--)
        let raw = ""
        req.on("data", (chunk) => (raw += chunk))
        req.on("end", () => {
          let body: unknown = raw
          try {
            body = raw === "" ? undefined : JSON.parse(raw)
          } catch {
            // keep the raw text
          }
          const seen = { method: req.method ?? "", path: req.url ?? "", body, authorization: req.headers.authorization }
          requests.push(seen)
          const reply = handle(seen, requests.length)
          if ("stall" in reply) return
          if ("destroy" in reply) return void req.socket.destroy()
          const text = reply.text ?? JSON.stringify(reply.json ?? {})
          const send = () => {
            res.writeHead(reply.status, { "content-type": "application/json", ...reply.headers })
            res.end(text)
          }
          if (reply.delayMs === undefined) send()
          else setTimeout(send, reply.delayMs)
        })
      })
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as AddressInfo
        resume(Effect.succeed({ url: `http://127.0.0.1:${port}/v1`, port, requests, maxInFlight: () => maxInFlight, server }))
      })
    }),
    ({ server }) =>
      Effect.async<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  )

/** A port nothing listens on (bound, read, released). */
export const closedPort = () =>
  Effect.async<number>((resume) => {
    const server = http.createServer()
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      server.close(() => resume(Effect.succeed(port)))
    })
  })
