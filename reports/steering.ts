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
 *     calibration: null (the config set the coefficients) | { baseline (share of unsteered calibration answers parsed),
 *       levels: [{ residual_norms, parsed (lowest share over directions and signs), worst }], chosen (residual norms),
 *       coefficients (residual norms) },
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
import { calibrationRule, steer, type SteeringSummary } from "../stages/steer"
import type { ConfigProblem } from "../pipeline/Target"
import { experimentGraph, localModelOf } from "./experiment"
import { type Diagnostic, fewTasks, missingControl, parseFailures } from "./render/diagnostics"
import { doseResponse, type DosePoint } from "./render/figures"
import { num, pValue, side, withInterval } from "./render/prose"
import type { Table } from "./render/tables"
import { configSummary, type ReportBody, reportTarget } from "./reportTarget"

const f = (name: string) => ({ name, type: "float64" as const })
const s = (name: string) => ({ name, type: "utf8" as const })
const i = (name: string) => ({ name, type: "int32" as const })
const b = (name: string) => ({ name, type: "bool" as const })

const directionOrder = ["probe", "control", "mean_difference", "planted"]
const byDirectionOrder = (a: string, b: string) => directionOrder.indexOf(a) - directionOrder.indexOf(b)

/** The steered and the probe template of an experiment, or why its steering settings cannot run (naming the field). */
export const steeringTemplates = (config: ExperimentConfig): { template: Template; probe: Template } | ConfigProblem => {
  const st = config.steering
  const binary = (t: Template) => (t.kind === "qualitative" && t.options.length === 2) || t.kind === "revealed"
  const template = st.template === undefined ? config.templates.find(binary) : config.templates.find((t) => t.id === st.template)
  if (template === undefined) {
    return st.template === undefined
      ? { field: "templates", reason: "needs a template to steer, a qualitative one with two options (e.g. qualitative_post_v1) or a revealed one; the config lists none" }
      : { field: "steering.template", reason: `"${st.template}" is not among the experiment's templates` }
  }
  if (!binary(template)) return { field: "steering.template", reason: `"${template.id}" is neither a qualitative template with two options nor a revealed one` }
  const probable = (t: Template) => t.kind !== "revealed" && t.kind !== "ranking"
  const probe =
    st.probeTemplate !== undefined
      ? config.templates.find((t) => t.id === st.probeTemplate)
      : probable(template) ? template : config.templates.find(probable)
  if (probe === undefined) {
    return st.probeTemplate === undefined
      ? { field: "templates", reason: "needs a template with a probe (qualitative, stated or open-ended) to take directions from" }
      : { field: "steering.probeTemplate", reason: `"${st.probeTemplate}" is not among the experiment's templates` }
  }
  if (!probable(probe)) return { field: "steering.probeTemplate", reason: `"${probe.id}" is ${probe.kind}; probes are trained on qualitative, stated or open-ended templates` }
  const missing = st.layers.findIndex((l) => !config.activations.layers.includes(l))
  if (missing >= 0) return { field: `steering.layers.${missing}`, reason: `layer ${st.layers[missing]} is not among activations.layers (${config.activations.layers.join(", ")}), where the probes are trained` }
  if (st.positions === "differential" && template.kind !== "revealed") return { field: "steering.positions", reason: `"differential" needs a revealed template, "${template.id}" is ${template.kind}` }
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
  version: 4,
  params: Schema.Struct({ config: Schema.Record({ key: Schema.String, value: Schema.Unknown }) }),
  run: ({ inputs, params }) =>
    Effect.sync(() => {
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
        const calibrationTable: Table[] = r.calibration === null
          ? []
          : [{
              name: `calibration_L${r.layer}`,
              columns: [f("residual_norms"), f("coefficient"), f("parsed"), s("worst"), b("kept")],
              rows: [...r.calibration.levels]
                .sort((x, y) => x.residual_norms - y.residual_norms)
                .map((l) => ({
                  residual_norms: l.residual_norms,
                  coefficient: r.normalization === "unit" ? l.residual_norms * r.mean_norm : l.residual_norms,
                  parsed: l.parsed, worst: l.worst, kept: l.parsed >= calibrationRule.keep * r.calibration!.baseline
                }))
            }]
        const broken = r.coefficients.flatMap((c) => {
          const all = Object.values(r.directions).flatMap((x) => x.answers.filter((a) => a.coefficient === c))
          const total = all.reduce((a, x) => a + x.total, 0)
          const parsed = all.reduce((a, x) => a + x.parsed, 0)
          return c !== 0 && total > 0 && parsed < total / 2 ? [`${c} (${parsed} of ${total} parsed)`] : []
        })
        return {
          heading: `Layer ${r.layer}`,
          ...(broken.length === 0
            ? {}
            : { notice: `at coefficient ${broken.join(", ")} most steered answers failed to parse: the intervention breaks the answer format there, and P(${r.outcome}) rests on the few answers left` }),
          text:
            (r.calibration === null
              ? `The coefficients ${r.coefficients.join(", ")} are the config's (steering.coefficients). `
              : `The config sets no coefficients, so they were calibrated on the model: steering the first ${r.calibration_prompts} prompts along every direction, either way, at magnitudes found by doubling, halving and bisecting, ` +
                `the largest at which the lowest share of parsed answers stayed at least ${100 * calibrationRule.keep}% of the unsteered share (${(100 * r.calibration.baseline).toFixed(0)}%) was ${r.calibration.chosen.toPrecision(3)} mean residual norms; ` +
                `the sweep goes to half of it (table calibration_L${r.layer}), since answers break off steeply beyond. `) +
            `${r.template_id} asked ${r.kind === "revealed" ? `about ${r.units} ordered pairs of ${r.tasks} tasks` : `of ${r.tasks} tasks`}, ${r.samples} samples each per coefficient, steered after layer ${r.layer} ` +
            `at ${r.positions} positions with coefficients in multiples of the ${unit}. Directions: the ${r.probe_template_id} probe (raw activation-space Ridge weights), a random control of the probe's norm with its components along every other direction removed ` +
            "(in a small residual stream a random direction shares about 1/√d of any direction; the control stands for generic perturbation of the same size), " +
            "the mean activation of the top-rated quarter of tasks minus the bottom quarter" + ("planted" in r.directions ? ", and the organism's planted valence direction" : "") + ". " +
            `Each sampled answer is parsed; refusals and unparsed answers are excluded and counted. ${outcome} carries a Wilson 95% interval; the option-probability curves are the mean probability of the answer under option scoring (no sampling noise). ` +
            "Slopes are linear-probability OLS of the outcome on the coefficient; samples of one task are not independent, so the task-clustered p-value (CR1, as statsmodels' cov_type=\"cluster\") is the one to read, and the slope interval uses the clustered standard error. " +
            "The clustered p-value is often the smaller one here, and rightly: every task is asked at every coefficient of a symmetric sweep with the same seeds, so a task's own level of the outcome, which plain OLS counts as noise, " +
            "adds nothing to the slope's task-clustered variance (its coefficients sum to zero within the task), as in a within-subject design; clustering removes that between-task variation rather than adding within-task correlation. " +
            "Far in the tail the two differ by orders of magnitude for a few per cent of standard error (at z ≈ 20, 1e-60 against 1e-90): read both as \"far below any threshold\".",
          figures: [doseResponse({
            name: `dose_response_L${r.layer}`,
            title: `${outcome} vs steering coefficient, layer ${r.layer}`,
            subtitle: `${r.template_id}, ${r.positions} positions. Bands: Wilson 95%; "· options": option probability`,
            points,
            coefficientTitle: r.normalization === "unit" ? "coefficient (norm of the added vector)" : "coefficient (× mean residual norm)",
            outcomeTitle: outcome
          })],
          tables: [slopes, ...perDirection, ...calibrationTable]
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
          calibration: r.calibration, directions: r.directions
        }))
      }
      const body: ReportBody = {
        title: "Steering along preference directions",
        configSummary: params.config,
        findings: { text: steeringFindings(results) },
        sections,
        diagnostics,
        summary
      }
      return { document: Artifact.json(body) }
    })
})

