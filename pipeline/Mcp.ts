import { Server } from "@modelcontextprotocol/sdk/server/index.js"
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js"
import {
  CallToolRequestSchema,
  type CallToolResult,
  ErrorCode,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  McpError,
  ReadResourceRequestSchema
} from "@modelcontextprotocol/sdk/types.js"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { Cause, Effect, Exit, Layer, Logger, ManagedRuntime, Option } from "effect"
import { CacheDir } from "../cache/CacheDir"
import { RowMemo } from "../cache/Memo"
import { ModelPool } from "../model/ModelPool"
import { Progress } from "./Progress"
import { InvalidArgument } from "./mcp/McpErrors"
import { readReportResource, reportResources } from "./mcp/Reports"
import { type ToolContext, tools } from "./mcp/Tools"
import { type McpOptions, redact, workspace } from "./mcp/Workspace"
import { toolVersion } from "./ToolVersion"

export type { McpOptions } from "./mcp/Workspace"

/** A failure as the text an agent reads: the error's tag and message, or the first lines of a defect. */
const failureText = (cause: Cause.Cause<unknown>): string => {
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) {
    const e = failure.value as { readonly _tag?: unknown; readonly message?: unknown }
    return typeof e === "object" && e !== null && typeof e.message === "string"
      ? `${typeof e._tag === "string" ? `${e._tag}: ` : ""}${e.message}`
      : String(failure.value)
  }
  return `internal error: ${Cause.pretty(cause).split("\n").slice(0, 6).join("\n")}`
}

/** Outgoing JSON with secret-looking environment values replaced. */
const redacted = (value: unknown): unknown => JSON.parse(redact(JSON.stringify(value ?? null)))

/**
 * An MCP server over the engine: the tools build, plan and inspect targets through the same functions as the CLI,
 * and built reports are resources (`report://<build>/<file>`). `close` ends the server and releases the cache.
 */
export const makeMcpServer = (options: McpOptions = {}) => {
  const ws = workspace(options)
  const cache = CacheDir.layer(ws.cacheDir)
  const runtime = ManagedRuntime.make(
    Layer.mergeAll(
      cache,
      RowMemo.layerSqlite.pipe(Layer.provide(cache)),
      ModelPool.Default.pipe(Layer.provide(cache)),
      NodeContext.layer,
      Progress.layerSilent,
      // stdout carries the protocol, so anything logged goes to stderr
      Logger.replace(Logger.defaultLogger, Logger.withConsoleError(Logger.logfmtLogger))
    )
  )
  const server = new Server(
    { name: "prefpipe", version: toolVersion.prefpipe },
    {
      capabilities: { tools: {}, resources: {} },
      instructions:
        "prefpipe builds cached preference experiments. list_targets, list_templates and list_datasets show what exists; plan shows what a build would run; build runs it and returns the report summary; read_report and the report:// resources show the results; add_template writes a new template and shows the stages it adds."
    }
  )
  const byName = new Map(tools.map((t) => [t.name, t]))

  server.setRequestHandler(ListToolsRequestSchema, () => ({
    tools: tools.map((t) => ({ name: t.name, description: t.description, inputSchema: t.inputSchema as { type: "object" } }))
  }))

  server.setRequestHandler(CallToolRequestSchema, async (request, extra): Promise<CallToolResult> => {
    const found = byName.get(request.params.name)
    const progressToken = request.params._meta?.progressToken
    const context: ToolContext = {
      ws,
      notify:
        progressToken === undefined
          ? undefined
          : (update) =>
              Effect.tryPromise(() =>
                extra.sendNotification({ method: "notifications/progress", params: { progressToken, ...update, message: redact(update.message) } })
              ).pipe(Effect.ignore)
    }
    const effect =
      found === undefined
        ? Effect.fail(new InvalidArgument({ field: "name", reason: `no tool "${request.params.name}" (tools: ${[...byName.keys()].join(", ")})` }))
        : found.call(request.params.arguments, context)
    const exit = await runtime.runPromiseExit(effect, { signal: extra.signal })
    return Exit.match(exit, {
      onFailure: (cause) => ({ content: [{ type: "text", text: redact(failureText(cause)) }], isError: true }),
      onSuccess: (value) => {
        const json = redacted(value)
        return {
          content: [{ type: "text", text: JSON.stringify(json, null, 2) }],
          ...(typeof json === "object" && json !== null && !Array.isArray(json) ? { structuredContent: json as Record<string, unknown> } : {})
        }
      }
    })
  })

  server.setRequestHandler(ListResourcesRequestSchema, async () => ({
    resources: [...(await runtime.runPromise(reportResources(ws)))]
  }))

  server.setRequestHandler(ListResourceTemplatesRequestSchema, () => ({
    resourceTemplates: [
      {
        uriTemplate: "report://{build}/{file}",
        name: "report file",
        description: "a file of a built report (README.md, summary.json, figures as PNG or SVG, tables as CSV or Parquet) by build hash"
      }
    ]
  }))

  server.setRequestHandler(ReadResourceRequestSchema, async (request) => {
    const exit = await runtime.runPromiseExit(readReportResource(ws, request.params.uri))
    // the SDK turns a thrown McpError into the JSON-RPC error response
    if (Exit.isFailure(exit)) throw new McpError(ErrorCode.InvalidParams, redact(failureText(exit.cause)))
    const content = exit.value
    return { contents: ["text" in content ? { ...content, text: redact(content.text) } : content] }
  })

  return {
    server,
    /** Closes the connection and releases the cache, the row memo and loaded models. */
    close: async () => {
      await server.close()
      await runtime.dispose()
    }
  }
}

/** Serves MCP on stdin/stdout until the client closes stdin. */
export const runMcpServer = async (options: McpOptions = {}): Promise<void> => {
  const { server, close } = makeMcpServer(options)
  const closed = new Promise<void>((resolve) => {
    process.stdin.once("end", resolve)
    process.stdin.once("close", resolve)
    server.onclose = resolve
  })
  await server.connect(new StdioServerTransport())
  await closed
  await close()
}
