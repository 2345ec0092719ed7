import type { TopLevelSpec } from "vega-lite"

/** A named figure: `name` becomes the file stem (`<name>.svg`, `<name>.png`), `spec` is Vega-Lite. */
export interface Figure {
  readonly name: string
  readonly title: string
  readonly spec: TopLevelSpec
}

/** One bar with its 95% interval: `category` on the axis, `group` side by side within it. */
export interface IntervalBar {
  readonly category: string
  readonly group: string
  readonly value: number
  readonly lo: number
  readonly hi: number
}

/** One heatmap cell. */
export interface HeatCell {
  readonly row: string
  readonly column: string
  readonly value: number
}

/** One point of a dose-response curve: outcome rate `p` at `coefficient` along `direction`, with its interval. */
export interface DosePoint {
  readonly direction: string
  readonly coefficient: number
  readonly p: number
  readonly lo: number
  readonly hi: number
}

/** One point of a line series, with an optional interval drawn as a band. */
export interface BandPoint {
  readonly series: string
  readonly x: number
  readonly y: number
  readonly lo?: number
  readonly hi?: number
}

/** One scatter point, with optional intervals in x and y and an optional text label. */
export interface ScatterPoint {
  readonly x: number
  readonly y: number
  readonly label?: string
  readonly xLo?: number
  readonly xHi?: number
  readonly yLo?: number
  readonly yHi?: number
}

/** One bar of a category × dataset chart, with an optional interval. */
export interface CategoryBar {
  readonly category: string
  readonly dataset: string
  readonly value: number
  readonly lo?: number
  readonly hi?: number
}

/** Total figure width in CSS pixels; plots are fitted into it, legend and axes included. */
export const FIGURE_WIDTH = 640

const FONT = "DejaVu Sans, Helvetica, Arial, sans-serif"

const config = {
  font: FONT,
  background: "white",
  padding: 8,
  title: { fontSize: 15, subtitleFontSize: 12, subtitleColor: "#444", anchor: "start", offset: 10 },
  axis: { labelFontSize: 12, titleFontSize: 13, labelLimit: 240, titlePadding: 8, gridColor: "#e6e6e6" },
  legend: { labelFontSize: 12, titleFontSize: 13, labelLimit: 320, symbolSize: 120, symbolOpacity: 1 },
  header: { labelFontSize: 12, titleFontSize: 13 },
  text: { fontSize: 11 },
  view: { stroke: "#ccc" }
} as const

const fitted = { type: "fit", contains: "padding" } as const

const heading = (title: string, subtitle: string | undefined) =>
  subtitle === undefined ? { text: title } : { text: title, subtitle }

const checkFinite = (fn: string, arg: string, values: ReadonlyArray<number | undefined>) => {
  values.forEach((v, i) => {
    if (v !== undefined && !Number.isFinite(v)) throw new Error(`${fn}: ${arg}[${i}] is ${v}, expected a finite number`)
  })
}

const checkNonEmpty = (fn: string, arg: string, rows: ReadonlyArray<unknown>) => {
  if (rows.length === 0) throw new Error(`${fn}: ${arg} is empty`)
}

const uniqueInOrder = (values: ReadonlyArray<string>): Array<string> => [...new Set(values)]

/**
 * Bars with 95% interval whiskers: one cluster per category, one coloured bar per group
 * (e.g. R² per held-out dataset, standard vs mean-adjusted side by side).
 */
