/**
 * The one HTTP transport of every OpenAI-compatible call (subject model, judge, embeddings): a fleet of endpoints
 * paced by `Fleet`, JSON bodies over keep-alive connections, retries with jittered exponential back-off for 408, 409,
 * 429, 5xx, timeouts, network errors and malformed replies (another endpoint first when there is one), none for other
 * 4xx, API keys read from the environment variables the config names and redacted from every error.
 */
import { Config, Effect, Either, Option, Redacted, Schema } from "effect"
import * as http from "node:http"
import { createRequire } from "node:module"
import { defaultFleetOptions, type EndpointCounters, type FleetOptions, type Lease, makeFleet, type Outcome } from "./Fleet"

// TLS costs every command's start-up a fiftieth of a second; only an https endpoint loads it.
let tls: typeof import("node:https") | undefined
const https = () => (tls ??= createRequire(import.meta.url)("node:https") as typeof import("node:https"))

/** A base URL: http or https, up to and including the API version (`http://127.0.0.1:8000/v1`). */
export const BaseUrl = Schema.String.pipe(
  Schema.filter((s) => {
    try {
      const url = new URL(s)
      return url.protocol === "http:" || url.protocol === "https:" ? undefined : `expected an http or https URL, got protocol ${url.protocol}`
    } catch {
      return `expected an http or https URL such as http://127.0.0.1:8000/v1, got ${JSON.stringify(s.slice(0, 80))}`
    }
  })
)

/** One OpenAI-compatible endpoint: where it is, the variable holding its key, and how many requests it may hold. */
export const EndpointConfig = Schema.Struct({
  baseUrl: BaseUrl,
  /** Name of the environment variable holding the API key (never the key itself). */
  apiKeyEnv: Schema.optional(Schema.NonEmptyString),
  /** Upper bound of the endpoint's adaptive concurrency (which starts at 32 or this, whichever is lower). */
  maxConcurrency: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 128 })
})
/** One OpenAI-compatible endpoint. */
export type EndpointConfig = typeof EndpointConfig.Type

/** Timeouts and retries shared by every request of a client. */
export const RetryFields = {
  /** Per attempt: from sending to the last byte of the answer. */
  timeoutMs: Schema.optionalWith(Schema.Number.pipe(Schema.positive()), { default: () => 60_000 }),
  /** Attempts after the first, for retryable failures. */
  maxRetries: Schema.optionalWith(Schema.Int.pipe(Schema.nonNegative()), { default: () => 4 }),
  /** First retry delay; later ones double, each scaled by a random factor in [0.5, 1.5). */
  backoffMs: Schema.optionalWith(Schema.Number.pipe(Schema.nonNegative()), { default: () => 500 })
}

/** How a transport retries. */
export interface RetrySettings {
  readonly timeoutMs: number
  readonly maxRetries: number
  readonly backoffMs: number
}

/** Kinds of failure; all but `config` and `http` are retried. */
export type TransportFailureKind = "config" | "rate_limited" | "server" | "timeout" | "network" | "http" | "malformed"

/** A request that failed after its retries; `failure` is the short reason rows are counted by. */
export class TransportError extends Schema.TaggedError<TransportError>()("TransportError", {
  kind: Schema.Literal("config", "rate_limited", "server", "timeout", "network", "http", "malformed"),
  endpoint: Schema.String,
  status: Schema.optional(Schema.Number),
  reason: Schema.String,
  attempts: Schema.Number
}) {
  /** A categorical reason (`HTTP 500`, `timeout`, `malformed reply: choices is empty`) for counting failed rows. */
  get failure(): string {
    switch (this.kind) {
      case "rate_limited":
      case "server":
      case "http":
        return this.kind === "http" && this.status !== undefined && this.status < 500 && ![408, 409, 429].includes(this.status)
          ? `HTTP ${this.status}${this.reason === "" ? "" : `: ${this.reason.slice(0, 80)}`}`
          : `HTTP ${this.status ?? "?"}`
      case "timeout":
        return "timeout"
      case "network":
        return `network error${this.reason === "" ? "" : ` (${this.reason})`}`
      case "malformed":
        return `malformed reply: ${this.reason}`
      case "config":
        return this.reason
    }
  }
  get message() {
    return `${this.endpoint}: ${this.kind === "config" ? this.reason : `${this.failure} after ${this.attempts} attempt${this.attempts === 1 ? "" : "s"}${this.kind === "server" || this.kind === "rate_limited" ? (this.reason === "" ? "" : `: ${this.reason.slice(0, 160)}`) : ""}`}`
  }
}

