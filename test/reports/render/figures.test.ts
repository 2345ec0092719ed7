import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import {
  categoryBarChart,
  doseResponse,
  facetedScatter,
  type Figure,
  FIGURE_WIDTH,
  heatmap,
  intervalBarChart,
  lineWithBand,
  olsBand,
  scatterWithFit
} from "../../../reports/render/figures"
import { rasterize } from "../../../reports/render/rasterize"

/** Width and height from a PNG's IHDR chunk, after checking the signature. */
const pngSize = (png: Uint8Array) => {
  expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])
  expect(new TextDecoder().decode(png.subarray(12, 16))).toBe("IHDR")
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength)
  return { width: view.getUint32(16), height: view.getUint32(20) }
}

const svgSize = (svg: string) => {
  const match = /<svg[^>]*\swidth="(\d+)"[^>]*\sheight="(\d+)"/.exec(svg)
  expect(match).not.toBeNull()
  return { width: Number(match![1]), height: Number(match![2]) }
}

const datasets = ["alpaca", "bailbench", "math", "wildchat"]

const figures: ReadonlyArray<{ figure: Figure; texts: ReadonlyArray<string>; fitted: boolean }> = [
  {
    figure: intervalBarChart({
      name: "hoo_r2",
      title: "Held-one-out R2 by dataset",
      rows: datasets.flatMap((category, i) => [
        { category, group: "standard", value: 0.3 + i / 10, lo: 0.2 + i / 10, hi: 0.4 + i / 10 },
        { category, group: "mean-adjusted", value: 0.5, lo: 0.4, hi: 0.6 }
      ]),
      categoryTitle: "held-out dataset",
      groupTitle: "metric",
      valueTitle: "R2 on held-out tasks"
    }),
    texts: ["held-out dataset", "metric", "R2 on held-out tasks", "mean-adjusted", "Whiskers: 95% interval"],
    fitted: true
  },
  {
    figure: heatmap({
      name: "probe_similarity",
      title: "Probe cosine similarity",
      cells: datasets.flatMap((row, i) => datasets.map((column, j) => ({ row, column, value: i === j ? 1 : -0.42 }))),
      rowTitle: "probe (rows)",
      columnTitle: "probe (columns)",
      valueTitle: "cosine"
    }),
    texts: ["probe (rows)", "probe (columns)", "cosine", "−0.42", "1.00"],
    fitted: false
  },
  {
    figure: doseResponse({
      name: "dose",
      title: "Steering dose-response",
      points: ["probe", "control", "mean difference"].flatMap((direction) =>
        [-2, 0, 2].map((coefficient) => ({ direction, coefficient, p: 0.5, lo: 0.4, hi: 0.6 }))
      )
    }),
    texts: ["steering coefficient", "P(good)", "direction", "control", "Wilson 95% interval"],
    fitted: true
  },
  {
    figure: lineWithBand({
      name: "seeds",
      title: "Seed sensitivity",
      points: [1, 2, 3].flatMap((k) => [
        { series: "measured", x: k, y: 0.5 + k / 10, lo: 0.45 + k / 10, hi: 0.55 + k / 10 },
        { series: "Spearman-Brown", x: k, y: 0.52 + k / 10 }
      ]),
      xTitle: "samples averaged (k)",
      yTitle: "cross-seed Pearson r",
      seriesTitle: "estimate"
    }),
    texts: ["samples averaged (k)", "cross-seed Pearson r", "Spearman-Brown", "estimate"],
    fitted: true
  },
  {
    figure: scatterWithFit({
      name: "slopes",
      title: "Template slope vs correlation",
      points: [0, 1, 2, 3, 4, 5].map((i) => ({ x: i / 10, y: i / 8 + (i % 2) / 20, label: `t${i}`, yLo: i / 8 - 0.05, yHi: i / 8 + 0.1 })),
      xTitle: "Pearson r",
      yTitle: "OLS slope",
      pointsLabel: "templates",
      identityLine: true
    }),
    texts: ["Pearson r", "OLS slope", "templates", "OLS fit ± 95% CI", "y = x", "t3"],
    fitted: true
  },
  {
    figure: categoryBarChart({
      name: "ratings",
      title: "Normalized ratings by category",
      rows: ["coding", "advice"].flatMap((category) =>
        datasets.map((dataset, j) => ({ category, dataset, value: 0.2 + j / 10, lo: 0.1 + j / 10, hi: 0.3 + j / 10 }))
      ),
      categoryTitle: "task category",
      datasetTitle: "dataset",
      valueTitle: "mean normalized rating (0-1)",
      valueDomain: [0, 1]
    }),
    texts: ["task category", "dataset", "mean normalized rating (0-1)", "wildchat"],
    fitted: true
  },
  {
    figure: facetedScatter({
      name: "shifts",
      title: "Predicted vs measured shift",
      points: ["villain", "poet", "flat"].flatMap((panel, p) =>
        datasets.flatMap((group, g) => [0, 1, 2].map((i) => ({ panel, group, x: p === 2 ? 0 : g / 10 + i / 50, y: g / 8 - i / 40 })))
      ),
      xTitle: "predicted shift",
      yTitle: "measured shift",
      panelTitle: "persona",
      groupTitle: "dataset"
    }),
    texts: ["predicted shift", "measured shift", "persona", "villain", "flat", "dataset", "wildchat", "OLS fit"],
    fitted: false
  }
]