export const intervalBarChart = (options: {
  readonly name: string
  readonly title: string
  readonly subtitle?: string
  readonly rows: ReadonlyArray<IntervalBar>
  readonly categoryTitle: string
  readonly groupTitle: string
  readonly valueTitle: string
  readonly intervalLabel?: string
}): Figure => {
  const { rows } = options
  checkNonEmpty("intervalBarChart", "rows", rows)
  checkFinite("intervalBarChart", "rows.value", rows.map((r) => r.value))
  checkFinite("intervalBarChart", "rows.lo", rows.map((r) => r.lo))
  checkFinite("intervalBarChart", "rows.hi", rows.map((r) => r.hi))
  const interval = options.intervalLabel ?? "95% interval"
  const groups = uniqueInOrder(rows.map((r) => r.group))
  const categories = uniqueInOrder(rows.map((r) => r.category))
  // Upright labels read best; beyond six clusters they would overlap, so tilt them.
  const x = { field: "category", type: "nominal", title: options.categoryTitle, sort: categories, axis: { labelAngle: categories.length > 6 ? -35 : 0 } } as const
  const xOffset = { field: "group", type: "nominal", sort: groups } as const
  const spec: TopLevelSpec = {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: heading(options.title, options.subtitle ?? `Whiskers: ${interval}`),
    width: FIGURE_WIDTH,
    height: 340,
    autosize: fitted,
    config,
    data: { values: rows.map((r) => ({ ...r })) },
    encoding: { x, xOffset },
    layer: [
      {
        mark: { type: "bar", opacity: 0.85 },
        encoding: {
          y: { field: "value", type: "quantitative", title: options.valueTitle },
          color: { field: "group", type: "nominal", title: options.groupTitle, sort: groups, scale: { scheme: "tableau10" } }
        }
      },
      {
        mark: { type: "rule", strokeWidth: 1.5, color: "#222" },
        encoding: { y: { field: "lo", type: "quantitative" }, y2: { field: "hi" } }
      },
      {
        mark: { type: "tick", thickness: 1.5, color: "#222", size: 10 },
        encoding: { y: { field: "lo", type: "quantitative" } }
      },
      {
        mark: { type: "tick", thickness: 1.5, color: "#222", size: 10 },
        encoding: { y: { field: "hi", type: "quantitative" } }
      }
    ]
  }
  return { name: options.name, title: options.title, spec }
}

/**
 * Heatmap with the value printed in each cell on a diverging scale centred on 0
 * (default domain −1..1, e.g. cosine similarity between probes).
 */
export const heatmap = (options: {
  readonly name: string
  readonly title: string
  readonly subtitle?: string
  readonly cells: ReadonlyArray<HeatCell>
  readonly rowTitle: string
  readonly columnTitle: string
  readonly valueTitle: string
  readonly domain?: readonly [number, number]
  readonly format?: string
}): Figure => {
  const { cells } = options
  checkNonEmpty("heatmap", "cells", cells)
  checkFinite("heatmap", "cells.value", cells.map((c) => c.value))
  const [lo, hi] = options.domain ?? [-1, 1]
  if (!(lo < hi)) throw new Error(`heatmap: domain [${lo}, ${hi}] must be increasing`)
  const rowsOrder = uniqueInOrder(cells.map((c) => c.row))
  const columnsOrder = uniqueInOrder(cells.map((c) => c.column))
  // Square cells, as large as fit in the figure width and never smaller than the label font needs.
  const step = Math.max(36, Math.min(72, Math.floor(480 / Math.max(rowsOrder.length, columnsOrder.length))))
  const dark = (hi - lo) * 0.3
  const spec: TopLevelSpec = {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: heading(options.title, options.subtitle),
    width: step * columnsOrder.length,
    height: step * rowsOrder.length,
    config,
    data: { values: cells.map((c) => ({ ...c })) },
    encoding: {
      x: { field: "column", type: "nominal", title: options.columnTitle, sort: columnsOrder, axis: { labelAngle: -35, orient: "bottom" } },
      y: { field: "row", type: "nominal", title: options.rowTitle, sort: rowsOrder }
    },
    layer: [
      {
        mark: { type: "rect", stroke: "white", strokeWidth: 1 },
        encoding: {
          color: {
            field: "value",
            type: "quantitative",
            title: options.valueTitle,
            scale: { scheme: "redblue", domain: [lo, hi], domainMid: (lo + hi) / 2, clamp: true },
            legend: { gradientLength: Math.max(160, step * rowsOrder.length - 20) }
          }
        }
      },
      {
        mark: { type: "text", fontSize: 12 },
        encoding: {
          text: { field: "value", type: "quantitative", format: options.format ?? ".2f" },
          color: {
            condition: { test: `abs(datum.value - ${(lo + hi) / 2}) > ${dark}`, value: "white" },
            value: "black"
          }
        }
      }
    ]
  }
  return { name: options.name, title: options.title, spec }
}

/**
 * Dose-response: outcome rate against steering coefficient, one line per direction
 * (probe, control, mean difference) with its Wilson 95% interval as a band.
 */
