/**
 * Which endpoint of a fleet takes the next request, and how many each may have in flight: per endpoint an adaptive
 * concurrency limit (additive increase after a run of clean answers, one multiplicative cut per episode of 429/503,
 * a pause for Retry-After, bounded by `maxConcurrency`) and a circuit breaker (ejected for a growing back-off after
 * consecutive failures, then one probe request decides whether it comes back). As in Envoy's outlier detection, the
 * last endpoint still in is never ejected: with nowhere else to go, its requests fail by their own retries rather
 * than wait. Plain state, no I/O: the transport drives it with the clock it reads.
 */

/** How a fleet paces its endpoints. */
export interface FleetOptions {
  /** Starting concurrency limit of every endpoint (capped by its maxConcurrency). */
  readonly initialConcurrency: number
  /** The limit is multiplied by this on an episode of 429/503. */
  readonly decrease: number
  /** Consecutive failures (5xx, timeouts, network errors, malformed replies) that eject an endpoint. */
  readonly ejectAfter: number
  /** First ejection period; each ejection that follows a failed probe doubles it, up to `maxEjectMs`. */
  readonly ejectMs: number
  readonly maxEjectMs: number
}

/** The defaults: start at 32, cut by a fifth, eject after 5 failures in a row for 1 s, doubling up to 30 s. */
export const defaultFleetOptions: FleetOptions = { initialConcurrency: 32, decrease: 0.8, ejectAfter: 5, ejectMs: 1_000, maxEjectMs: 30_000 }

/** How an answered or failed attempt ends, as far as pacing is concerned. */
export type Outcome =
  | { readonly _tag: "ok" }
  /** 429 or 503: the endpoint is alive but asks us to slow down. */
  | { readonly _tag: "congested"; readonly retryAfterMs?: number | undefined }
  /** 5xx, timeout, network error or malformed reply: counts towards ejection. */
  | { readonly _tag: "failed" }
  /** A 4xx other than 408/409/429: the request was wrong, the endpoint is fine. */
  | { readonly _tag: "rejected" }

/** Counters of one endpoint, readable at any time (tests assert on them; stages record them). */
export interface EndpointCounters {
  readonly baseUrl: string
  /** Attempts sent. */
  readonly sent: number
  readonly ok: number
  readonly congested: number
  readonly failed: number
  readonly rejected: number
  /** The adaptive limit now, and the lowest and highest it has been. */
  readonly limit: number
  readonly limitMin: number
  readonly limitMax: number
  /** Multiplicative cuts (one per episode) and additive raises. */
  readonly cuts: number
  readonly raises: number
  readonly ejections: number
  readonly inFlight: number
  readonly peakInFlight: number
}

/** A granted slot on one endpoint; hand it back with `release`. */
export interface Lease {
  readonly endpoint: number
  /** Send order on that endpoint: answers to requests sent before a cut belong to the episode that caused it. */
  readonly seq: number
  readonly probe: boolean
}

/** Why no slot is free right now: every endpoint is full (wait for a release), or paused or ejected until `until`. */
export type Unavailable = { readonly _tag: "full" } | { readonly _tag: "later"; readonly until: number; readonly ejected: boolean }

interface State {
  readonly baseUrl: string
  readonly max: number
  limit: number
  clean: number
  inFlight: number
  seq: number
  /** Sends at or after this seq postdate the last cut; earlier congestion replies belong to that cut's episode. */
  episodeFrom: number
  pausedUntil: number
  consecutiveFailures: number
  ejectedUntil: number
  ejectMs: number
  /** Ejected and not yet proven alive again: at most one probe in flight. */
  halfOpen: boolean
  sent: number
  ok: number
  congested: number
  failed: number
  rejected: number
  limitMin: number
  limitMax: number
  cuts: number
  raises: number
  ejections: number
  peakInFlight: number
}

/** A fleet of endpoints and their pacing state. */
export interface Fleet {
  readonly size: number
  /** A slot on the available endpoint with the fewest requests in flight (preferring any but `avoid`), or why none is free. */
  readonly acquire: (now: number, avoid?: number) => Lease | Unavailable
  /** Whether `acquire` would grant a slot now, without taking one. */
  readonly peek: (now: number) => "free" | Unavailable
  /** Hands a slot back with its outcome; says whether it ejected the endpoint, and whether that was a failed probe. */
  readonly release: (lease: Lease, outcome: Outcome, now: number) => "ejected" | "probe-failed" | undefined
  readonly counters: () => ReadonlyArray<EndpointCounters>
}

