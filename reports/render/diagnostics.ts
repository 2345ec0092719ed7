import type { LoadedOutputs } from "../../pipeline/Artifact"
import { formatReasons } from "../../stages/rowFailures"
import { stageDiagnostics } from "../../stages/stageDiagnostics"
import { fromTable } from "../../stages/tables"
import { pearson } from "../../stats/metrics"
import { wilson } from "../../stats/regression"

/** A finding a careful reviewer would raise about a report's inputs. */
export interface Diagnostic {
  readonly level: "warning" | "error"
  readonly code: string
  readonly message: string
}

const percent = (x: number) => `${(100 * x).toFixed(0)}%`

/** Flags correlations computed from fewer than `minimum` tasks (default 30). */
export const fewTasks = (
  correlations: ReadonlyArray<{ readonly label: string; readonly n: number }>,
  minimum = 30
): ReadonlyArray<Diagnostic> =>
  correlations
    .filter((c) => c.n < minimum)
    .map((c) => ({
      level: "warning",
      code: "few-tasks",
      message: `${c.label}: correlation from ${c.n} tasks (fewer than ${minimum}); its interval is too wide to rank against others`
    }))

/** Per-template mean score per task, with the construct the template claims to measure. */
export interface TemplateTaskMeans {
  readonly templateId: string
  readonly construct: string
  readonly taskMeans: ReadonlyMap<string, number>
}

/**
 * Flags templates whose task means correlate negatively with most other templates of the same
 * construct (over tasks both scored, at least `minShared`): the template's scale is likely reversed.
 */
export const orientation = (templates: ReadonlyArray<TemplateTaskMeans>, minShared = 3): ReadonlyArray<Diagnostic> =>
  templates.flatMap((template) => {
    const peers = templates.filter((t) => t.construct === template.construct && t.templateId !== template.templateId)
    const correlations = peers.flatMap((peer) => {
      const shared = [...template.taskMeans.keys()].filter((task) => peer.taskMeans.has(task))
      if (shared.length < minShared) return []
      const r = pearson(shared.map((t) => template.taskMeans.get(t)!), shared.map((t) => peer.taskMeans.get(t)!))
      return Number.isFinite(r) ? [r] : []
    })
    const negative = correlations.filter((r) => r < 0).length
    if (negative * 2 <= correlations.length) return []
    return [
      {
        level: "error",
        code: "orientation",
        message:
          `${template.templateId}: task means correlate negatively with ${negative} of ${correlations.length} ` +
          `other templates of construct "${template.construct}"; its scale is probably reversed`
      } as const
    ]
  })

/** Flags templates where more than `maxShare` (default 60%) of the non-missing answers are one value. */
export const collapse = (
  templates: ReadonlyArray<{ readonly templateId: string; readonly values: ReadonlyArray<unknown> }>,
  maxShare = 0.6
): ReadonlyArray<Diagnostic> =>
  templates.flatMap(({ templateId, values }) => {
    const counts = new Map<string, number>()
    let total = 0
    for (const value of values) {
      if (value === null || value === undefined) continue
      const key = typeof value === "string" ? value : JSON.stringify(value)
      counts.set(key, (counts.get(key) ?? 0) + 1)
      total++
    }
    const [top, count] = [...counts.entries()].reduce((a, b) => (b[1] > a[1] ? b : a), ["", 0])
    if (total === 0 || count / total <= maxShare) return []
    return [
      {
        level: "warning",
        code: "collapse",
        message: `${templateId}: ${percent(count / total)} of ${total} answers are ${top}; the template barely discriminates between tasks`
      } as const
    ]
  })

/** Flags templates whose parse failure rate exceeds `maxRate` (default 10%). */
export const parseFailures = (
  templates: ReadonlyArray<{ readonly templateId: string; readonly failed: number; readonly total: number }>,
  maxRate = 0.1
): ReadonlyArray<Diagnostic> =>
  templates
    .filter((t) => t.total > 0 && t.failed / t.total > maxRate)
    .map((t) => ({
      level: "warning",
      code: "parse-failures",
      message: `${t.templateId}: ${t.failed} of ${t.total} answers (${percent(t.failed / t.total)}) failed to parse; the scores may be biased towards parseable answers`
    }))

/**
 * The notice a section opens with when most answers behind it failed to parse (a failed share above `share`, default
 * one half, for any of its templates); undefined otherwise.
 */