/**
 * The findings' sentences: per layer, how far steering along the probe moves the outcome over the sweep compared with
 * the random control (and the planted direction on the organism), and where the coefficients came from.
 */
export const steeringFindings = (results: ReadonlyArray<SteeringSummary>): string =>
  results
    .map((r) => {
      const outcome = r.kind === "revealed" ? "P(choose Task A)" : `P(${r.outcome})`
      const [low, high] = [Math.min(...r.coefficients), Math.max(...r.coefficients)]
      const source = r.calibration === null ? "set by the config" : "calibrated to half the largest magnitude at which answers still parse"
      const head = `Layer ${r.layer}, coefficients ${num(low)} to ${num(high)} (${source}):`
      const ends = (d: string) => {
        const x = r.directions[d]!
        const at = (c: number) => x.by_coefficient.find((b) => b.coefficient === c)
        const [a, b] = [at(low), at(high)]
        return a === undefined || b === undefined ? "undefined (no parsed answers at an end of the sweep)" : `from ${withInterval({ estimate: a.p, lo: a.lo, hi: a.hi })} to ${withInterval({ estimate: b.p, lo: b.lo, hi: b.hi })}`
      }
      const slope = (d: string) => {
        const x = r.directions[d]
        return x === undefined || x.slope === null ? undefined : { estimate: x.slope, lo: x.slope_lo, hi: x.slope_hi, p: x.clustered_p_value }
      }
      const probe = slope("probe")
      const control = slope("control")
      if (probe === undefined) return `${head} the probe direction's effect could not be fitted (${r.directions.probe?.error ?? "no parsed answers"}).`
      const probeText = `steering along the ${r.probe_template_id} probe moves ${outcome} ${ends("probe")} (task-clustered slope p ${pValue(probe.p)})`
      const controlText = control === undefined ? "" : `; along the random control ${ends("control")}`
      const verdict =
        side(probe) === 0
          ? ": no detectable effect of the probe direction at these coefficients."
          : control !== undefined && side(control) !== 0
          ? ": the control's slope interval excludes 0 too, so part of the effect is generic perturbation of the residual stream."
          : ": the control's slope interval includes 0, so the effect is specific to the probe's direction."
      const planted = r.directions.planted === undefined ? "" : ` The planted direction moves it ${ends("planted")}.`
      return `${head} ${probeText}${controlText}${verdict}${planted}`
    })
    .join("\n\n")

/** What reports/steering needs: a template to steer and a probe to steer along, at layers where probes are trained. */
export const steeringNeeds = (config: ExperimentConfig): ConfigProblem[] => {
  const chosen = steeringTemplates(config)
  return "field" in chosen ? [chosen] : []
}

/** `pipeline build reports/steering`: the steering dose-response experiment at every configured layer. */
export const target = reportTarget("dose-response of steering along the probe, a random control and the mean-difference direction", (config: ExperimentConfig) => {
  const summaryOfConfig = configSummary(config) as Record<string, unknown>
  const chosen = steeringTemplates(config)
  if ("field" in chosen) throw new Error(`reports/steering: ${chosen.field}: ${chosen.reason} (the target's check should have refused the config)`)
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
}, steeringNeeds)
