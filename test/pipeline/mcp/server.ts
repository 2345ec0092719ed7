import { runMcpServer } from "../../../pipeline/Mcp"

// Starts the MCP server on stdio with the options given as JSON in the first argument, so tests can use temp folders.
await runMcpServer(JSON.parse(process.argv[2] ?? "{}"))
