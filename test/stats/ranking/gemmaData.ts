import * as fs from "node:fs"
import type { Comparison } from "../../../stats/ranking/pairCounts"
import { sharedJson, sharedPath } from "../../support/sharedData"

/** The SciPy Case V reference fit shipped beside the Gemma-3-27B choices. */
export interface GemmaReference {
  readonly n_records: number
  readonly n_refusals: number
  readonly n_tasks: number
  readonly neg_log_likelihood: number
  readonly mu: Record<string, number>
  readonly mean_mu_by_origin: Record<string, number>
  readonly n_heldout_pairs: number
  readonly n_heldout_records: number
  readonly heldout_accuracy: number
}

const jsonlPath = sharedPath("preferences/gemma3_27b_villain_1000.jsonl")
const reference = sharedJson<GemmaReference>("preferences/gemma3_27b_villain_1000.reference.json")

/** Gemma-3-27B's 32,330 pairwise choices with origins and the reference fit, or undefined when the shared data is missing. */
export const gemma = jsonlPath === undefined || reference === undefined
  ? undefined
  : {
      comparisons: fs.readFileSync(jsonlPath, "utf8").split("\n").filter((l) => l.length > 0)
        .map((l) => JSON.parse(l) as Comparison & { readonly origin_a: string; readonly origin_b: string }),
      reference
    }
