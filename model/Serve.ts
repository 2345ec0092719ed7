/**
 * An OpenAI-compatible HTTP server over a local runtime: `POST /v1/chat/completions` (messages through the model's
 * chat template; temperature, top_p, max_tokens, seed, n, logprobs, top_logprobs, stop), `GET /v1/models`, vLLM's
 * `POST /tokenize`, and `POST /v1/embeddings` (the mean of the model's input embeddings over a text's tokens).
 * Concurrent requests are batched into the runtime's batched generation: while a batch runs, the next one fills.
 */
import { Effect, Either, ParseResult, Redacted, Schema } from "effect"
import { randomInt } from "node:crypto"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { generateBatch, type GenerateRequest, type Generation, type Runtime } from "./Generate"
import { encodePrompt, type Prompt } from "./Prompt"

/** How the server runs. */
export interface ServeOptions {
  readonly host: string
  /** 0 lets the system choose. */
  readonly port: number
  /** The name clients must send as `model` (vLLM's --served-model-name). */
  readonly name: string
  /** Requests per forward batch. */
  readonly batchSize: number
  /** How long an idle server waits for more requests before it starts a batch that is not full. */
  readonly batchWaitMs: number
  /** max_tokens when a request gives none. */
  readonly defaultMaxTokens: number
  /** When set, every request must carry `Authorization: Bearer <key>`. */
  readonly apiKey?: Redacted.Redacted<string> | undefined
}

/** A running server. */
export interface Served {
  readonly url: string
  readonly port: number
  /** Requests answered, forward batches run, and the sequences those batches held. */
  readonly stats: () => { readonly requests: number; readonly batches: number; readonly sequences: number }
}

/** The server could not start (a port in use, say). */
export class ServeError extends Schema.TaggedError<ServeError>()("ServeError", { reason: Schema.String }) {
  get message() {
    return `serve: ${this.reason}`
  }
}

const Content = Schema.Union(Schema.String, Schema.Array(Schema.Struct({ type: Schema.Literal("text"), text: Schema.String })))
const Message = Schema.Struct({ role: Schema.Literal("system", "user", "assistant"), content: Content })

/** A chat-completions request as this server reads it; other fields are ignored. */
const ChatRequest = Schema.Struct({
  model: Schema.String,
  messages: Schema.Array(Message).pipe(Schema.minItems(1)),
  temperature: Schema.optionalWith(Schema.Number.pipe(Schema.between(0, 2)), { default: () => 1 }),
  top_p: Schema.optionalWith(Schema.Number.pipe(Schema.greaterThan(0), Schema.lessThanOrEqualTo(1)), { default: () => 1 }),
  max_tokens: Schema.optional(Schema.NullOr(Schema.Int.pipe(Schema.positive()))),
  max_completion_tokens: Schema.optional(Schema.NullOr(Schema.Int.pipe(Schema.positive()))),
  seed: Schema.optional(Schema.NullOr(Schema.Int)),
  n: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 64)), { default: () => 1 }),
  logprobs: Schema.optionalWith(Schema.NullOr(Schema.Boolean), { default: () => false }),
  top_logprobs: Schema.optional(Schema.NullOr(Schema.Int.pipe(Schema.nonNegative()))),
  stop: Schema.optional(Schema.NullOr(Schema.Union(Schema.String, Schema.Array(Schema.String)))),
  stream: Schema.optional(Schema.NullOr(Schema.Boolean))
})

const TokenizeRequest = Schema.Struct({
  model: Schema.optional(Schema.NullOr(Schema.String)),
  messages: Schema.optional(Schema.Array(Message)),
  prompt: Schema.optional(Schema.String),
  add_generation_prompt: Schema.optionalWith(Schema.Boolean, { default: () => true }),
  add_special_tokens: Schema.optional(Schema.Boolean)
})

const EmbeddingsRequest = Schema.Struct({
  model: Schema.String,
  input: Schema.Union(Schema.String, Schema.Array(Schema.String).pipe(Schema.minItems(1)))
})

