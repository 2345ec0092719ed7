/**
 * summary.json `summary`:
 * {
 *   [report: string]: unknown   // each gathered report's own summary, by report name (hoo, probe_r2, ...); see the top of reports/<name>.ts
 *   skipped: Record<report, string>   // reports the config cannot build (e.g. utilities without a revealed template), and why
 * }
 */
import { Effect, Schema } from "effect"
import * as Artifact from "../pipeline/Artifact"
import type { ExperimentConfig } from "../pipeline/Config"
import * as Stage from "../pipeline/Stage"
import type { Target } from "../pipeline/Target"
import { target as hoo } from "./hoo"
import { target as parsing } from "./parsing"
import { target as probeR2 } from "./probe_r2"
import { target as probeSimilarity } from "./probe_similarity"
import { target as ratings } from "./ratings"
import { allSections, FINDINGS, type Section } from "./render/sections"
import type { Table } from "./render/tables"
import { configSummary, type ReportBody, reportTarget } from "./reportTarget"
import { target as seedSensitivity } from "./seed_sensitivity"
import { target as steering } from "./steering"
import { target as templateScales } from "./template_scales"
import { target as utilities } from "./utilities"

/** Every report the weekly document gathers, by name, in the order it prints them. */
export const weeklyReports: ReadonlyArray<readonly [string, Target<ExperimentConfig>]> = [
  ["parsing", parsing],
  ["seed_sensitivity", seedSensitivity],
  ["ratings", ratings],
  ["template_scales", templateScales],
  ["probe_r2", probeR2],
  ["probe_similarity", probeSimilarity],
  ["hoo", hoo],
  ["utilities", utilities],
  ["steering", steering]
]

/** One report's sections inside the gathered document: headings, figure and table names prefixed with the report's name. */
export const prefixSections = (name: string, sections: ReadonlyArray<Section>): Section[] =>
  sections.map((section) => ({
    heading: `${name}: ${section.heading}`,
    ...(section.notice === undefined ? {} : { notice: section.notice }),
    ...(section.text === undefined ? {} : { text: section.text }),
    ...(section.tables === undefined ? {} : { tables: section.tables.map((t) => ({ ...t, name: `${name}-${t.name}` })) }),
    ...(section.figures === undefined ? {} : { figures: section.figures.map((f) => ({ ...f, name: `${name}-${f.name}` })) })
  }))

/** The weekly document: every report's findings first, then its sections, diagnostics merged, summaries by report name. */
export const weekReport = Stage.make({
  name: "report_week",
  version: 2,
  params: Schema.Struct({
    config: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
    reports: Schema.Array(Schema.String),
    skipped: Schema.Record({ key: Schema.String, value: Schema.String })
  }),
  run: ({ inputs, params }) =>
    Effect.sync(() => {
      const documents = params.reports.map((name) => ({ name, doc: inputs[name]!.json<ReportBody>("document") }))
      const skipped = Object.entries(params.skipped)
      const contents: Table = {
        name: "contents",
        columns: [
          { name: "report", type: "utf8" }, { name: "title", type: "utf8" }, { name: "sections", type: "int32" },
          { name: "figures", type: "int32" }, { name: "errors", type: "int32" }, { name: "warnings", type: "int32" }
        ],
        rows: documents.map(({ name, doc }) => ({
          report: name,
          title: doc.title,
          sections: doc.sections.length,
          figures: allSections(doc).reduce((n, s) => n + (s.figures?.length ?? 0), 0),
          errors: doc.diagnostics.filter((d) => d.level === "error").length,
          warnings: doc.diagnostics.filter((d) => d.level === "warning").length
        }))
      }
      const body: ReportBody = {
        title: "Weekly report",
        configSummary: params.config,
        findings: {
          text: [
            ...documents.map(({ name, doc }) => `${name}: ${doc.findings.text ?? ""}`.replace(/\n\s*\n/g, " ")),
            ...skipped.map(([name, why]) => `${name}: not built, ${why}.`)
          ].join("\n\n")
        },
        sections: [
          {
            heading: "Contents",
            text:
              "Every report target built from one experiment config. Section headings, figures and tables carry the name of the report they come from (`pipeline build reports/<name>` builds one alone); the diagnostics of all of them are listed together at the end." +
              (skipped.length === 0 ? "" : ` Not built, since the config cannot build them: ${skipped.map(([name, why]) => `${name} (${why})`).join("; ")}.`),
            tables: [contents]
          },
          ...documents.flatMap(({ name, doc }) =>
            prefixSections(name, [
              {
                heading: doc.title,
                text: `From \`reports/${name}\`: ${doc.sections.length} sections after its findings; its ${doc.diagnostics.length} diagnostics are listed with the others at the end.`
              },
              { heading: FINDINGS, ...doc.findings },
              ...doc.sections
            ])
          )
        ],
        diagnostics: documents.flatMap(({ name, doc }) => doc.diagnostics.map((d) => ({ ...d, message: `${name}: ${d.message}` }))),
        summary: { ...Object.fromEntries(documents.map(({ name, doc }) => [name, doc.summary])), skipped: params.skipped }
      }
      return { document: Artifact.json(body) }
    })
})

/** The weekly report's node: one input per gathered report the config can build, each the root of that report's own graph. */
export const weekNode = (config: ExperimentConfig): Stage.Node => {
  const problems = weeklyReports.map(([name, t]) => [name, t, t.check?.(config) ?? []] as const)
  const built = problems.filter(([, , p]) => p.length === 0)
  return Stage.node(weekReport, {
    label: "week",
    params: {
      config: configSummary(config),
      reports: built.map(([name]) => name),
      skipped: Object.fromEntries(problems.filter(([, , p]) => p.length > 0).map(([name, , p]) => [name, p.map((x) => `${x.field}: ${x.reason}`).join("; ")]))
    },
    inputs: Object.fromEntries(built.map(([name, t]) => [name, t.graph(config)]))
  })
}

/** `pipeline build reports/week`: every report target gathered into one document. */
export const target = reportTarget("every report target in one document: sections by report, diagnostics merged, summaries by name", weekNode)
