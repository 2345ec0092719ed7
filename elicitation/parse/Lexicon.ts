import { plainText } from "./Exact"

/** The positive half of the small sentiment lexicon that scores open-ended answers when no judge is configured. */
export const positiveWords: ReadonlySet<string> = new Set(
  ("good great enjoy enjoyed enjoying enjoyable fun interesting pleasant glad happy love loved like liked " +
    "wonderful satisfying rewarding nice excellent delightful fine engaging fulfilling meaningful proud " +
    "grateful excited exciting lovely positive calm content").split(" ")
)
/** The negative half of the lexicon. */
export const negativeWords: ReadonlySet<string> = new Set(
  ("bad awful terrible boring bored dull tedious unpleasant hate hated dislike disliked sad upset upsetting " +
    "annoying annoyed frustrating frustrated uncomfortable distressing distressed horrible painful tiring tired " +
    "negative stressful worried uneasy disgusting").split(" ")
)

const negation = /^(?:not|no|never|hardly)$|n't$/

/**
 * The lexicon valence of a text: each lexicon word counts +1 or −1, flipped when one of the two words before it
 * is a negation; the score is (pos − neg)/(pos + neg) in [−1, 1], or undefined when no lexicon word occurs.
 */
export const lexiconValence = (response: string): number | undefined => {
  const words = plainText(response).match(/[a-z]+(?:'[a-z]+)?/g) ?? []
  let pos = 0
  let neg = 0
  words.forEach((w, i) => {
    const sign = positiveWords.has(w) ? 1 : negativeWords.has(w) ? -1 : 0
    if (sign === 0) return
    const flipped = words.slice(Math.max(0, i - 2), i).some((p) => negation.test(p)) ? -sign : sign
    if (flipped > 0) pos++
    else neg++
  })
  return pos + neg === 0 ? undefined : (pos - neg) / (pos + neg)
}
