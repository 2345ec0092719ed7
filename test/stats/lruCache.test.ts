import { describe, expect, it } from "vitest"
import { lruCache } from "../../stats/lruCache"

describe("lruCache", () => {
  it("lets the least recently used value go first once the budget is passed, and keeps nothing larger than the budget", () => {
    const cache = lruCache<string>(10)
    cache.keep("a", "A", 4)
    cache.keep("b", "B", 4)
    expect(cache.recall("a")).toBe("A")
    cache.keep("c", "C", 4)
    expect(cache.recall("b")).toBeUndefined()
    expect(cache.recall("a")).toBe("A")
    expect(cache.recall("c")).toBe("C")
    expect(cache.keep("d", "D", 11)).toBe("D")
    expect(cache.recall("d")).toBeUndefined()
    cache.keep("a", "A2", 6)
    expect(cache.recall("a")).toBe("A2")
    expect(cache.recall("c")).toBe("C")
  })
})
