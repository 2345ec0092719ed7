/** Values kept by key within a budget of bytes, the least recently used leaving first when a new one needs room. */
export interface LruCache<A> {
  readonly recall: (key: string) => A | undefined
  /** Keeps `value` (unless it alone is over the budget) and returns it. */
  readonly keep: <B extends A>(key: string, value: B, bytes: number) => B
}

export const lruCache = <A>(budget: number): LruCache<A> => {
  const kept = new Map<string, { readonly value: A; readonly bytes: number }>()
  let held = 0
  return {
    recall: (key) => {
      const entry = kept.get(key)
      if (entry === undefined) return undefined
      kept.delete(key)
      kept.set(key, entry)
      return entry.value
    },
    keep: <B extends A>(key: string, value: B, bytes: number): B => {
      const old = kept.get(key)
      if (old !== undefined) {
        kept.delete(key)
        held -= old.bytes
      }
      if (bytes > budget) return value
      kept.set(key, { value, bytes })
      held += bytes
      for (const [k, entry] of kept) {
        if (held <= budget) break
        kept.delete(k)
        held -= entry.bytes
      }
      return value
    }
  }
}