export const parseNotice = (
  templates: ReadonlyArray<{ readonly templateId: string; readonly failed: number; readonly total: number }>,
  share = 0.5
): string | undefined => {
  const broken = templates.filter((t) => t.total > 0 && t.failed / t.total > share)
  if (broken.length === 0) return undefined
  return (
    `most answers failed to parse for ${broken.map((t) => `${t.templateId} (${t.failed} of ${t.total}, ${percent(t.failed / t.total)})`).join(", ")}; ` +
    "what follows rests on the few answers that parsed and may be biased towards answers that are easy to parse (see the parsing report)"
  )
}

/**
 * Flags revealed-choice sets whose rate of choosing the first-shown option departs from 0.5: its
 * Wilson 95% interval excludes 0.5, or it is more than `maxDeviation` (default 0.1) away.
 */
export const positionBias = (
  choices: ReadonlyArray<{ readonly label: string; readonly chooseFirst: number; readonly total: number }>,
  maxDeviation = 0.1
): ReadonlyArray<Diagnostic> =>
  choices.flatMap((c) => {
    if (c.total <= 0) return []
    if (c.chooseFirst < 0 || c.chooseFirst > c.total)
      throw new Error(`positionBias: choices "${c.label}" has chooseFirst ${c.chooseFirst} outside 0..${c.total}`)
    const { p, lo, hi } = wilson(c.chooseFirst, c.total)
    if (lo <= 0.5 && hi >= 0.5 && Math.abs(p - 0.5) <= maxDeviation) return []
    return [
      {
        level: "warning",
        code: "position-bias",
        message: `${c.label}: P(choose first) = ${p.toFixed(3)} [${lo.toFixed(3)}, ${hi.toFixed(3)}] over ${c.total} choices; order, not content, may drive the choices`
      } as const
    ]
  })

/** Flags steering results that have no control direction (a direction whose name contains "control") to compare against. */
export const missingControl = (
  results: ReadonlyArray<{ readonly label: string; readonly directions: ReadonlyArray<string> }>
): ReadonlyArray<Diagnostic> =>
  results
    .filter((r) => !r.directions.some((d) => d.toLowerCase().includes("control")))
    .map((r) => ({
      level: "error",
      code: "missing-control",
      message: `${r.label}: steering along ${r.directions.join(", ") || "no direction"} has no control direction, so an effect cannot be told from generic perturbation`
    }))

/**
 * Flags probes whose content-only baseline (a probe on what the task is about, not on activations) reaches `share`
 * (default 90%) or more of the activation probe's R²: the activation probe may mostly read the task's content.
 * R² values are compared only where the activation probe's is positive.
 */
export const contentExplains = (
  probes: ReadonlyArray<{ readonly label: string; readonly activation: number; readonly contentOnly: number; readonly contentOrthogonal: number }>,
  share = 0.9
): ReadonlyArray<Diagnostic> =>
  probes
    // The tolerance keeps a share of exactly `share` from missing by one rounding (0.36 < 0.9 × 0.4 in binary).
    .filter((p) => p.activation > 0 && p.contentOnly >= share * p.activation - 1e-12)
    .map((p) => ({
      level: "warning",
      code: "content-explains",
      message:
        `${p.label}: the content-only probe's R² ${p.contentOnly.toFixed(3)} is ${percent(p.contentOnly / p.activation)} of the activation probe's ${p.activation.toFixed(3)}; ` +
        `the probe may mostly read what the task is about (content-orthogonal R² ${p.contentOrthogonal.toFixed(3)})`
    }))

/** True for a failed row whose request failed after its retries (the subject's or the judge's), not an unparseable answer. */
export const isRequestFailure = (reason: string | null): boolean => reason !== null && /^(subject|judge): /.test(reason)

/**
 * What the stages a report reads passed on (a server that ignores seeds, answers without option probabilities, see
 * stages/stageDiagnostics.ts), and, per template of its `scores:<id>` inputs, the rows whose requests failed by reason.
 */
export const modelDiagnostics = (inputs: Readonly<Record<string, LoadedOutputs>>): ReadonlyArray<Diagnostic> => {
  const failures = Object.entries(inputs).flatMap(([name, loaded]): Diagnostic[] => {
    if (!name.startsWith("scores:")) return []
    const rows = fromTable<{ reason: string | null }>(loaded.table("scores").select(["reason"]))
    const reasons = rows.flatMap((r) => (isRequestFailure(r.reason) ? [r.reason!] : []))
    if (reasons.length === 0) return []
    return [{
      level: "warning",
      code: "failed-requests",
      message: `${name.slice("scores:".length)}: ${reasons.length} of ${rows.length} answers are missing because their requests failed after retries: ${formatReasons(reasons)}`
    }]
  })
  return [...failures, ...stageDiagnostics(inputs)]
}
