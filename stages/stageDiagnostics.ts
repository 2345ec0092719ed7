import type { LoadedOutputs } from "../pipeline/Artifact"

/** Something a reader of the results must know about how they were made (a server ignored seeds, gave no logprobs). */
export interface StageDiagnostic {
  readonly level: "warning" | "error"
  readonly code: string
  readonly message: string
}

/**
 * The diagnostics a stage passes on: those of its inputs (their `diagnostics` output, when they have one) and its
 * own, each message once, in order. Reports collect them from the stages they read.
 */
export const stageDiagnostics = (inputs: Readonly<Record<string, LoadedOutputs>>, own: ReadonlyArray<StageDiagnostic> = []): StageDiagnostic[] => {
  const all = [
    ...Object.values(inputs).flatMap((i) => (i.outputs.diagnostics === undefined ? [] : i.json<ReadonlyArray<StageDiagnostic>>("diagnostics"))),
    ...own
  ]
  const seen = new Set<string>()
  return all.filter((d) => (seen.has(d.message) ? false : (seen.add(d.message), true)))
}
