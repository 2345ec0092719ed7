/**
 * summary.json `summary`:
 * {
 *   group_by: string,                      // what each probe was trained on ("origin" unless probes.groupBy says otherwise)
 *   probes: Array<{
 *     template: string, layer: number,
 *     labels: string[],                    // the groups, in matrix order
 *     n: number[],                         // tasks each group's probe was trained on, in matrix order
 *     cosine: number[][]                   // cosine[i][j]: raw-space weights of the probe on labels[i] vs labels[j], intercepts excluded
 *   }>
 * }
 */
import { Effect, Schema } from "effect"
import * as Artifact from "../pipeline/Artifact"
import type { ExperimentConfig } from "../pipeline/Config"
import * as Stage from "../pipeline/Stage"
import type { ProbeEvaluation } from "../stages/probeEval"
import { experimentGraph, scoredTemplates } from "./experiment"
import type { Diagnostic } from "./render/diagnostics"
import { count, num } from "./render/prose"
import { type Figure, heatmap } from "./render/figures"
import type { Column, Table } from "./render/tables"
import { configSummary, type ReportBody, reportTarget } from "./reportTarget"

const safeName = (name: string) => name.replace(/[^A-Za-z0-9._-]/g, "_")

/** Probes trained within one group each, compared by the cosine of their raw-space weight vectors. */
export const probeSimilarityReport = Stage.make({
  name: "report_probe_similarity",
  version: 2,
  params: Schema.Struct({ config: Schema.Record({ key: Schema.String, value: Schema.Unknown }) }),
  run: ({ inputs, params }) =>
    Effect.sync(() => {
      const evaluations = Object.entries(inputs)
        .filter(([name]) => name.startsWith("eval:"))
        .map(([, loaded]) => loaded.json<ProbeEvaluation>("evaluation"))
      const groupBy = evaluations[0]?.group_by ?? "origin"
      const probes = evaluations.map((e) => ({
        template: e.template_id,
        layer: e.layer,
        labels: e.similarity.labels,
        n: e.similarity.labels.map((l) => e.r2_by_group[l]?.n ?? 0),
        cosine: e.similarity.cosine
      }))
      const long: Table = {
        name: "similarity",
        columns: [
          { name: "template", type: "utf8" }, { name: "layer", type: "int32" }, { name: "trained_on", type: "utf8" },
          { name: "compared_with", type: "utf8" }, { name: "cosine", type: "float64" }
        ],
        rows: probes.flatMap((p) =>
          p.labels.flatMap((a, i) => p.labels.map((b, j) => ({ template: p.template, layer: p.layer, trained_on: a, compared_with: b, cosine: p.cosine[i]![j]! })))
        )
      }
      const sections = probes.map((p) => {
        const matrix: Table = {
          name: safeName(`similarity_${p.template}_L${p.layer}`),
          columns: [
            { name: "trained_on", type: "utf8" },
            { name: "n", type: "int32" },
            ...p.labels.map((l): Column => ({ name: l, type: "float64" }))
          ],
          rows: p.labels.map((a, i) => ({ trained_on: a, n: p.n[i], ...Object.fromEntries(p.labels.map((b, j) => [b, p.cosine[i]![j]!])) }))
        }
        const cells = p.labels.flatMap((a, i) => p.labels.map((b, j) => ({ row: a, column: b, value: p.cosine[i]![j]! })))
        const figures: Figure[] = cells.every((c) => Number.isFinite(c.value))
          ? [heatmap({
              name: safeName(`similarity_${p.template}_L${p.layer}`),
              title: `Probe similarity: ${p.template}, layer ${p.layer}`,
              subtitle: `Cosine of raw-space weights of probes trained on one ${groupBy} each`,
              cells,
              rowTitle: `probe trained on (${groupBy})`,
              columnTitle: `probe trained on (${groupBy})`,
              valueTitle: "cosine"
            })]
          : []
        return { heading: `${p.template}, layer ${p.layer}`, tables: [matrix], figures }
      })
      const diagnostics: Diagnostic[] = probes.flatMap((p) => [
        ...p.labels.flatMap((l, i): Diagnostic[] =>
          p.n[i]! < 30
            ? [{ level: "warning", code: "few-tasks", message: `${p.template} layer ${p.layer}: the probe on ${groupBy} ${l} was trained on ${p.n[i]} tasks (fewer than 30); its weights, and every cosine with it, are noisy` }]
            : []
        ),
        ...(p.labels.length < 2
          ? [{ level: "warning", code: "one-group", message: `${p.template} layer ${p.layer}: only one ${groupBy}, so there is nothing to compare` } as const]
          : []),
        ...(p.cosine.flat().every(Number.isFinite)
          ? []
          : [{ level: "warning", code: "undefined-cosine", message: `${p.template} layer ${p.layer}: a probe has all-zero weights, so its cosine is undefined; no heatmap drawn` } as const])
      ])
      const body: ReportBody = {
        title: `Similarity of probes trained on one ${groupBy} each`,
        configSummary: params.config,
        findings: { text: similarityFindings(probes, groupBy) },
        sections: [
          {
            heading: "Method",
            text:
              `For each template and layer, one Ridge probe is trained on the tasks of each ${groupBy} alone (alpha by cross-validation within that ${groupBy}). ` +
              "Each probe's weights are mapped back to the raw activation space (undoing the standardization) and compared by cosine similarity; intercepts are never part of the vector. " +
              `A cosine near 1 means two ${groupBy}s' preferences are read along the same direction; near 0, along unrelated ones; negative, along opposed ones.`
          },
          ...sections,
          { heading: "All pairs", text: "Every matrix above as one long table.", tables: [long] }
        ],
        diagnostics,
        summary: { group_by: groupBy, probes }
      }
      return { document: Artifact.json(body) }
    })
})

