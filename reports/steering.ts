/**
 * `pipeline build reports/steering`: dose-response of a binary template's answers to steering along the probe
 * direction, a random control of the same norm and the mean-difference direction (and, on the organism, the planted
 * direction), at each configured layer.
 *
 * summary.json:
 * {
 *   template, probe_template, kind ("qualitative" | "revealed"), outcome (the good label, or "Task A"),
 *   positions ("all" | "autoregressive" | "task" | "differential"), normalization ("unit" | "residual_norm"),
 *   layers: [{
 *     layer, mean_norm (mean residual norm at the layer), tasks, units (tasks, or ordered pairs), samples (per unit and coefficient),
 *     coefficients: number[],
 *     directions: { probe | control | mean_difference | planted: {
 *       slope, slope_lo, slope_hi (95%, task-clustered SE), p_value (plain OLS t), clustered_p_value (CR1 by task),
 *       logit_slope, logit_p_value (Wald), n (parsed samples), excluded: { refusal, failed },
 *       answers: [{ coefficient, total, parsed, refusal, failed }],
 *       cosine_probe, cosine_planted (null without a planted truth), error (why a fit is missing, or null),
 *       by_coefficient: [{ coefficient, p, lo, hi, n, successes }] (Wilson 95%),
 *       option_curve: [{ coefficient, p, n }] (mean option probability of the good answer)
 *     } }
 *   }]
 * }
 * Slopes are per unit of coefficient; null where the fit could not be made.
 */
import { Effect, Schema } from "effect"
import type { Template } from "../elicitation/Template"
import * as Artifact from "../pipeline/Artifact"
import type { ExperimentConfig } from "../pipeline/Config"
import * as Stage from "../pipeline/Stage"
import { steer, SteeringError, type SteeringSummary } from "../stages/steer"
import { experimentGraph, localModelOf } from "./experiment"
import { type Diagnostic, fewTasks, missingControl, parseFailures } from "./render/diagnostics"
import { doseResponse, type DosePoint } from "./render/figures"
import type { Table } from "./render/tables"
import { configSummary, type ReportBody, reportTarget } from "./reportTarget"

const f = (name: string) => ({ name, type: "float64" as const })
const s = (name: string) => ({ name, type: "utf8" as const })
const i = (name: string) => ({ name, type: "int32" as const })

const directionOrder = ["probe", "control", "mean_difference", "planted"]
const byDirectionOrder = (a: string, b: string) => directionOrder.indexOf(a) - directionOrder.indexOf(b)

/** The steered and the probe template of an experiment, or why its steering settings cannot run. */
export const steeringTemplates = (config: ExperimentConfig): { template: Template; probe: Template } | string => {
  const st = config.steering
  const binary = (t: Template) => (t.kind === "qualitative" && t.options.length === 2) || t.kind === "revealed"
  const template = st.template === undefined ? config.templates.find(binary) : config.templates.find((t) => t.id === st.template)
  if (template === undefined) {
    return st.template === undefined
      ? "the experiment has no qualitative template with two options and no revealed template to steer; list one in templates"
      : `steering.template "${st.template}" is not among the experiment's templates`
  }
  if (!binary(template)) return `steering.template "${template.id}" is neither a qualitative template with two options nor a revealed one`
  const probable = (t: Template) => t.kind !== "revealed" && t.kind !== "ranking"
  const probe =
    st.probeTemplate !== undefined
      ? config.templates.find((t) => t.id === st.probeTemplate)
      : probable(template) ? template : config.templates.find(probable)
  if (probe === undefined) {
    return st.probeTemplate === undefined ? "no template with a probe (qualitative, stated or open-ended) to take directions from" : `steering.probeTemplate "${st.probeTemplate}" is not among the experiment's templates`
  }
  if (!probable(probe)) return `steering.probeTemplate "${probe.id}" is ${probe.kind}; probes are trained on qualitative, stated or open-ended templates`
  const missing = st.layers.filter((l) => !config.activations.layers.includes(l))
  if (missing.length > 0) return `steering.layers ${missing.join(", ")} not among activations.layers (${config.activations.layers.join(", ")}), where the probes are trained`
  if (st.positions === "differential" && template.kind !== "revealed") return `steering.positions "differential" needs a revealed template, "${template.id}" is ${template.kind}`
  return { template, probe }
}

const directionColumns = [f("coefficient"), f("p_good"), f("p_good_lo"), f("p_good_hi"), i("n"), f("option_p")]
const slopeColumns = [
  i("layer"), s("direction"), i("n"), f("slope"), f("slope_lo"), f("slope_hi"), f("p_ols"), f("p_clustered"),
  f("logit_slope"), f("p_wald"), f("cosine_probe"), f("cosine_planted"), i("refusals"), i("failed")
]

