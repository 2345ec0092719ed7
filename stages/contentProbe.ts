import { Effect, Schema } from "effect"
import * as Artifact from "../pipeline/Artifact"
import { ProbesConfig } from "../pipeline/Config"
import * as Stage from "../pipeline/Stage"
import type { Interval } from "../stats/bootstrap"
import { crossValidatedCovariates, crossValidatedOrthogonal, heldOneOutCovariates, heldOneOutOrthogonal } from "../stats/covariateProbes"
import { makeResidualizer } from "../stats/residualize"
import type { ContentInfo } from "./contentFeatures"
import { contentMatrix } from "./contentFeatures"
import { heldOutJson, keepRows, probeData } from "./probeData"

type HeldOutJson = ReturnType<typeof heldOutJson>

/** The content baselines of one template × layer probe for one content provider, as the reports read them. */
export interface ContentProbeEvaluation {
  readonly template_id: string
  readonly layer: number
  readonly position: string
  readonly provider: string
  readonly group_by: string
  readonly n_tasks: number
  /** The activation probe's tasks without content features (a server could not embed them), left out of both baselines. */
  readonly without_features: ReadonlyArray<string>
  readonly features: ContentInfo
  /**
   * Ridge from the content features (in their own units, penalty relative to their mean variance) to the target,
   * evaluated as the activation probe is: `r2` and `r2_by_group` out of fold at the alpha the folds choose.
   */
  readonly content_only: {
    readonly probe: { readonly alpha: number; readonly cv_r2: number }
    /** Pooled out-of-fold R² over every task, with its task bootstrap interval. */
    readonly r2: Interval
    readonly r2_by_group: Record<string, Interval & { n: number }>
    readonly hoo: Record<string, HeldOutJson>
  }
  /**
   * The activation probe refitted on activations with what the content features predict of them removed (a Ridge of
   * the activations on the features, alpha by k-fold on training tasks only, training residuals cross-fitted).
   * `r2` and `r2_by_group` come from nested k-fold (the content model refitted without each test fold); `probe` is
   * fitted on every task's cross-fitted residuals and its weights live in activation coordinates.
   */
  readonly content_orthogonal: {
    readonly probe: { readonly alpha: number; readonly intercept: number; readonly weights: number[] }
    /** The content model of the activations on every task: its alpha and the share of activation variance it predicts out of fold. */
    readonly residual: { readonly alpha: number; readonly cv_r2: number }
    readonly r2: Interval
    readonly r2_by_group: Record<string, Interval & { n: number }>
    readonly hoo: Record<string, HeldOutJson & { readonly residual_alpha: number; readonly residual_cv_r2: number }>
  }
}

/**
 * Two baselines beside the activation probe of one template × layer, on exactly its tasks, target and folds: a
 * content-only probe (what the task is about predicts the target by itself) and a content-orthogonal probe (what the
 * activations predict once everything the content features predict of them is removed). Both are scored by grouped
 * k-fold, held-one-group-out and task bootstrap intervals, and no test task enters any fit.
 */
export const contentProbe = Stage.make({
  name: "content_probe",
  version: 2,
  params: Schema.Struct({ template_id: Schema.String, layer: Schema.Int, position: Schema.String, provider: Schema.String, probes: ProbesConfig, seed: Schema.Int }),
  run: ({ inputs, params }) =>
    Effect.gen(function* () {
      const all = yield* probeData(inputs, params)
      const content = contentMatrix(inputs.features!, all.ids)
      if (content.matrix.rows < 10) {
        return yield* Effect.fail(new Error(`only ${content.matrix.rows} of the ${all.ids.length} probed tasks have ${params.provider} content features; a baseline needs at least 10 (without: ${content.missing.slice(0, 5).join(", ")})`))
      }
      const { ids, x, y, labels, setup, options } = content.missing.length === 0 ? all : keepRows(all, content.present)
      const features = content.matrix
      const info = inputs.features!.json<ContentInfo>("info")
      const groups = new Set(labels).size
      const residualizer = makeResidualizer(features)
      const contentOnly = yield* Effect.promise(() => crossValidatedCovariates(residualizer, y, labels, setup, options))
      const contentHoo = groups >= 2 ? yield* Effect.promise(() => heldOneOutCovariates(residualizer, y, labels, setup, options)) : {}
      const orthogonal = yield* Effect.promise(() => crossValidatedOrthogonal(x, residualizer, y, labels, setup, options))
      const orthogonalHoo = groups >= 2 ? yield* Effect.promise(() => heldOneOutOrthogonal(x, residualizer, y, labels, setup, options)) : {}
      const evaluation: ContentProbeEvaluation = {
        template_id: params.template_id,
        layer: params.layer,
        position: params.position,
        provider: params.provider,
        group_by: params.probes.groupBy,
        n_tasks: ids.length,
        without_features: content.missing,
        features: info,
        content_only: {
          probe: { alpha: contentOnly.alpha, cv_r2: contentOnly.cvR2 },
          r2: contentOnly.r2,
          r2_by_group: contentOnly.byLabel,
          hoo: Object.fromEntries(Object.entries(contentHoo).map(([g, h]) => [g, heldOutJson(h, ids)]))
        },
        content_orthogonal: {
          probe: { alpha: orthogonal.probe.alpha, intercept: orthogonal.probe.interceptRaw, weights: Array.from(orthogonal.probe.weightsRaw) },
          residual: { alpha: orthogonal.residualAlpha, cv_r2: orthogonal.residualCvR2 },
          r2: orthogonal.r2,
          r2_by_group: orthogonal.byLabel,
          hoo: Object.fromEntries(
            Object.entries(orthogonalHoo).map(([g, h]) => [g, { ...heldOutJson(h, ids), residual_alpha: h.residualAlpha, residual_cv_r2: h.residualCvR2 }])
          )
        }
      }
      return { evaluation: Artifact.json(evaluation) }
    })
})