/** What the transport counted since it was made: per endpoint (see `EndpointCounters`) and retries overall. */
export interface TransportCounters {
  readonly requests: number
  readonly retries: number
  readonly failures: number
  readonly endpoints: ReadonlyArray<EndpointCounters>
}

/** A decoded answer and the endpoint that gave it. */
export interface Reply<A> {
  readonly value: A
  readonly endpoint: number
}

/** Turns a reply's JSON into a value, or a short reason it is malformed (`choices is empty`). */
export type Decode<A> = (json: unknown) => Either.Either<A, string>

/** Where a request goes: a path under the base URL (`chat/completions`), or under the server's root (`/tokenize`). */
export interface RequestOptions {
  /** Pins the request to one endpoint (checks that must ask each server); otherwise the fleet chooses. */
  readonly endpoint?: number
  readonly retries?: number
}

/** The transport over a fleet. */
export interface Transport {
  readonly endpoints: ReadonlyArray<string>
  readonly post: <A>(path: string, body: unknown, decode: Decode<A>, options?: RequestOptions) => Effect.Effect<Reply<A>, TransportError>
  readonly get: <A>(path: string, decode: Decode<A>, options?: RequestOptions) => Effect.Effect<Reply<A>, TransportError>
  readonly counters: () => TransportCounters
}

/** Parses a Retry-After header (delta-seconds or an HTTP date) into milliseconds from `now`. */
export const retryAfterMs = (header: string | undefined, now: number): number | undefined => {
  if (header === undefined) return undefined
  const seconds = Number(header)
  if (header.trim() !== "" && Number.isFinite(seconds)) return Math.max(0, seconds * 1000)
  const date = Date.parse(header)
  return Number.isNaN(date) ? undefined : Math.max(0, date - now)
}

interface Raw {
  readonly status: number
  readonly retryAfter: string | undefined
  readonly body: string
}

interface Attempt {
  readonly kind: Exclude<TransportFailureKind, "config">
  readonly status?: number
  readonly reason: string
  readonly retryAfterMs?: number
}

const retryable = new Set<Attempt["kind"]>(["rate_limited", "server", "timeout", "network", "malformed"])

/** An endpoint as the transport takes it: from a config, or with a key given in code (never from a config file). */
export type TransportEndpoint = EndpointConfig & { readonly apiKey?: string }

/** Resolves each endpoint's key from the environment variable it names; a missing variable is a config error. */
const resolveKeys = (endpoints: ReadonlyArray<TransportEndpoint>) =>
  Effect.forEach(endpoints, (e, i) =>
    e.apiKey !== undefined
      ? Effect.succeed(Option.some(Redacted.make(e.apiKey)))
      : e.apiKeyEnv === undefined
      ? Effect.succeed(Option.none<Redacted.Redacted<string>>())
      : Config.redacted(e.apiKeyEnv).pipe(
          Effect.map(Option.some),
          Effect.mapError(() =>
            new TransportError({ kind: "config", endpoint: e.baseUrl, reason: `environment variable ${e.apiKeyEnv} (named by apiKeyEnv of endpoint ${i}) is not set`, attempts: 0 })
          )
        )
  )

/**
 * A transport over endpoints. Agents (keep-alive connection pools) live as long as the surrounding scope; the
 * fleet's state lives as long as the transport, so every stage of a build that shares it shares its pacing.
 */
