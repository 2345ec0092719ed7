import type { Diagnostic } from "./diagnostics"
import type { Figure } from "./figures"
import type { Table } from "./tables"

/**
 * One section of a report: a notice a reader must see before trusting what follows (e.g. that most of its answers
 * failed to parse), prose (paragraphs separated by blank lines), then tables, then figures.
 */
export interface Section {
  readonly heading: string
  readonly notice?: string
  readonly text?: string
  readonly tables?: ReadonlyArray<Table>
  readonly figures?: ReadonlyArray<Figure>
}

/** What a report found, in sentences generated from its numbers, with the table and figures they summarize. */
export type Findings = Omit<Section, "heading">

/** A whole report: what it found, how it was built, and what a reviewer should worry about. */
export interface ReportDocument {
  readonly title: string
  readonly buildHash: string
  readonly configSummary: Record<string, unknown>
  /** Printed first, under "Findings". */
  readonly findings: Findings
  readonly sections: ReadonlyArray<Section>
  readonly diagnostics: ReadonlyArray<Diagnostic>
  readonly summary: unknown
}

/** The heading the findings are printed under. */
export const FINDINGS = "Findings"

/** Every section in reading order: the findings first. */
export const allSections = (doc: Pick<ReportDocument, "findings" | "sections">): ReadonlyArray<Section> => [
  { heading: FINDINGS, ...doc.findings },
  ...doc.sections
]