/** The mean cosine between different groups' probes (off the diagonal), NaN when undefined or with one group. */
const meanOffDiagonal = (cosine: ReadonlyArray<ReadonlyArray<number>>): number => {
  const values = cosine.flatMap((row, i) => row.filter((_, j) => j > i))
  return values.length === 0 || !values.every(Number.isFinite) ? Number.NaN : values.reduce((a, b) => a + b, 0) / values.length
}

/** The findings' sentences: per template, the layer where per-group probes agree most, and what their agreement means. */
export const similarityFindings = (probes: ReadonlyArray<{ template: string; layer: number; labels: ReadonlyArray<string>; cosine: ReadonlyArray<ReadonlyArray<number>> }>, groupBy: string): string => {
  const templates = [...new Set(probes.map((p) => p.template))]
  const sentences = templates.flatMap((template) => {
    const rows = probes.filter((p) => p.template === template).map((p) => ({ ...p, mean: meanOffDiagonal(p.cosine) })).filter((p) => Number.isFinite(p.mean))
    if (rows.length === 0) return []
    const best = rows.reduce((a, b) => (b.mean > a.mean ? b : a))
    const meaning =
      best.mean >= 0.5
        ? `they read preference along largely the same direction in every ${groupBy}`
        : best.mean >= 0.2
        ? `they share part of a direction, but each ${groupBy} adds its own`
        : `each ${groupBy}'s probe points its own way; the preference signal is not one shared direction here`
    return [`${template}: probes trained on one ${groupBy} each agree most at layer ${best.layer}, mean cosine ${num(best.mean)} between ${count(best.labels.length, groupBy)}: ${meaning}.`]
  })
  return sentences.length === 0 ? `No template had two ${groupBy}s with probes to compare.` : sentences.join("\n\n")
}

/** The probe similarity report's node for an experiment: every scored template at every configured layer. */
export const probeSimilarityNode = (config: ExperimentConfig): Stage.Node => {
  const g = experimentGraph(config)
  const inputs: Record<string, Stage.Node> = {}
  for (const t of scoredTemplates(config)) {
    for (const layer of config.activations.layers) inputs[`eval:${t.id}@${layer}`] = g.probeEval(t, layer)
  }
  return Stage.node(probeSimilarityReport, { label: "probe_similarity", params: { config: configSummary(config) }, inputs })
}

/** `pipeline build reports/probe_similarity`: cosine similarity of per-group probes, per template and layer. */
export const target = reportTarget("cosine similarity of probes trained on one task type each, per template and layer", probeSimilarityNode)