describe("figures", () => {
  for (const { figure, texts, fitted } of figures) {
    it.effect(`${figure.name}: PNG matches the SVG size, SVG carries title, axes and legend, fonts >= 11px`, () =>
      Effect.gen(function* () {
        const rendered = yield* rasterize(figure)
        expect(rendered.png.byteLength).toBeGreaterThan(5000)
        const png = pngSize(rendered.png)
        expect(png).toEqual({ width: rendered.width, height: rendered.height })
        expect(png).toEqual(svgSize(rendered.svg))
        if (fitted) expect(png.width).toBe(FIGURE_WIDTH)
        else expect(png.width).toBeGreaterThan(300)
        expect(png.height).toBeGreaterThan(250)
        expect(rendered.svg).toContain(`>${figure.title}<`)
        for (const text of texts) expect(rendered.svg).toContain(text)
        const sizes = [...rendered.svg.matchAll(/font-size="([\d.]+)px"/g)].map((m) => Number(m[1]))
        expect(sizes.length).toBeGreaterThan(0)
        expect(Math.min(...sizes)).toBeGreaterThanOrEqual(11)
      })
    )
  }

  it.effect("scale 2 doubles the PNG's pixel size", () =>
    Effect.gen(function* () {
      const one = yield* rasterize(figures[0]!.figure)
      const two = yield* rasterize(figures[0]!.figure, 2)
      expect(pngSize(two.png)).toEqual({ width: 2 * one.width, height: 2 * one.height })
    })
  )

  it("builders reject empty data, non-finite values and bad intervals, naming function and argument", () => {
    expect(() =>
      intervalBarChart({ name: "x", title: "x", rows: [], categoryTitle: "c", groupTitle: "g", valueTitle: "v" })
    ).toThrow(/intervalBarChart: rows is empty/)
    expect(() =>
      heatmap({ name: "x", title: "x", cells: [{ row: "a", column: "b", value: NaN }], rowTitle: "r", columnTitle: "c", valueTitle: "v" })
    ).toThrow(/heatmap: cells.value\[0\] is NaN/)
    expect(() =>
      doseResponse({ name: "x", title: "x", points: [{ direction: "probe", coefficient: 0, p: 0.7, lo: 0.8, hi: 0.9 }] })
    ).toThrow(/doseResponse: points\[0\]/)
    expect(() =>
      lineWithBand({ name: "x", title: "x", points: [{ series: "s", x: 1, y: 1, lo: 0 }], xTitle: "x", yTitle: "y", seriesTitle: "s" })
    ).toThrow(/lineWithBand: points\[0\] has only one of lo, hi/)
  })
})

describe("olsBand", () => {
  it("matches a hand-worked fit: x 0..3, y 1,3,2,4 gives slope 0.8, intercept 1.3 and half-width t(0.975, 2)·s/2 at the mean", () => {
    const { slope, intercept, line } = olsBand([0, 1, 2, 3], [1, 3, 2, 4], 2)
    expect(slope).toBeCloseTo(0.8, 12)
    expect(intercept).toBeCloseTo(1.3, 12)
    // s² = SSE/(n−2) = 1.8/2; at x = mean the half-width is t·s·√(1/n).
    const middle = line[1]!
    expect(middle.x).toBeCloseTo(1.5, 12)
    expect(middle.hi - middle.y).toBeCloseTo(4.302652729749464 * Math.sqrt(0.9) * 0.5, 10)
  })

  it("uses t(0.975, 10) = 2.228139 (statistical tables) for 12 points, to 1e-3", () => {
    const xs = Array.from({ length: 12 }, (_, i) => i)
    const ys = xs.map((x) => 0.5 * x + (x % 3) - 1)
    const { slope, intercept, line } = olsBand(xs, ys, 2)
    const sse = xs.reduce((acc, x, i) => acc + (ys[i]! - intercept - slope * x) ** 2, 0)
    const s = Math.sqrt(sse / 10)
    const middle = line[1]!
    expect(Math.abs((middle.hi - middle.y) / (s / Math.sqrt(12)) - 2.228139)).toBeLessThan(1e-3)
  })

  it("rejects mismatched lengths, fewer than 3 points and constant x", () => {
    expect(() => olsBand([1, 2], [1, 2, 3])).toThrow(/olsBand: xs has 2 values, ys has 3/)
    expect(() => olsBand([1, 2], [1, 2])).toThrow(/at least 3 points/)
    expect(() => olsBand([1, 1, 1], [1, 2, 3])).toThrow(/no spread/)
  })
})