/** The steering report: dose-response figures, P(good) per coefficient and direction, slopes with plain, clustered and Wald p-values. */
export const steeringReport = Stage.make({
  name: "report_steering",
  version: 2,
  params: Schema.Struct({ config: Schema.Record({ key: Schema.String, value: Schema.Unknown }), problem: Schema.optional(Schema.String) }),
  run: ({ inputs, params }) =>
    Effect.gen(function* () {
      if (params.problem !== undefined) return yield* new SteeringError({ template_id: "(config)", layer: -1, reason: params.problem })
      const results = Object.entries(inputs)
        .filter(([name]) => name.startsWith("steer:"))
        .map(([, loaded]) => loaded.json<SteeringSummary>("steering"))
        .sort((a, b) => a.layer - b.layer)
      const first = results[0]!
      const sections = results.map((r) => {
        const names = Object.keys(r.directions).sort(byDirectionOrder)
        const outcome = r.kind === "revealed" ? "P(choose Task A)" : `P(${r.outcome})`
        // Wilson bounds at p = 0 or 1 can miss p by a rounding error; the figure needs lo <= p <= hi.
        const points: DosePoint[] = names.flatMap((d) => [
          ...r.directions[d]!.by_coefficient.map((b) => ({ direction: d, coefficient: b.coefficient, p: b.p, lo: Math.min(b.lo, b.p), hi: Math.max(b.hi, b.p) })),
          ...r.directions[d]!.option_curve.map((o) => ({ direction: `${d} · options`, coefficient: o.coefficient, p: o.p, lo: o.p, hi: o.p }))
        ])
        const perDirection: Table[] = names.map((d) => ({
          name: `pgood_${d}_L${r.layer}`,
          columns: directionColumns,
          rows: r.directions[d]!.by_coefficient.map((b) => ({
            coefficient: b.coefficient, p_good: b.p, p_good_lo: b.lo, p_good_hi: b.hi, n: b.n,
            option_p: r.directions[d]!.option_curve.find((o) => o.coefficient === b.coefficient)?.p ?? null
          }))
        }))
        const slopes: Table = {
          name: `slopes_L${r.layer}`,
          columns: slopeColumns,
          rows: names.map((d) => {
            const x = r.directions[d]!
            return {
              layer: r.layer, direction: d, n: x.n, slope: x.slope, slope_lo: x.slope_lo, slope_hi: x.slope_hi, p_ols: x.p_value,
              p_clustered: x.clustered_p_value, logit_slope: x.logit_slope, p_wald: x.logit_p_value, cosine_probe: x.cosine_probe,
              cosine_planted: x.cosine_planted, refusals: x.excluded.refusal, failed: x.excluded.failed
            }
          })
        }
        const unit = r.normalization === "unit" ? "unit-norm direction" : `mean residual norm at layer ${r.layer} (${r.mean_norm.toPrecision(4)})`
        return {
          heading: `Layer ${r.layer}`,
          text:
            `${r.template_id} asked ${r.kind === "revealed" ? `about ${r.units} ordered pairs of ${r.tasks} tasks` : `of ${r.tasks} tasks`}, ${r.samples} samples each per coefficient, steered after layer ${r.layer} ` +
            `at ${r.positions} positions with coefficients in multiples of the ${unit}. Directions: the ${r.probe_template_id} probe (raw activation-space Ridge weights), a random control of the probe's norm with its components along every other direction removed ` +
            "(in a small residual stream a random direction shares about 1/√d of any direction; the control stands for generic perturbation of the same size), " +
            "the mean activation of the top-rated quarter of tasks minus the bottom quarter" + ("planted" in r.directions ? ", and the organism's planted valence direction" : "") + ". " +
            `Each sampled answer is parsed; refusals and unparsed answers are excluded and counted. ${outcome} carries a Wilson 95% interval; the option-probability curves are the mean probability of the answer under option scoring (no sampling noise). ` +
            "Slopes are linear-probability OLS of the outcome on the coefficient; samples of one task are not independent, so the task-clustered p-value (CR1) is the one to read, and the slope interval uses the clustered standard error.",
          figures: [doseResponse({
            name: `dose_response_L${r.layer}`,
            title: `${outcome} vs steering coefficient, layer ${r.layer}`,
            subtitle: `${r.template_id}, ${r.positions} positions. Bands: Wilson 95%; "· options": option probability`,
            points,
            coefficientTitle: r.normalization === "unit" ? "coefficient (norm of the added vector)" : "coefficient (× mean residual norm)",
            outcomeTitle: outcome
          })],
          tables: [slopes, ...perDirection]
        }
      })
      const diagnostics: Diagnostic[] = [
        ...missingControl(results.map((r) => ({ label: `layer ${r.layer}`, directions: Object.keys(r.directions) }))),
        ...fewTasks(results.map((r) => ({ label: `steering at layer ${r.layer}`, n: r.tasks }))),
        ...parseFailures(results.map((r) => {
          const all = Object.values(r.directions)
          return {
            templateId: `${r.template_id} (steered, layer ${r.layer})`,
            failed: all.reduce((a, x) => a + x.excluded.failed, 0),
            total: all.reduce((a, x) => a + x.n + x.excluded.failed + x.excluded.refusal, 0)
          }
        })),
        ...results.flatMap((r) => {
          const c = r.directions.control
          return c === undefined || c.slope === null || c.slope_lo === null || c.slope_hi === null || (c.slope_lo <= 0 && c.slope_hi >= 0)
            ? []
            : [{
                level: "warning" as const,
                code: "control-effect",
                message: `layer ${r.layer}: the random control direction moves the outcome too (slope ${c.slope.toFixed(3)} [${c.slope_lo.toFixed(3)}, ${c.slope_hi.toFixed(3)}] per unit); ` +
                  "at these coefficients steering may disrupt the model rather than move its preference, so compare the probe's slope with the control's or use smaller coefficients"
              }]
        }),
        ...results.flatMap((r) =>
          Object.entries(r.directions).flatMap(([d, x]) => {
            const broken = x.answers.filter((a) => a.coefficient !== 0 && a.total > 0 && a.parsed < a.total / 2)
            return broken.length === 0
              ? []
              : [{
                  level: "warning" as const,
                  code: "steering-breaks-answers",
                  message: `layer ${r.layer}, ${d}: at coefficient ${broken.map((a) => `${a.coefficient} (${a.parsed} of ${a.total} parsed)`).join(", ")} most answers cannot be parsed; ` +
                    "the intervention breaks the answer format rather than moving the preference, and P(good) there rests on the few answers left; use smaller coefficients"
                }]
          })
        ),
        ...results.flatMap((r) =>
          Object.entries(r.directions).flatMap(([d, x]) =>
            x.error === null ? [] : [{ level: "warning" as const, code: "steering-fit", message: `layer ${r.layer}, ${d}: ${x.error}` }]
          )
        )
      ]
      const summary = {
        template: first.template_id,
        probe_template: first.probe_template_id,
        kind: first.kind,
        outcome: first.outcome,
        positions: first.positions,
        normalization: first.normalization,
        layers: results.map((r) => ({
          layer: r.layer, mean_norm: r.mean_norm, tasks: r.tasks, units: r.units, samples: r.samples, coefficients: r.coefficients,
          directions: r.directions
        }))
      }
      const body: ReportBody = {
        title: "Steering along preference directions",
        configSummary: params.config,
        sections,
        diagnostics,
        summary
      }
      return { document: Artifact.json(body) }
    })
})