export const doseResponse = (options: {
  readonly name: string
  readonly title: string
  readonly subtitle?: string
  readonly points: ReadonlyArray<DosePoint>
  readonly coefficientTitle?: string
  readonly outcomeTitle?: string
  readonly directionTitle?: string
}): Figure => {
  const { points } = options
  checkNonEmpty("doseResponse", "points", points)
  checkFinite("doseResponse", "points.coefficient", points.map((p) => p.coefficient))
  points.forEach((p, i) => {
    if (!(p.lo <= p.p && p.p <= p.hi && p.lo >= 0 && p.hi <= 1))
      throw new Error(`doseResponse: points[${i}] needs 0 <= lo <= p <= hi <= 1, got ${p.lo}, ${p.p}, ${p.hi}`)
  })
  const directions = uniqueInOrder(points.map((p) => p.direction))
  const color = { field: "direction", type: "nominal", title: options.directionTitle ?? "direction", sort: directions, scale: { scheme: "tableau10" } } as const
  const x = { field: "coefficient", type: "quantitative", title: options.coefficientTitle ?? "steering coefficient" } as const
  const spec: TopLevelSpec = {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: heading(options.title, options.subtitle ?? "Bands: Wilson 95% interval"),
    width: FIGURE_WIDTH,
    height: 360,
    autosize: fitted,
    config,
    data: { values: points.map((p) => ({ ...p })) },
    encoding: { x, color },
    layer: [
      {
        mark: { type: "area", opacity: 0.18 },
        encoding: { y: { field: "lo", type: "quantitative" }, y2: { field: "hi" } }
      },
      {
        mark: { type: "line", strokeWidth: 2, point: { size: 50, filled: true } },
        encoding: { y: { field: "p", type: "quantitative", title: options.outcomeTitle ?? "P(good)", scale: { domain: [0, 1] } } }
      }
    ]
  }
  return { name: options.name, title: options.title, spec }
}

/**
 * Lines with interval bands over an integer or continuous x (e.g. measured cross-seed correlation
 * vs the Spearman-Brown prediction over k samples).
 */
export const lineWithBand = (options: {
  readonly name: string
  readonly title: string
  readonly subtitle?: string
  readonly points: ReadonlyArray<BandPoint>
  readonly xTitle: string
  readonly yTitle: string
  readonly seriesTitle: string
  readonly integerX?: boolean
  readonly yDomain?: readonly [number, number]
}): Figure => {
  const { points } = options
  checkNonEmpty("lineWithBand", "points", points)
  checkFinite("lineWithBand", "points.x", points.map((p) => p.x))
  checkFinite("lineWithBand", "points.y", points.map((p) => p.y))
  checkFinite("lineWithBand", "points.lo", points.map((p) => p.lo))
  checkFinite("lineWithBand", "points.hi", points.map((p) => p.hi))
  points.forEach((p, i) => {
    if ((p.lo === undefined) !== (p.hi === undefined)) throw new Error(`lineWithBand: points[${i}] has only one of lo, hi`)
  })
  const series = uniqueInOrder(points.map((p) => p.series))
  const color = { field: "series", type: "nominal", title: options.seriesTitle, sort: series, scale: { scheme: "tableau10" } } as const
  const x = {
    field: "x",
    type: "quantitative",
    title: options.xTitle,
    axis: options.integerX === false ? {} : { tickMinStep: 1, format: "d" }
  } as const
  const spec: TopLevelSpec = {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: heading(options.title, options.subtitle ?? "Bands: 95% interval"),
    width: FIGURE_WIDTH,
    height: 340,
    autosize: fitted,
    config,
    data: { values: points.map((p) => ({ ...p })) },
    encoding: { x, color },
    layer: [
      {
        transform: [{ filter: "isValid(datum.lo) && isValid(datum.hi)" }],
        mark: { type: "area", opacity: 0.18 },
        encoding: { y: { field: "lo", type: "quantitative" }, y2: { field: "hi" } }
      },
      {
        mark: { type: "line", strokeWidth: 2, point: { size: 50, filled: true } },
        encoding: {
          y: {
            field: "y",
            type: "quantitative",
            title: options.yTitle,
            scale: options.yDomain === undefined ? { zero: false } : { domain: [...options.yDomain] }
          }
        }
      }
    ]
  }
  return { name: options.name, title: options.title, spec }
}

