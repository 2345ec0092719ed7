import { sharedJson } from "../support/sharedData"

/** The synthetic inputs of the analysis reference (`analysis/data.json`). */
export interface AnalysisData {
  readonly origins: string[]
  readonly activations: number[][]
  readonly target: number[]
  readonly origin: string[]
  readonly fold: number[]
  readonly alphas: number[]
  readonly steering: { coefficient: number; good: number }[]
  readonly seed_samples: number[][]
  readonly template_a: number[]
  readonly template_b: number[]
}

/** Shared reference inputs, or undefined when the shared data is missing. */
export const analysisData = sharedJson<AnalysisData>("reference/analysis/data.json")
/** Values NumPy, scikit-learn, SciPy and statsmodels computed from `analysisData`. */
export const analysisExpected = sharedJson<any>("reference/analysis/expected.json")

/** Relative closeness with an absolute floor for values near zero. */
export const close = (actual: number, expected: number, rel = 1e-6) =>
  Math.abs(actual - expected) <= rel * Math.max(Math.abs(expected), 1e-3)