/** `pipeline build reports/steering`: the steering dose-response experiment at every configured layer. */
export const target = reportTarget("dose-response of steering along the probe, a random control and the mean-difference direction", (config: ExperimentConfig) => {
  const summaryOfConfig = configSummary(config) as Record<string, unknown>
  const chosen = steeringTemplates(config)
  if (typeof chosen === "string") return Stage.node(steeringReport, { label: "steering", params: { config: summaryOfConfig, problem: chosen } })
  const { template, probe } = chosen
  const g = experimentGraph(config)
  const { node: model, runtime } = localModelOf(g, "steering")
  const inputs: Record<string, Stage.Node> = {}
  for (const layer of config.steering.layers) {
    inputs[`steer:${layer}`] = Stage.node(steer, {
      label: `${template.id}@${layer}`,
      params: {
        template, probe_template_id: probe.id, layer, position: config.activations.selectors[0]!, steering: config.steering,
        elicitation: config.elicitation, system: g.persona.system, seed: config.seed, runtime
      },
      inputs: {
        model, tasks: g.tasks, eval: g.probeEval(probe, layer), scores: g.scores(probe), activations: g.activations(probe),
        ...(template.timing === "post" ? { completions: g.completions } : {}),
        ...(g.truth === undefined ? {} : { truth: g.truth })
      },
      configPaths: { template: `templates.${config.templates.indexOf(template)}`, steering: "steering", elicitation: "elicitation", system: g.systemPath }
    })
  }
  return Stage.node(steeringReport, { label: "steering", params: { config: summaryOfConfig }, inputs })
})
