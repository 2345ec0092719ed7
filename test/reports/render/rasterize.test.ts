import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import { type Figure, heatmap } from "../../../reports/render/figures"
import { rasterize, RenderError, stableSvgIds, svgToPng } from "../../../reports/render/rasterize"

const frame = (inner: string) =>
  `<svg xmlns="http://www.w3.org/2000/svg" width="200" height="60" viewBox="0 0 200 60"><rect width="200" height="60" fill="white"/>${inner}</svg>`

describe("rasterize", () => {
  it.effect("draws text with a system font: the same SVG with and without a label gives different PNGs", () =>
    Effect.gen(function* () {
      const blank = yield* svgToPng("blank", frame(""))
      const label = `<text x="10" y="35" font-family="DejaVu Sans, sans-serif" font-size="16">P(good) 0.73</text>`
      const text = yield* svgToPng("text", frame(label))
      const sansOnly = yield* svgToPng("sans", frame(label.replace("DejaVu Sans, sans-serif", "sans-serif")))
      expect(text.width).toBe(200)
      expect(text.height).toBe(60)
      // Compressed size grows with the glyph pixels; with no usable font the text would vanish and the PNGs match.
      expect(text.png.byteLength).toBeGreaterThan(blank.png.byteLength + 100)
      expect(sansOnly.png.byteLength).toBeGreaterThan(blank.png.byteLength + 100)
    })
  )

  it.effect("refuses figures that would load data from a URL", () =>
    Effect.gen(function* () {
      const figure: Figure = {
        name: "remote",
        title: "remote",
        spec: { data: { url: "https://example.com/data.csv" }, mark: "point", encoding: { x: { field: "a", type: "quantitative" } } }
      }
      const result = yield* Effect.either(rasterize(figure))
      expect(Either.isLeft(result)).toBe(true)
      if (Either.isLeft(result)) {
        expect(result.left).toBeInstanceOf(RenderError)
        expect(result.left.message).toMatch(/figure "remote": svg failed: refusing to load "https:\/\/example.com\/data.csv"/)
      }
    })
  )

  it.effect("reports malformed SVG as a png-stage RenderError", () =>
    Effect.gen(function* () {
      const result = yield* Effect.either(svgToPng("broken", "<svg"))
      expect(Either.isLeft(result) && result.left.stage === "png" && result.left.figure === "broken").toBe(true)
    })
  )

  it.effect("draws the same figure to the same bytes twice, with gradient ids named after the figure", () =>
    Effect.gen(function* () {
      const figure = heatmap({
        name: "sim",
        title: "similarity",
        cells: [{ row: "a", column: "a", value: 0.5 }],
        rowTitle: "r",
        columnTitle: "c",
        valueTitle: "cosine"
      })
      const render = rasterize(figure)
      const first = yield* render
      const second = yield* render
      expect(second.svg).toBe(first.svg)
      expect(second.png).toEqual(first.png)
      expect(first.svg).toContain('id="sim-0"')
      expect(first.svg).toContain("url(#sim-0)")
    })
  )

  it("renames ids and their references only", () => {
    const svg = '<svg><linearGradient id="gradient_12"/><rect fill="url(#gradient_12)"/><use href="#clip3"/><g id="clip3"/><text>gradient_12</text></svg>'
    expect(stableSvgIds("f", svg)).toBe(
      '<svg><linearGradient id="f-0"/><rect fill="url(#f-0)"/><use href="#f-1"/><g id="f-1"/><text>gradient_12</text></svg>'
    )
  })
})
