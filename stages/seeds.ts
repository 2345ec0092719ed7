import { createHash } from "node:crypto"

/** A 31-bit seed derived from the experiment seed and a row's identity (never from time or order). */
export const deriveSeed = (experimentSeed: number, ...identity: ReadonlyArray<string | number>): number =>
  createHash("sha256").update(JSON.stringify([experimentSeed, ...identity])).digest().readUInt32BE(0) >>> 1
