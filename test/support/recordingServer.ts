import * as http from "node:http"
import type { AddressInfo } from "node:net"

/**
 * An OpenAI-compatible stand-in on 127.0.0.1 that records the Authorization header of each request and answers
 * "good"; it takes at most 20 requests (later ones are cut off) and lives until `close`.
 */
export const recordingServer = async () => {
  const authorizations: Array<string | undefined> = []
  const server = http.createServer((req, res) => {
    if (authorizations.length >= 20) return void res.destroy()
    authorizations.push(req.headers.authorization)
    res.writeHead(200, { "content-type": "application/json" })
    res.end(JSON.stringify({ choices: [{ message: { role: "assistant", content: "good" }, finish_reason: "stop" }] }))
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    port: (server.address() as AddressInfo).port,
    authorizations,
    close: () => new Promise<void>((resolve) => server.close(() => resolve()))
  }
}