/** Student t quantile at probability 0.975 (for a 95% band); exact for df 1 and 2, Cornish-Fisher beyond. */
const t975 = (df: number): number => {
  if (df === 1) return 12.706204736174707
  if (df === 2) return 4.302652729749464
  const z = 1.959963984540054
  const z2 = z * z
  return (
    z +
    (z * (z2 + 1)) / (4 * df) +
    (z * (5 * z2 * z2 + 16 * z2 + 3)) / (96 * df ** 2) +
    (z * (3 * z2 ** 3 + 19 * z2 * z2 + 17 * z2 - 15)) / (384 * df ** 3) +
    (z * (79 * z2 ** 4 + 776 * z2 ** 3 + 1482 * z2 * z2 - 1920 * z2 - 945)) / (92160 * df ** 4)
  )
}

/** OLS line of y on x with the 95% confidence band of the mean at `steps` evenly spaced x. */
export const olsBand = (xs: ReadonlyArray<number>, ys: ReadonlyArray<number>, steps = 40) => {
  if (xs.length !== ys.length) throw new Error(`olsBand: xs has ${xs.length} values, ys has ${ys.length}`)
  const n = xs.length
  if (n < 3) throw new Error(`olsBand: xs needs at least 3 points for a band, got ${n}`)
  const mx = xs.reduce((a, b) => a + b, 0) / n
  const my = ys.reduce((a, b) => a + b, 0) / n
  let sxx = 0
  let sxy = 0
  for (let i = 0; i < n; i++) {
    sxx += (xs[i]! - mx) ** 2
    sxy += (xs[i]! - mx) * (ys[i]! - my)
  }
  if (sxx === 0) throw new Error("olsBand: xs has no spread")
  const slope = sxy / sxx
  const intercept = my - slope * mx
  let sse = 0
  for (let i = 0; i < n; i++) sse += (ys[i]! - intercept - slope * xs[i]!) ** 2
  const s = Math.sqrt(sse / (n - 2))
  const t = t975(n - 2)
  const xmin = Math.min(...xs)
  const xmax = Math.max(...xs)
  const line = Array.from({ length: steps + 1 }, (_, k) => {
    const x = xmin + ((xmax - xmin) * k) / steps
    const y = intercept + slope * x
    const half = t * s * Math.sqrt(1 / n + (x - mx) ** 2 / sxx)
    return { x, y, lo: y - half, hi: y + half }
  })
  return { slope, intercept, line }
}

/**
 * Scatter with an OLS fit line and its 95% confidence band (e.g. template slope vs correlation,
 * train vs test R²); optional per-point whiskers, point labels and a y = x reference.
 */
