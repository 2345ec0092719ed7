import { describe, expect, it } from "@effect/vitest"
import { defaultFleetOptions, type Lease, makeFleet } from "../../../model/api/Fleet"

const lease = (got: ReturnType<ReturnType<typeof makeFleet>["acquire"]>): Lease => {
  if (!("endpoint" in got)) throw new Error(`expected a lease, got ${JSON.stringify(got)}`)
  return got
}

describe("Fleet", () => {
  it("starts at 32 (or maxConcurrency), refuses the 33rd request, and grows by one after a window of clean answers", () => {
    const fleet = makeFleet([{ baseUrl: "a", maxConcurrency: 40 }, { baseUrl: "b", maxConcurrency: 8 }])
    expect(fleet.counters().map((c) => c.limit)).toEqual([32, 8])
    const leases = Array.from({ length: 40 }, () => lease(fleet.acquire(0)))
    expect(fleet.acquire(0)).toEqual({ _tag: "full" })
    expect(leases.filter((l) => l.endpoint === 0).length).toBe(32)
    // 32 clean answers on a: one raise to 33; b (8 answers) reaches its maximum of 8 and stays there.
    for (const l of leases) fleet.release(l, { _tag: "ok" }, 1)
    expect(fleet.counters().map((c) => [c.limit, c.raises])).toEqual([[33, 1], [8, 0]])
  })

  it("sends to the endpoint with the smallest share of its limit in use, and to `avoid` only when nothing else is free", () => {
    const fleet = makeFleet([{ baseUrl: "a", maxConcurrency: 4 }, { baseUrl: "b", maxConcurrency: 2 }])
    const order = Array.from({ length: 6 }, () => lease(fleet.acquire(0)).endpoint)
    // a: 0/4 → b: 0/2 → a: 1/4 → b 1/2 = a 2/4 (a first) → b → a.
    expect(order).toEqual([0, 1, 0, 0, 1, 0])
    const other = makeFleet([{ baseUrl: "a", maxConcurrency: 4 }, { baseUrl: "b", maxConcurrency: 4 }])
    expect(lease(other.acquire(0, 0)).endpoint).toBe(1)
    expect(lease(other.acquire(0, 1)).endpoint).toBe(0)
  })

  it("cuts once per episode of 429s (a fifth), pauses for Retry-After, and recovers after clean windows", () => {
    const fleet = makeFleet([{ baseUrl: "a", maxConcurrency: 64 }])
    const first = Array.from({ length: 10 }, () => lease(fleet.acquire(0)))
    // Ten 429s to requests sent before the first cut: one episode, one cut.
    for (const l of first) fleet.release(l, { _tag: "congested", retryAfterMs: 1000 }, 5)
    expect(fleet.counters()[0]!.cuts).toBe(1)
    expect(fleet.counters()[0]!.limit).toBeCloseTo(32 * 0.8, 12)
    expect(fleet.acquire(500)).toEqual({ _tag: "later", until: 1005, ejected: false })
    // A 429 to a request sent after the cut starts a new episode.
    const later = lease(fleet.acquire(1005))
    fleet.release(later, { _tag: "congested" }, 1006)
    expect(fleet.counters()[0]!.limit).toBeCloseTo(32 * 0.64, 12)
    expect(fleet.counters()[0]!.limitMin).toBeCloseTo(20.48, 12)
    // Clean windows: 20 answers raise the limit to 21.48, 21 more to 22.48.
    for (let i = 0; i < 41; i++) fleet.release(lease(fleet.acquire(2000)), { _tag: "ok" }, 2001)
    expect(fleet.counters()[0]!.limit).toBeCloseTo(22.48, 12)
    expect(fleet.counters()[0]!.raises).toBe(2)
  })

  it("ejects an endpoint after consecutive failures, probes it with one request, and doubles the back-off after a failed probe", () => {
    const fleet = makeFleet([{ baseUrl: "a", maxConcurrency: 8 }, { baseUrl: "b", maxConcurrency: 8 }], { ...defaultFleetOptions, ejectAfter: 3, ejectMs: 100 })
    const onA = () => lease(fleet.acquire(0, 1))
    const ls = [onA(), onA(), onA()]
    expect(ls.map((l) => l.endpoint)).toEqual([0, 0, 0])
    expect(fleet.release(ls[0]!, { _tag: "failed" }, 10)).toBeUndefined()
    // A success in between resets the run of failures.
    fleet.release(onA(), { _tag: "ok" }, 10)
    expect(fleet.release(ls[1]!, { _tag: "failed" }, 11)).toBeUndefined()
    expect(fleet.release(ls[2]!, { _tag: "failed" }, 12)).toBeUndefined()
    expect(fleet.release(onA(), { _tag: "failed" }, 20)).toBe("ejected")
    // While a is out, everything goes to b, even what would rather avoid b.
    expect(lease(fleet.acquire(50, 1)).endpoint).toBe(1)
    const probe = lease(fleet.acquire(120, 1))
    expect([probe.endpoint, probe.probe]).toEqual([0, true])
    expect(lease(fleet.acquire(120, 1)).endpoint).toBe(1)
    expect(fleet.release(probe, { _tag: "failed" }, 130)).toBe("probe-failed")
    // Out again for twice as long: 200 ms from the failed probe.
    expect(lease(fleet.acquire(329, 1)).endpoint).toBe(1)
    const second = lease(fleet.acquire(330, 1))
    expect([second.endpoint, second.probe]).toEqual([0, true])
    fleet.release(second, { _tag: "ok" }, 331)
    expect(lease(fleet.acquire(331, 1)).probe).toBe(false)
    expect(fleet.counters()[0]!.ejections).toBe(2)
  })

  it("never ejects the last endpoint still in: its requests fail by their own retries", () => {
    const single = makeFleet([{ baseUrl: "a", maxConcurrency: 8 }], { ...defaultFleetOptions, ejectAfter: 2 })
    for (let i = 0; i < 10; i++) expect(single.release(lease(single.acquire(i)), { _tag: "failed" }, i)).toBeUndefined()
    expect(single.counters()[0]).toMatchObject({ failed: 10, ejections: 0 })
    const pair = makeFleet([{ baseUrl: "a", maxConcurrency: 8 }, { baseUrl: "b", maxConcurrency: 8 }], { ...defaultFleetOptions, ejectAfter: 2 })
    const fail = (endpoint: number, now: number) => pair.release(lease(pair.acquire(now, 1 - endpoint)), { _tag: "failed" }, now)
    fail(0, 0)
    expect(fail(0, 1)).toBe("ejected")
    fail(1, 2)
    expect(fail(1, 3)).toBeUndefined()
    expect(pair.counters().map((c) => c.ejections)).toEqual([1, 0])
  })

  it("a rejected request (a 4xx) neither cuts nor ejects", () => {
    const fleet = makeFleet([{ baseUrl: "a", maxConcurrency: 8 }], { ...defaultFleetOptions, ejectAfter: 2 })
    for (let i = 0; i < 5; i++) expect(fleet.release(lease(fleet.acquire(0)), { _tag: "rejected" }, 0)).toBeUndefined()
    expect(fleet.counters()[0]).toMatchObject({ rejected: 5, cuts: 0, ejections: 0, limit: 8 })
  })
})