/** A fleet over endpoints, each with its own maximum concurrency. */
export const makeFleet = (endpoints: ReadonlyArray<{ readonly baseUrl: string; readonly maxConcurrency: number }>, options: FleetOptions = defaultFleetOptions): Fleet => {
  if (endpoints.length === 0) throw new Error("makeFleet: endpoints is empty")
  const states: State[] = endpoints.map((e) => {
    const limit = Math.max(1, Math.min(options.initialConcurrency, e.maxConcurrency))
    return {
      baseUrl: e.baseUrl, max: e.maxConcurrency, limit, clean: 0, inFlight: 0, seq: 0, episodeFrom: 0, pausedUntil: 0,
      consecutiveFailures: 0, ejectedUntil: 0, ejectMs: options.ejectMs, halfOpen: false,
      sent: 0, ok: 0, congested: 0, failed: 0, rejected: 0, limitMin: limit, limitMax: limit, cuts: 0, raises: 0, ejections: 0, peakInFlight: 0
    }
  })
  const capacity = (s: State) => (s.halfOpen ? 1 : Math.floor(s.limit))
  const open = (s: State, now: number) => s.ejectedUntil <= now && s.pausedUntil <= now

  const choose = (now: number, avoid?: number): number | Unavailable => {
    let best = -1
    let bestLoad = Infinity
    let soonest = Infinity
    let soonestEjected = false
    let full = false
    for (let i = 0; i < states.length; i++) {
      const s = states[i]!
      if (!open(s, now)) {
        const until = Math.max(s.ejectedUntil, s.pausedUntil)
        if (until < soonest) {
          soonest = until
          soonestEjected = s.ejectedUntil > now
        }
        continue
      }
      if (s.inFlight >= capacity(s)) {
        full = true
        continue
      }
      // Load is the share of the limit in use, so a larger endpoint takes proportionally more; `avoid` goes last.
      const load = s.inFlight / capacity(s) + (i === avoid ? 2 : 0)
      if (load < bestLoad) {
        best = i
        bestLoad = load
      }
    }
    if (best < 0) return full || soonest === Infinity ? { _tag: "full" } : { _tag: "later", until: soonest, ejected: soonestEjected }
    return best
  }

  const acquire = (now: number, avoid?: number): Lease | Unavailable => {
    const best = choose(now, avoid)
    if (typeof best !== "number") return best
    const s = states[best]!
    s.inFlight++
    s.sent++
    s.peakInFlight = Math.max(s.peakInFlight, s.inFlight)
    return { endpoint: best, seq: s.seq++, probe: s.halfOpen }
  }

  const setLimit = (s: State, limit: number) => {
    s.limit = limit
    s.limitMin = Math.min(s.limitMin, limit)
    s.limitMax = Math.max(s.limitMax, limit)
  }

  const release = (lease: Lease, outcome: Outcome, now: number): "ejected" | "probe-failed" | undefined => {
    const s = states[lease.endpoint]!
    s.inFlight--
    switch (outcome._tag) {
      case "ok":
        s.ok++
        s.consecutiveFailures = 0
        if (s.halfOpen) {
          s.halfOpen = false
          s.ejectMs = options.ejectMs
        }
        if (lease.seq >= s.episodeFrom && ++s.clean >= Math.floor(s.limit) && s.limit < s.max) {
          setLimit(s, Math.min(s.max, s.limit + 1))
          s.raises++
          s.clean = 0
        }
        return undefined
      case "congested":
        s.congested++
        s.clean = 0
        if (outcome.retryAfterMs !== undefined) s.pausedUntil = Math.max(s.pausedUntil, now + outcome.retryAfterMs)
        s.halfOpen = false
        if (lease.seq >= s.episodeFrom) {
          setLimit(s, Math.max(1, s.limit * options.decrease))
          s.cuts++
          s.episodeFrom = s.seq
        }
        return undefined
      case "rejected":
        s.rejected++
        s.consecutiveFailures = 0
        s.halfOpen = false
        return undefined
      case "failed": {
        s.failed++
        s.clean = 0
        s.consecutiveFailures++
        if (!lease.probe && (s.ejectedUntil > now || s.consecutiveFailures < options.ejectAfter)) return undefined
        if (!states.some((o, j) => j !== lease.endpoint && o.ejectedUntil <= now)) {
          s.halfOpen = false
          return undefined
        }
        if (lease.probe) s.ejectMs = Math.min(options.maxEjectMs, s.ejectMs * 2)
        s.ejectedUntil = now + s.ejectMs
        s.halfOpen = true
        s.ejections++
        return lease.probe ? "probe-failed" : "ejected"
      }
    }
  }

  const counters = (): ReadonlyArray<EndpointCounters> =>
    states.map((s) => ({
      baseUrl: s.baseUrl, sent: s.sent, ok: s.ok, congested: s.congested, failed: s.failed, rejected: s.rejected,
      limit: s.limit, limitMin: s.limitMin, limitMax: s.limitMax, cuts: s.cuts, raises: s.raises, ejections: s.ejections,
      inFlight: s.inFlight, peakInFlight: s.peakInFlight
    }))

  const peek = (now: number): "free" | Unavailable => {
    const best = choose(now)
    return typeof best === "number" ? "free" : best
  }

  return { size: states.length, acquire, peek, release, counters }
}