export const scatterWithFit = (options: {
  readonly name: string
  readonly title: string
  readonly subtitle?: string
  readonly points: ReadonlyArray<ScatterPoint>
  readonly xTitle: string
  readonly yTitle: string
  readonly pointsLabel: string
  readonly identityLine?: boolean
}): Figure => {
  const { points } = options
  checkFinite("scatterWithFit", "points.x", points.map((p) => p.x))
  checkFinite("scatterWithFit", "points.y", points.map((p) => p.y))
  const fit = olsBand(points.map((p) => p.x), points.map((p) => p.y))
  const fitLabel = "OLS fit ± 95% CI"
  const identityLabel = "y = x"
  const domain = [options.pointsLabel, fitLabel, ...(options.identityLine ? [identityLabel] : [])]
  const colorScale = { domain, range: ["#4c78a8", "#e45756", "#888888"].slice(0, domain.length) }
  const legendColor = (label: string) =>
    ({ datum: label, type: "nominal", title: null, scale: colorScale, legend: { orient: "bottom", direction: "horizontal" } }) as const
  const xs = points.map((p) => p.x)
  const ys = points.map((p) => p.y)
  const lo = Math.min(...xs, ...ys)
  const hi = Math.max(...xs, ...ys)
  const x = (field: string) => ({ field, type: "quantitative", title: options.xTitle, scale: { zero: false, nice: true, padding: 12 } }) as const
  const y = (field: string) => ({ field, type: "quantitative", title: options.yTitle, scale: { zero: false, nice: true, padding: 12 } }) as const
  const pointRows = points.map((p) => ({ ...p }))
  const spec: TopLevelSpec = {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: heading(options.title, options.subtitle ?? `n = ${points.length}; fitted slope ${fit.slope.toFixed(3)}, intercept ${fit.intercept.toFixed(3)}`),
    width: FIGURE_WIDTH,
    height: 400,
    autosize: fitted,
    config,
    layer: [
      {
        data: { values: fit.line },
        mark: { type: "area", opacity: 0.18 },
        encoding: { x: x("x"), y: y("lo"), y2: { field: "hi" }, color: legendColor(fitLabel) }
      },
      {
        data: { values: fit.line },
        mark: { type: "line", strokeWidth: 2 },
        encoding: { x: x("x"), y: y("y"), color: legendColor(fitLabel) }
      },
      ...(options.identityLine
        ? [
            {
              data: { values: [{ x: lo, y: lo }, { x: hi, y: hi }] },
              mark: { type: "line" as const, strokeDash: [6, 4], strokeWidth: 1.5 },
              encoding: { x: x("x"), y: y("y"), color: legendColor(identityLabel) }
            }
          ]
        : []),
      {
        data: { values: pointRows },
        transform: [{ filter: "isValid(datum.yLo) && isValid(datum.yHi)" }],
        mark: { type: "rule", strokeWidth: 1, color: "#4c78a8", opacity: 0.7 },
        encoding: { x: x("x"), y: y("yLo"), y2: { field: "yHi" } }
      },
      {
        data: { values: pointRows },
        transform: [{ filter: "isValid(datum.xLo) && isValid(datum.xHi)" }],
        mark: { type: "rule", strokeWidth: 1, color: "#4c78a8", opacity: 0.7 },
        encoding: { x: x("xLo"), x2: { field: "xHi" }, y: y("y") }
      },
      {
        data: { values: pointRows },
        mark: { type: "point", filled: true, size: 60, opacity: 0.9 },
        encoding: { x: x("x"), y: y("y"), color: legendColor(options.pointsLabel) }
      },
      {
        data: { values: pointRows },
        transform: [{ filter: "isValid(datum.label)" }],
        mark: { type: "text", align: "left", dx: 6, dy: -6, fontSize: 11, color: "#333" },
        encoding: { x: x("x"), y: y("y"), text: { field: "label", type: "nominal" } }
      }
    ]
  }
  return { name: options.name, title: options.title, spec }
}

/**
 * Horizontal bars of a value by category, one coloured bar per dataset within each category
 * (e.g. mean normalized rating by category × dataset), with whiskers where intervals are given.
 */
export const categoryBarChart = (options: {
  readonly name: string
  readonly title: string
  readonly subtitle?: string
  readonly rows: ReadonlyArray<CategoryBar>
  readonly categoryTitle: string
  readonly datasetTitle: string
  readonly valueTitle: string
  readonly valueDomain?: readonly [number, number]
}): Figure => {
  const { rows } = options
  checkNonEmpty("categoryBarChart", "rows", rows)
  checkFinite("categoryBarChart", "rows.value", rows.map((r) => r.value))
  checkFinite("categoryBarChart", "rows.lo", rows.map((r) => r.lo))
  checkFinite("categoryBarChart", "rows.hi", rows.map((r) => r.hi))
  const datasets = uniqueInOrder(rows.map((r) => r.dataset))
  const categories = uniqueInOrder(rows.map((r) => r.category))
  const hasIntervals = rows.some((r) => r.lo !== undefined && r.hi !== undefined)
  const y = { field: "category", type: "nominal", title: options.categoryTitle, sort: categories } as const
  const yOffset = { field: "dataset", type: "nominal", sort: datasets } as const
  const value = (field: string) =>
    ({
      field,
      type: "quantitative",
      title: options.valueTitle,
      ...(options.valueDomain === undefined ? {} : { scale: { domain: [...options.valueDomain] } })
    }) as const
  const spec: TopLevelSpec = {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: heading(options.title, options.subtitle ?? (hasIntervals ? "Whiskers: 95% interval" : undefined)),
    width: FIGURE_WIDTH,
    // The fitted height includes title and axis (about 110px), so add them to the bars' own height.
    height: 110 + categories.length * (datasets.length * Math.max(14, Math.min(24, Math.floor(60 / datasets.length))) + 16),
    autosize: fitted,
    config,
    data: { values: rows.map((r) => ({ ...r })) },
    encoding: { y, yOffset },
    layer: [
      {
        mark: { type: "bar", opacity: 0.85 },
        encoding: {
          x: value("value"),
          color: { field: "dataset", type: "nominal", title: options.datasetTitle, sort: datasets, scale: { scheme: "tableau10" } }
        }
      },
      {
        transform: [{ filter: "isValid(datum.lo) && isValid(datum.hi)" }],
        mark: { type: "rule", strokeWidth: 1.5, color: "#222" },
        encoding: { x: value("lo"), x2: { field: "hi" } }
      }
    ]
  }
  return { name: options.name, title: options.title, spec }
}