/** An OpenAI-style error reply. */
class HttpFailure {
  constructor(readonly status: number, readonly message: string, readonly type = "BadRequestError") {}
}

const decode = <A, I>(schema: Schema.Schema<A, I>, body: unknown): A => {
  const result = Schema.decodeUnknownEither(schema)(body, { onExcessProperty: "ignore" })
  if (Either.isRight(result)) return result.right
  const issue = ParseResult.ArrayFormatter.formatErrorSync(result.left)[0]
  throw new HttpFailure(400, `${issue?.path.map(String).join(".") || "body"}: ${issue?.message ?? "invalid"}`)
}

const text = (content: typeof Content.Type): string => (typeof content === "string" ? content : content.map((p) => p.text).join(""))

interface Pending {
  readonly request: GenerateRequest
  readonly resolve: (g: Either.Either<Generation, string>) => void
}

/**
 * Starts the server on the runtime; it stops when the scope closes. `embeddings` is the model's input embedding
 * matrix (vocab × hidden, row-major), for `/v1/embeddings`.
 */
export const serveRuntime = (runtime: Runtime, embeddings: Float32Array | undefined, options: ServeOptions) =>
  Effect.gen(function* () {
    const { tokenizer, chat, dims } = runtime
    const created = Math.floor(Date.now() / 1000)
    let requests = 0
    let batches = 0
    let sequences = 0

    // The batcher: one forward batch at a time; requests arriving meanwhile form the next.
    const queue: Pending[] = []
    let running = false
    let timer: ReturnType<typeof setTimeout> | undefined
    const runBatch = () => {
      timer = undefined
      if (running || queue.length === 0) return
      running = true
      const batch = queue.splice(0, options.batchSize)
      batches++
      sequences += batch.length
      const settle = (result: Either.Either<Generation[], string>) => {
        running = false
        batch.forEach((p, i) => p.resolve(Either.map(result, (gs) => gs[i]!)))
        schedule()
      }
      Effect.runPromise(Effect.either(generateBatch(runtime, batch.map((p) => p.request)))).then(settle, (e: unknown) => settle(Either.left(String(e))))
    }
    const schedule = () => {
      if (running || queue.length === 0) return
      if (queue.length >= options.batchSize || options.batchWaitMs <= 0) return runBatch()
      if (timer === undefined) timer = setTimeout(runBatch, options.batchWaitMs)
    }
    const generate = (request: GenerateRequest) =>
      new Promise<Either.Either<Generation, string>>((resolve) => {
        queue.push({ request, resolve })
        if (queue.length >= options.batchSize && timer !== undefined) {
          clearTimeout(timer)
          timer = undefined
        }
        schedule()
      })

    // A token's own text, leading space included: decoders strip a sequence's first space, so decode it after an
    // anchor. A WordPiece continuation (`##1`) keeps its piece: decoded it would read like the whole word it is not.
    const anchor = tokenizer.encode("x", false)[0]
    const anchorText = anchor === undefined ? "" : tokenizer.decode([anchor])
    const texts = new Map<number, string>()
    const tokenText = (id: number) => {
      let t = texts.get(id)
      if (t === undefined) {
        const piece = tokenizer.piece(id)
        const joined = anchor === undefined ? "" : tokenizer.decode([anchor, id])
        t = tokenizer.continuingPrefix !== undefined && piece?.startsWith(tokenizer.continuingPrefix)
          ? piece
          : anchor !== undefined && joined.startsWith(anchorText) ? joined.slice(anchorText.length) : tokenizer.decode([id])
        texts.set(id, t)
      }
      return t
    }
    const checkModel = (model: string | null | undefined) => {
      if (model !== undefined && model !== null && model !== options.name) throw new HttpFailure(404, `The model \`${model}\` does not exist; this server serves \`${options.name}\`.`, "NotFoundError")
    }

    const chatCompletion = async (body: unknown) => {
      const r = decode(ChatRequest, body)
      checkModel(r.model)
      if (r.stream === true) throw new HttpFailure(400, "stream: streaming is not supported by this server")
      const top = r.top_logprobs ?? undefined
      if (top !== undefined && top > dims.vocab) throw new HttpFailure(400, `top_logprobs: at most the vocabulary size, ${dims.vocab}`)
      if (top !== undefined && top > 0 && r.logprobs !== true) throw new HttpFailure(400, "top_logprobs: needs logprobs: true")
      const prompt: Prompt = { kind: "chat", messages: r.messages.map((m) => ({ role: m.role, content: text(m.content) })), addGenerationPrompt: true }
      const promptIds = Either.try(() => encodePrompt(tokenizer, chat, prompt).ids)
      if (Either.isLeft(promptIds)) throw new HttpFailure(400, `messages: the chat template cannot render them (${String(promptIds.left)})`)
      const room = dims.maxPositions - promptIds.right.length
      if (room <= 0) throw new HttpFailure(400, `This model's maximum context length is ${dims.maxPositions} tokens; the messages have ${promptIds.right.length}.`)
      const maxTokens = Math.min(r.max_completion_tokens ?? r.max_tokens ?? options.defaultMaxTokens, room)
      const seed = r.seed ?? randomInt(0, 2 ** 31)
      const stop = r.stop === undefined || r.stop === null ? [] : typeof r.stop === "string" ? [r.stop] : [...r.stop]
      const wantLogprobs = r.logprobs === true
      const results = await Promise.all(
        Array.from({ length: r.n }, (_, i) =>
          generate({
            prompt,
            maxTokens,
            temperature: r.temperature,
            topP: r.top_p,
            // Choice i is sampled with seed + i, so choice 0 is what a local run with this seed gives.
            seed: seed + i,
            ...(stop.length === 0 ? {} : { stop }),
            ...(wantLogprobs ? { logprobs: top ?? 0 } : {})
          })
        )
      )
      const failed = results.find(Either.isLeft)
      if (failed !== undefined) throw new HttpFailure(500, failed.left, "InternalServerError")
      const gens = results.map((g) => (g as Either.Right<string, Generation>).right)
      requests++
      const completionTokens = gens.reduce((a, g) => a + g.tokenIds.length + (g.finish === "eos" ? 1 : 0), 0)
      return {
        id: `chatcmpl-${seed.toString(16)}-${requests}`,
        object: "chat.completion",
        created: Math.floor(Date.now() / 1000),
        model: options.name,
        choices: gens.map((g, index) => ({
          index,
          message: { role: "assistant", content: g.text },
          logprobs: !wantLogprobs
            ? null
            : {
                content: (g.logprobs ?? []).map((l) => {
                  const token = tokenText(l.token)
                  return {
                    token,
                    logprob: l.logprob,
                    bytes: [...Buffer.from(token, "utf8")],
                    top_logprobs: l.top.map((t) => {
                      const s = tokenText(t.token)
                      return { token: s, logprob: t.logprob, bytes: [...Buffer.from(s, "utf8")] }
                    })
                  }
                })
              },
          finish_reason: g.finish === "length" ? "length" : "stop",
          // vLLM's field: the stop string that ended the answer, null at the end-of-sequence token.
          stop_reason: g.finish === "stop" ? stop.find((s) => s !== "") ?? null : null
        })),
        usage: { prompt_tokens: promptIds.right.length, completion_tokens: completionTokens, total_tokens: promptIds.right.length + completionTokens }
      }
    }

    const tokenize = (body: unknown) => {
      const r = decode(TokenizeRequest, body)
      checkModel(r.model)
      const ids =
        r.messages !== undefined
          ? encodePrompt(tokenizer, chat, { kind: "chat", messages: r.messages.map((m) => ({ role: m.role, content: text(m.content) })), addGenerationPrompt: r.add_generation_prompt }).ids
          : r.prompt !== undefined
            ? tokenizer.encode(r.prompt, r.add_special_tokens ?? true)
            : (() => {
                throw new HttpFailure(400, "messages or prompt: one is required")
              })()
      return { count: ids.length, max_model_len: dims.maxPositions, tokens: ids }
    }

    const embed = (body: unknown) => {
      const r = decode(EmbeddingsRequest, body)
      checkModel(r.model)
      if (embeddings === undefined) throw new HttpFailure(404, "this server has no embeddings", "NotFoundError")
      const inputs = typeof r.input === "string" ? [r.input] : r.input
      let tokens = 0
      const data = inputs.map((input, index) => {
        const ids = tokenizer.encode(input, false)
        if (ids.length === 0) throw new HttpFailure(400, `input.${index}: no tokens to embed`)
        tokens += ids.length
        const v = new Float64Array(dims.hidden)
        for (const id of ids) for (let k = 0; k < dims.hidden; k++) v[k]! += embeddings[id * dims.hidden + k]!
        return { object: "embedding", index, embedding: Array.from(v, (x) => x / ids.length) }
      })
      return { object: "list", data, model: options.name, usage: { prompt_tokens: tokens, total_tokens: tokens } }
    }

    const models = () => ({
      object: "list",
      data: [{ id: options.name, object: "model", created, owned_by: "prefpipe", root: options.name, parent: null, max_model_len: dims.maxPositions }]
    })

    const route = async (method: string, url: string, body: unknown): Promise<unknown> => {
      const path = url.split("?")[0]!.replace(/\/+$/, "")
      if (method === "GET" && path === "/health") return {}
      if (method === "GET" && path === "/v1/models") return models()
      if (method === "POST" && path === "/v1/chat/completions") return chatCompletion(body)
      if (method === "POST" && (path === "/tokenize" || path === "/v1/tokenize")) return tokenize(body)
      if (method === "POST" && path === "/v1/embeddings") return embed(body)
      throw new HttpFailure(404, `no route ${method} ${path}`, "NotFoundError")
    }

    const key = options.apiKey === undefined ? undefined : `Bearer ${Redacted.value(options.apiKey)}`
    const server = http.createServer((req, res) => {
      const reply = (status: number, value: unknown) => {
        const payload = JSON.stringify(value)
        res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(payload) })
        res.end(payload)
      }
      const chunks: Buffer[] = []
      req.on("data", (c: Buffer) => chunks.push(c))
      req.on("end", () => {
        const fail = (e: unknown) => {
          const f = e instanceof HttpFailure ? e : new HttpFailure(500, e instanceof Error ? e.message : String(e), "InternalServerError")
          reply(f.status, { object: "error", message: f.message, type: f.type, param: null, code: f.status })
        }
        if (key !== undefined && req.url !== "/health" && req.headers.authorization !== key) return fail(new HttpFailure(401, "Unauthorized", "AuthenticationError"))
        let body: unknown
        try {
          body = chunks.length === 0 ? undefined : JSON.parse(Buffer.concat(chunks).toString("utf8"))
        } catch {
          return fail(new HttpFailure(400, "the body is not JSON"))
        }
        route(req.method ?? "GET", req.url ?? "/", body).then((value) => reply(200, value), fail)
      })
    })
    server.keepAliveTimeout = 60_000
    const port = yield* Effect.acquireRelease(
      Effect.async<number, ServeError>((resume) => {
        server.once("error", (e) => resume(Effect.fail(new ServeError({ reason: `cannot listen on ${options.host}:${options.port}: ${e.message}` }))))
        server.listen(options.port, options.host, () => resume(Effect.succeed((server.address() as AddressInfo).port)))
      }),
      () =>
        Effect.async<void>((resume) => {
          if (timer !== undefined) clearTimeout(timer)
          server.closeAllConnections()
          server.close(() => resume(Effect.void))
        })
    )
    const host = options.host.includes(":") ? `[${options.host}]` : options.host
    return { url: `http://${host}:${port}/v1`, port, stats: () => ({ requests, batches, sequences }) } satisfies Served
  })