export const makeTransport = (
  endpoints: ReadonlyArray<TransportEndpoint>,
  settings: RetrySettings,
  fleetOptions: FleetOptions = defaultFleetOptions
) =>
  Effect.gen(function* () {
    const keys = yield* resolveKeys(endpoints)
    const secrets = keys.flatMap((k) => (Option.isSome(k) && Redacted.value(k.value) !== "" ? [Redacted.value(k.value)] : []))
    // Servers may echo request headers into error bodies; nothing we report may carry a key.
    const redact = (text: string) => secrets.reduce((t, s) => t.split(s).join("[redacted]"), text)
    const agents = yield* Effect.acquireRelease(
      Effect.sync(() =>
        endpoints.map((e) => {
          const options = { keepAlive: true, maxSockets: e.maxConcurrency + 8 }
          return new URL(e.baseUrl).protocol === "https:" ? new (https().Agent)(options) : new http.Agent(options)
        })
      ),
      (all) => Effect.sync(() => all.forEach((a) => a.destroy()))
    )
    const fleet = makeFleet(endpoints.map((e) => ({ baseUrl: e.baseUrl, maxConcurrency: e.maxConcurrency })), fleetOptions)
    let retries = 0
    let failures = 0
    let requests = 0

    const urls = new Map<string, URL>()
    const urlFor = (endpoint: number, path: string): URL => {
      const key = `${endpoint} ${path}`
      let url = urls.get(key)
      if (url === undefined) {
        const base = endpoints[endpoint]!.baseUrl
        url = new URL(path.startsWith("/") ? new URL(path, base).toString() : `${base.replace(/\/+$/, "")}/${path}`)
        urls.set(key, url)
      }
      return url
    }

    const send = (endpoint: number, method: "GET" | "POST", path: string, payload: string | undefined) =>
      Effect.async<Raw, Attempt>((resume) => {
        const url = urlFor(endpoint, path)
        const headers: Record<string, string> = { accept: "application/json" }
        if (payload !== undefined) {
          headers["content-type"] = "application/json"
          headers["content-length"] = String(Buffer.byteLength(payload))
        }
        const key = keys[endpoint]!
        if (Option.isSome(key)) headers.authorization = `Bearer ${Redacted.value(key.value)}`
        let done = false
        const finish = (result: Effect.Effect<Raw, Attempt>) => {
          if (done) return
          done = true
          clearTimeout(timer)
          resume(result)
        }
        const lib = url.protocol === "https:" ? https() : http
        const request = lib.request(url, { method, headers, agent: agents[endpoint] }, (response) => {
          const chunks: Buffer[] = []
          response.on("data", (c: Buffer) => chunks.push(c))
          response.on("error", (e) => finish(Effect.fail({ kind: "network", reason: redact(errorCode(e)) })))
          response.on("end", () => {
            const retryAfter = response.headers["retry-after"]
            finish(Effect.succeed({ status: response.statusCode ?? 0, retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter, body: Buffer.concat(chunks).toString("utf8") }))
          })
          response.on("aborted", () => finish(Effect.fail({ kind: "network", reason: "connection closed mid-answer" })))
        })
        request.on("error", (e) => finish(Effect.fail({ kind: "network", reason: redact(errorCode(e)) })))
        const timer = setTimeout(() => {
          finish(Effect.fail({ kind: "timeout", reason: `no complete answer within ${settings.timeoutMs} ms` }))
          request.destroy()
        }, settings.timeoutMs)
        request.end(payload)
        return Effect.sync(() => {
          done = true
          clearTimeout(timer)
          request.destroy()
        })
      })

    /** Classifies a raw answer: a decoded value, or a failed attempt. */
    const classify = <A>(raw: Raw, decode: Decode<A>): Either.Either<A, Attempt> => {
      const { status } = raw
      if (status === 429 || status === 503) {
        const after = retryAfterMs(raw.retryAfter, Date.now())
        return Either.left({ kind: "rate_limited", status, reason: redact(raw.body.slice(0, 200)), ...(after === undefined ? {} : { retryAfterMs: after }) })
      }
      if (status >= 500) return Either.left({ kind: "server", status, reason: redact(raw.body.slice(0, 200)) })
      if (status === 408 || status === 409) return Either.left({ kind: "server", status, reason: redact(raw.body.slice(0, 200)) })
      if (status < 200 || status >= 300) return Either.left({ kind: "http", status, reason: redact(errorMessage(raw.body)) })
      let json: unknown
      try {
        json = JSON.parse(raw.body)
      } catch {
        return Either.left({ kind: "malformed", status, reason: "not JSON" })
      }
      return Either.mapLeft(decode(json), (reason) => ({ kind: "malformed" as const, status, reason }))
    }

    const outcomeOf = (a: Attempt): Outcome =>
      a.kind === "rate_limited" ? { _tag: "congested", retryAfterMs: a.retryAfterMs } : a.kind === "http" ? { _tag: "rejected" } : { _tag: "failed" }

    // Requests waiting for a slot, in arrival order; resumed by releases and by timers (pauses, ejections ending).
    const waiters: Array<{ avoid: number | undefined; resume: (e: Effect.Effect<Lease>) => void }> = []
    let wakeTimer: ReturnType<typeof setTimeout> | undefined
    let wakeAt = Infinity
    const pump = () => {
      while (waiters.length > 0) {
        const got = fleet.acquire(Date.now(), waiters[0]!.avoid)
        if ("endpoint" in got) {
          waiters.shift()!.resume(Effect.succeed(got))
          continue
        }
        if (got._tag === "later" && got.until < wakeAt) {
          if (wakeTimer !== undefined) clearTimeout(wakeTimer)
          wakeAt = got.until
          wakeTimer = setTimeout(() => {
            wakeTimer = undefined
            wakeAt = Infinity
            pump()
          }, Math.max(1, got.until - Date.now()))
        }
        return
      }
    }
    const acquire = (avoid: number | undefined): Effect.Effect<Lease> =>
      Effect.suspend(() => {
        // Behind earlier waiters a request queues even when a slot is free.
        const got = waiters.length === 0 ? fleet.acquire(Date.now(), avoid) : { _tag: "full" as const }
        if ("endpoint" in got) return Effect.succeed(got)
        return Effect.async<Lease>((resume) => {
          const waiter = { avoid, resume }
          waiters.push(waiter)
          pump()
          return Effect.sync(() => {
            const i = waiters.indexOf(waiter)
            if (i >= 0) waiters.splice(i, 1)
          })
        })
      })
    const once = <A>(method: "GET" | "POST", path: string, payload: string | undefined, decode: Decode<A>, pinned: number | undefined, avoid: number | undefined) =>
      pinned !== undefined
        ? Effect.map(Effect.either(Effect.flatMap(send(pinned, method, path, payload), (raw) => Either.match(classify(raw, decode), { onLeft: Effect.fail, onRight: Effect.succeed }))), (r) => ({ endpoint: pinned, result: r }))
        : Effect.acquireUseRelease(
            acquire(avoid),
            (lease) =>
              Effect.map(
                Effect.either(Effect.flatMap(send(lease.endpoint, method, path, payload), (raw) => Either.match(classify(raw, decode), { onLeft: Effect.fail, onRight: Effect.succeed }))),
                (result) => ({ endpoint: lease.endpoint, result, lease })
              ),
            (lease, exit) =>
              Effect.sync(() => {
                // An interrupted attempt says nothing about the endpoint; hand its slot back as a rejected one.
                const outcome: Outcome = exit._tag === "Success" ? (Either.isRight(exit.value.result) ? { _tag: "ok" } : outcomeOf(exit.value.result.left)) : { _tag: "rejected" }
                fleet.release(lease, outcome, Date.now())
                pump()
              })
          )

    const request = <A>(method: "GET" | "POST", path: string, body: unknown, decode: Decode<A>, options: RequestOptions = {}): Effect.Effect<Reply<A>, TransportError> => {
      const payload = body === undefined ? undefined : JSON.stringify(body)
      const maxRetries = options.retries ?? settings.maxRetries
      const loop = (attempt: number, avoid: number | undefined): Effect.Effect<Reply<A>, TransportError> =>
        Effect.flatMap(once(method, path, payload, decode, options.endpoint, avoid), ({ endpoint, result }) => {
          requests++
          if (Either.isRight(result)) return Effect.succeed({ value: result.right, endpoint })
          const failed = result.left
          if (!retryable.has(failed.kind) || attempt >= maxRetries) {
            failures++
            return Effect.fail(new TransportError({ kind: failed.kind, endpoint: endpoints[endpoint]!.baseUrl, ...(failed.status === undefined ? {} : { status: failed.status }), reason: failed.reason, attempts: attempt + 1 }))
          }
          retries++
          const delay = failed.retryAfterMs ?? settings.backoffMs * 2 ** attempt * (0.5 + Math.random())
          return Effect.zipRight(Effect.sleep(delay), loop(attempt + 1, fleet.size > 1 ? endpoint : undefined))
        })
      return loop(0, undefined)
    }

    const transport: Transport = {
      endpoints: endpoints.map((e) => e.baseUrl),
      post: (path, body, decode, options) => request("POST", path, body, decode, options),
      get: (path, decode, options) => request("GET", path, undefined, decode, options),
      counters: () => ({ requests, retries, failures, endpoints: fleet.counters() })
    }
    return transport
  })

const errorCode = (e: unknown): string => {
  const code = (e as { code?: unknown }).code
  return typeof code === "string" ? code : e instanceof Error ? e.message.slice(0, 80) : String(e).slice(0, 80)
}

/** The `error.message` of an OpenAI-style error body, else its first characters. */
const errorMessage = (body: string): string => {
  try {
    const json = JSON.parse(body) as { error?: { message?: unknown } | string; message?: unknown; detail?: unknown }
    const message = typeof json.error === "string" ? json.error : json.error?.message ?? json.message ?? json.detail
    if (typeof message === "string") return message.slice(0, 200)
  } catch {
    // not JSON: the raw text below
  }
  return body.slice(0, 200)
}
