import type { AnswerOption } from "../Template"

/** What tier 1 made of a response: a value, or why it could not tell. */
export type Reading =
  | { readonly _tag: "value"; readonly value: number }
  | { readonly _tag: "unclear"; readonly reason: string }

const value = (v: number): Reading => ({ _tag: "value", value: v })
const unclear = (reason: string): Reading => ({ _tag: "unclear", reason })

/** Lower-cases, unifies apostrophes and dashes, and blanks markdown emphasis, headings and code marks. */
export const plainText = (response: string): string =>
  response
    .toLowerCase()
    .replace(/[\u2018\u2019\u02bc]/g, "'")
    .replace(/[\u2013\u2014]/g, "-")
    .replace(/[*_`#>~|]/g, " ")
    .replace(/\s+/g, " ")
    .trim()

/** Words and clause breaks of a plain text; a clause break ends the reach of a negation. */
const tokens = (text: string): ReadonlyArray<string> => text.match(/[a-z0-9]+(?:'[a-z]+)?|[.,;:!?()"]/g) ?? []

const clauseBreak = /^[.,;:!?()"]$/
const negators = new Set(["not", "no", "never", "neither", "nor", "hardly", "barely", "without"])
const isNegator = (word: string) => negators.has(word) || word.endsWith("n't")
/** How far back (in words, within one clause) a negation reaches. */
const negationReach = 4

/** Whether the word at `index` is negated by one of the few words before it in the same clause. */
const negatedAt = (words: ReadonlyArray<string>, index: number): boolean => {
  for (let i = index - 1; i >= 0 && i >= index - negationReach; i--) {
    if (clauseBreak.test(words[i])) return false
    if (isNegator(words[i])) return true
  }
  return false
}

/**
 * Tier 1 for qualitative templates: exactly one option word, neither negated ("not bad", "neither good nor bad")
 * nor offered as an alternative ("good or bad"); anything else is unclear.
 */
export const readQualitative = (options: ReadonlyArray<AnswerOption>, response: string): Reading => {
  const words = tokens(plainText(response))
  const labels = options.map((o) => tokens(o.label.toLowerCase()))
  const chosen = new Set<number>()
  for (let i = 0; i < words.length; i++) {
    for (let k = 0; k < labels.length; k++) {
      const label = labels[k]
      if (!label.every((w, j) => words[i + j] === w)) continue
      if (negatedAt(words, i)) return unclear("negated option")
      if (words[i - 1] === "or" || words[i + label.length] === "or") return unclear("options offered as alternatives")
      chosen.add(k)
    }
  }
  if (chosen.size === 0) return unclear("no option word")
  if (chosen.size > 1) return unclear("several options")
  return value(options[[...chosen][0]].value)
}

const unitWords = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
const teenWords = ["ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]
const tensWords = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
const belowHundred = String.raw`(?:(${tensWords.slice(2).join("|")})(?:[- ](${unitWords.slice(1).join("|")}))?|(${teenWords.join("|")})|(${unitWords.join("|")}))`
const numberPhrase = new RegExp(
  String.raw`\b(?:(${unitWords.slice(1).join("|")})[- ]hundred(?:(?: and)? ${belowHundred})?|${belowHundred})\b`,
  "g"
)
/** Words before which "one" is a pronoun ("this one", "the one I did"), not a number. */
const pronounOne = /\b(?:this|that|the|which|each|every|any|another|no|a|an) $/

/**
 * Writes numbers spelled in lower-case words as digits ("seven out of ten" → "7 out of 10", "twenty-one", "one
 * hundred and five"), up to 999; "one" after a determiner ("this one") stays a word.
 */
export const numberWordsToDigits = (text: string): string =>
  text.replace(numberPhrase, (match, ...groups: Array<string | number | undefined>) => {
    const [hundreds, tens1, units1, teen1, unit1, tens2, units2, teen2, unit2] = groups as Array<string | undefined>
    const offset = groups[9] as number
    const below = (tens: string | undefined, units: string | undefined, teen: string | undefined, unit: string | undefined) =>
      tens !== undefined ? tensWords.indexOf(tens) * 10 + (units === undefined ? 0 : unitWords.indexOf(units))
      : teen !== undefined ? 10 + teenWords.indexOf(teen)
      : unit !== undefined ? unitWords.indexOf(unit)
      : 0
    if (hundreds !== undefined) return String(unitWords.indexOf(hundreds) * 100 + below(tens1, units1, teen1, unit1))
    if (match === "one" && pronounOne.test(text.slice(0, offset))) return match
    return String(below(tens2, units2, teen2, unit2))
  })

const num = String.raw`\d+(?:\.\d+)?`

/** The digits of a plain text read against the scale: one number, or why not. */
const statedNumber = (scale: { readonly min: number; readonly max: number }, plain: string): Reading => {
  let text = plain
  const restated = new RegExp(String.raw`(?:(?:on )?(?:a )?scale (?:of |from )?)?(?:from )?\b${scale.min} ?(?:-|to) ?${scale.max}\b(?! ?(?:/|out of))`, "g")
  text = text.replace(restated, " ")
  if (new RegExp(String.raw`(?<![\w.])${num} ?(?:-|to|or) ?${num}(?![\w])`).test(text)) return unclear("range of numbers")
  const found: Array<number> = []
  for (const m of text.matchAll(new RegExp(String.raw`(?<![\w.])(-?${num}) ?\(?(?:/|out of) ?(\d+)\)?(?![\w])`, "g"))) {
    if (Number(m[2]) !== scale.max) return unclear("fraction of another scale")
    found.push(Number(m[1]))
  }
  text = text.replace(new RegExp(String.raw`(?<![\w.])-?${num} ?\(?(?:/|out of) ?\d+\)?(?![\w])`, "g"), " ")
  for (const m of text.matchAll(new RegExp(String.raw`(?<![\w.])-?${num}(?![\w]|\.\d)`, "g"))) found.push(Number(m[0]))
  const distinct = [...new Set(found)]
  if (distinct.length === 0) return unclear("no number")
  if (distinct.length > 1) return unclear("several numbers")
  const n = distinct[0]
  if (!Number.isInteger(n)) return unclear("not an integer")
  if (n < scale.min || n > scale.max) return unclear("number off the scale")
  return value(n)
}

/**
 * Tier 1 for stated templates: one number on the scale, alone or as `7/10`, `7 out of 10`, `Rating: 7`, in digits or,
 * when the answer has no digits, in words ("Seven out of ten.", "twenty-one"); a restated scale ("1 to 10") is
 * ignored, ranges ("7-8"), several numbers, fractions of another scale, non-integers and numbers off the scale are
 * unclear.
 */
export const readStated = (scale: { readonly min: number; readonly max: number }, response: string): Reading => {
  const text = plainText(response)
  const digits = statedNumber(scale, text)
  return digits._tag === "unclear" && digits.reason === "no number" ? statedNumber(scale, plainText(numberWordsToDigits(text))) : digits
}

const stopwords = new Set(
  "the and for with that this from your you are was were have has had will would could should can not but about into then than them they their there what which when where who how why its it's our out all any also just more most some such very task tasks write give make list".split(" ")
)
/** Distinct content words (three letters or more, no stopwords) of a text. */
const contentWords = (text: string): Set<string> =>
  new Set((plainText(text).match(/[a-z]+/g) ?? []).filter((w) => w.length >= 3 && !stopwords.has(w)))

/** How much of the response's opening is searched for a choice. */
const openingChars = 400
/** Words of the response's opening compared with the two tasks. */
const openingWords = 40

const choiceVerb = String.raw`(?:choose|chose|choosing|pick|picked|picking|select|selected|prefer|go with|going with|opt for|take|taking|do|doing|complete|completing|start with|starting with)`

/**
 * Tier 1 for revealed templates, value 1 when the response took the task shown as Task A and 0 for Task B:
 * first by an opening label ("Task B: …", "A:"), then by stated choices ("I choose A", "I'll do Task B", a lone
 * "Task A:" marker) that are not negated, then by words of the opening shared with only one task's text: the
 * winner needs at least 2 such words and more than twice the other's count; anything else is unclear.
 */
export const readRevealed = (response: string, offered?: readonly [string, string]): Reading => {
  const text = plainText(response).slice(0, openingChars)
  const letterValue = (letter: string) => value(letter === "a" ? 1 : 0)
  const start = text.match(/^(?:task|option) ?([ab])\b|^\(?([ab])\)? ?(?:[:.)]|$)/)
  if (start !== null) return letterValue(start[1] ?? start[2])
  const letters = new Set<string>()
  const patterns = [
    new RegExp(String.raw`\b${choiceVerb} (?:task|option) ?([ab])\b`, "g"),
    new RegExp(String.raw`\b(?:choose|chose|pick|picked|select|selected|prefer|go with|going with|opt for) ([ab])(?= ?(?:[.,:;!)]|$))`, "g"),
    /\b(?:task|option) ?([ab]) ?:/g,
    /\b(?:task|option) ([ab])\b/g
  ]
  for (const pattern of patterns) {
    for (const m of text.matchAll(pattern)) {
      const words = tokens(text.slice(0, m.index))
      if (!negatedAt([...words, "x"], words.length)) letters.add(m[1])
    }
    if (letters.size > 0) break
  }
  if (letters.size === 1) return letterValue([...letters][0])
  if (letters.size > 1) return unclear("both tasks named")
  if (offered === undefined) return unclear("no task named")
  const opening = contentWords((plainText(response).match(/\S+/g) ?? []).slice(0, openingWords).join(" "))
  const [a, b] = [contentWords(offered[0]), contentWords(offered[1])]
  const shared = (own: Set<string>, other: Set<string>) => [...own].filter((w) => !other.has(w) && opening.has(w)).length
  const [sa, sb] = [shared(a, b), shared(b, a)]
  const [win, lose] = sa >= sb ? [sa, sb] : [sb, sa]
  if (win >= 2 && win > 2 * lose) return value(sa > sb ? 1 : 0)
  return unclear("no clear choice")
}

/**
 * Tier 1 for ranking templates: the labels of `n` tasks (A, B, …) in the order the response gives them, read from
 * "Task X" mentions or else lone capital letters; it must name each of the n tasks exactly once.
 */
export const readRanking = (n: number, response: string): ReadonlyArray<number> | string => {
  const opening = response.replace(/[*_`#]/g, " ").slice(0, openingChars)
  const named = Array.from(opening.matchAll(/\b[Tt]ask ?([A-Za-z])\b/g), (m) => m[1].toUpperCase())
  // A lone "I" is the pronoun unless there are enough tasks for it to be a label.
  const lone = Array.from(opening.matchAll(/(?<![\w'])([A-Z])(?![\w'])/g), (m) => m[1]).filter((l) => l !== "I" || n > 8)
  const letters = named.length > 0 ? named : lone
  const order = letters.map((l) => l.charCodeAt(0) - 65)
  if (order.length === 0) return "no task named"
  if (order.some((i) => i < 0 || i >= n)) return "unknown task label"
  if (new Set(order).size !== order.length) return "task named twice"
  if (order.length !== n) return "not every task ranked"
  return order
}
