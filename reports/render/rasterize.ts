import { Resvg } from "@resvg/resvg-js"
import { Effect, Schema } from "effect"
import * as vega from "vega"
import { compile } from "vega-lite"
import type { Figure } from "./figures"

/** A figure drawn both ways: SVG text and PNG bytes, with the PNG's pixel size. */
export interface Rendered {
  readonly svg: string
  readonly png: Uint8Array
  readonly width: number
  readonly height: number
}

/** A figure that Vega-Lite, Vega or resvg could not draw. */
export class RenderError extends Schema.TaggedError<RenderError>()("RenderError", {
  figure: Schema.String,
  stage: Schema.Literal("compile", "svg", "png"),
  reason: Schema.String
}) {
  get message() {
    return `figure "${this.figure}": ${this.stage} failed: ${this.reason}`
  }
}

/** The font family the PNGs are drawn with; the figures name it first in their font list. */
export const PNG_FONT_FAMILY = "DejaVu Sans"

const reason = (cause: unknown) => (cause instanceof Error ? cause.message : String(cause))

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")

/**
 * Renames the SVG's element ids (gradients, clip paths) to `<figure>-<k>` in order of appearance.
 * Vega numbers them from a process-wide counter, so without this the same figure drawn twice
 * differs in bytes, and two figures inlined in one HTML page can collide.
 */
export const stableSvgIds = (name: string, svg: string): string => {
  const ids = [...new Set([...svg.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]!))]
  return ids.reduce((text, id, k) => {
    const renamed = `${name}-${k}`
    const pattern = new RegExp(`(\\sid="|url\\(#|href="#)${escapeRegExp(id)}(?=[")])`, "g")
    return text.replace(pattern, `$1${renamed}`)
  }, svg)
}

const renderOnce = (figure: Figure): Effect.Effect<string, RenderError> => {
  const fail = (stage: "compile" | "svg") => (cause: unknown) => new RenderError({ figure: figure.name, stage, reason: reason(cause) })
  // Vega logs dataflow errors and failed loads and draws on regardless; collect them to fail instead.
  const errors: Array<string> = []
  // Figures embed their data, so any load is a bug; refusing it also keeps rendering offline.
  const loader = vega.loader({ mode: "file" })
  loader.load = (uri: string) => {
    errors.push(`refusing to load "${uri}": figures must embed their data`)
    return Promise.reject(new Error(errors[errors.length - 1]))
  }
  const logger = vega.logger(vega.Warn)
  logger.error = (...args: Array<unknown>) => {
    errors.push(args.map(reason).join(" "))
    return logger
  }
  logger.warn = () => logger
  return Effect.try({ try: () => vega.parse(compile(figure.spec).spec), catch: fail("compile") }).pipe(
    Effect.flatMap((runtime) =>
      Effect.acquireUseRelease(
        Effect.sync(() => new vega.View(runtime, { renderer: "none", loader, logger })),
        (view) => Effect.tryPromise({ try: () => view.toSVG(), catch: fail("svg") }),
        (view) => Effect.sync(() => view.finalize())
      )
    ),
    Effect.filterOrFail(
      () => errors.length === 0,
      () => fail("svg")(errors.join("; "))
    ),
    Effect.map((svg) => stableSvgIds(figure.name, svg))
  )
}

/** Compiles a figure's Vega-Lite spec to Vega and draws it as SVG, headless, with stable element ids. */
export const renderSvg = (figure: Figure): Effect.Effect<string, RenderError> =>
  // Suspended so each run gets a fresh error log, loader and view.
  Effect.suspend(() => renderOnce(figure))

/** Draws an SVG as PNG at `scale` times its own size, with system fonts (DejaVu Sans for sans-serif). */
export const svgToPng = (
  name: string,
  svg: string,
  scale = 1
): Effect.Effect<{ readonly png: Uint8Array; readonly width: number; readonly height: number }, RenderError> =>
  Effect.try({
    try: () => {
      const image = new Resvg(svg, {
        fitTo: { mode: "zoom", value: scale },
        background: "white",
        font: {
          loadSystemFonts: true,
          defaultFontFamily: PNG_FONT_FAMILY,
          sansSerifFamily: PNG_FONT_FAMILY
        }
      }).render()
      return { png: new Uint8Array(image.asPng()), width: image.width, height: image.height }
    },
    catch: (cause) => new RenderError({ figure: name, stage: "png", reason: reason(cause) })
  })

/** Renders a figure to SVG and PNG (`scale` multiplies the PNG's pixel size, default 1). */
export const rasterize = (figure: Figure, scale = 1): Effect.Effect<Rendered, RenderError> =>
  renderSvg(figure).pipe(
    Effect.flatMap((svg) => Effect.map(svgToPng(figure.name, svg, scale), (png) => ({ svg, ...png })))
  )
