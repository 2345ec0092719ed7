/** Formats a number for reading: three significant digits, exponent notation outside 1e-3..1e6. */
export const formatNumber = (value: number, decimals?: number): string => {
  if (Number.isNaN(value)) return "NaN"
  if (!Number.isFinite(value)) return value > 0 ? "∞" : "−∞"
  const places = decimals ?? decimalsFor(value)
  if (places === undefined) return value.toExponential(2)
  return value.toFixed(places).replace(/^-(?=0(\.0*)?$)/, "")
}

/** Decimal places giving three significant digits, or undefined when exponent notation reads better. */
export const decimalsFor = (value: number): number | undefined => {
  const magnitude = Math.abs(value)
  if (magnitude === 0) return 3
  if (magnitude < 1e-3 || magnitude >= 1e6) return undefined
  return Math.max(0, 2 - Math.floor(Math.log10(magnitude)))
}

/** A number for a sentence: three significant digits (as in the tables), "undefined" when not finite. */
export const num = (x: number | null | undefined): string => (x === null || x === undefined || !Number.isFinite(x) ? "undefined" : formatNumber(x))

/** An estimate with its 95% interval for a sentence: `0.781 [0.702, 0.853]`. */
export const withInterval = (x: { readonly estimate: number; readonly lo: number | null; readonly hi: number | null }): string =>
  x.lo === null || x.hi === null || !Number.isFinite(x.lo) || !Number.isFinite(x.hi) ? num(x.estimate) : `${num(x.estimate)} [${num(x.lo)}, ${num(x.hi)}]`

/** `n thing` or `n things`. */
export const count = (n: number, thing: string, things = `${thing}s`): string => `${n} ${n === 1 ? thing : things}`

/** Whether an interval lies wholly above (1), wholly below (−1) or across (0) a value. */
export const side = (x: { readonly lo: number | null; readonly hi: number | null }, value = 0): -1 | 0 | 1 =>
  x.lo !== null && x.lo > value ? 1 : x.hi !== null && x.hi < value ? -1 : 0

/** A noun with its indefinite article: "an origin", "a topic". */
export const aWord = (word: string): string => `${/^[aeiou]/i.test(word) ? "an" : "a"} ${word}`

/** A p-value for a sentence: three digits, or "< 1e-300" where it underflowed to 0. */
export const pValue = (p: number | null | undefined): string => (p === 0 ? "< 1e-300" : num(p))