/** One point of a faceted scatter: the panel it is drawn in, its coordinates and its colour group. */
export interface PanelPoint {
  readonly panel: string
  readonly x: number
  readonly y: number
  readonly group: string
}

/**
 * Small multiples of scatters on shared axes, one panel per `panel` (e.g. predicted against measured shift, one panel
 * per persona): points coloured by group, each panel's own OLS fit with its 95% band (when its x varies), and a dashed
 * y = x reference.
 */
export const facetedScatter = (options: {
  readonly name: string
  readonly title: string
  readonly subtitle?: string
  readonly points: ReadonlyArray<PanelPoint>
  readonly xTitle: string
  readonly yTitle: string
  readonly panelTitle: string
  readonly groupTitle: string
}): Figure => {
  const { points } = options
  checkNonEmpty("facetedScatter", "points", points)
  checkFinite("facetedScatter", "points.x", points.map((p) => p.x))
  checkFinite("facetedScatter", "points.y", points.map((p) => p.y))
  const panels = uniqueInOrder(points.map((p) => p.panel))
  const groups = uniqueInOrder(points.map((p) => p.group)).sort()
  const rows: Array<Record<string, unknown>> = points.map((p) => ({ ...p, kind: "point" }))
  for (const panel of panels) {
    const own = points.filter((p) => p.panel === panel)
    const xs = own.map((p) => p.x)
    const ys = own.map((p) => p.y)
    // y = x over the overlap of the panel's x and y ranges only, so the reference never widens an axis.
    const lo = Math.max(Math.min(...xs), Math.min(...ys))
    const hi = Math.min(Math.max(...xs), Math.max(...ys))
    if (lo < hi) rows.push({ panel, kind: "identity", x: lo, y: lo }, { panel, kind: "identity", x: hi, y: hi })
    if (own.length >= 3 && Math.max(...xs) > Math.min(...xs)) {
      for (const point of olsBand(xs, ys).line) rows.push({ panel, kind: "fit", ...point })
    }
  }
  const columns = Math.min(panels.length, 3)
  // Panels share the figure's width: about 220px go to the y axis, the legend and padding, 27px to each gap between panels.
  const width = Math.floor((FIGURE_WIDTH - 220 - 27 * (columns - 1)) / columns)
  const x = { field: "x", type: "quantitative", title: options.xTitle, scale: { zero: false, nice: true } } as const
  const y = (field: string) => ({ field, type: "quantitative", title: options.yTitle, scale: { zero: false, nice: true } }) as const
  const only = (kind: string) => [{ filter: `datum.kind === '${kind}'` }]
  const spec: TopLevelSpec = {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    // Without autosize "fit" (facets lack it) a title widens the figure by its estimated width: keep both lines short.
    title: { ...heading(options.title, options.subtitle), subtitle: [...(options.subtitle === undefined ? [] : [options.subtitle]), "Red: OLS fit, 95% band; dashed: y = x"] },
    config,
    data: { values: rows },
    columns,
    facet: { field: "panel", type: "nominal", title: options.panelTitle, sort: panels },
    spec: {
      width,
      height: width,
      layer: [
        { transform: only("fit"), mark: { type: "area", opacity: 0.18, color: "#e45756" }, encoding: { x, y: y("lo"), y2: { field: "hi" } } },
        { transform: only("fit"), mark: { type: "line", strokeWidth: 2, color: "#e45756" }, encoding: { x, y: y("y") } },
        { transform: only("identity"), mark: { type: "line", strokeDash: [6, 4], strokeWidth: 1.5, color: "#888888" }, encoding: { x, y: y("y") } },
        {
          transform: only("point"),
          mark: { type: "point", filled: true, size: 40, opacity: 0.8 },
          encoding: { x, y: y("y"), color: { field: "group", type: "nominal", title: options.groupTitle, sort: groups, scale: { scheme: "tableau10" } } }
        }
      ]
    }
  }
  return { name: options.name, title: options.title, spec }
}
