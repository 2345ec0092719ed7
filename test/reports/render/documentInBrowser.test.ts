import { describe, expect, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { type ReportDocument, renderHtml } from "../../../reports/render/document"
import { chromiumPath } from "../../support/externalTools"

// The default experiment's longest settings: unbroken JSON of the four built-in datasets and the 13 probe alphas.
const doc: ReportDocument = {
  title: "hoo",
  buildHash: "0".repeat(64),
  sections: [],
  diagnostics: [],
  summary: {},
  configSummary: {
    datasets: ["alpaca", "bailbench", "math", "wildchat"].map((name) => ({ name, builtin: name })),
    probes: { alphas: Array.from({ length: 13 }, (_, i) => 10 ** (-2 + i * 0.5)), alphaRule: "one_se" }
  }
}

/** Writes the page's layout (viewport, scroll width, body and table right edges) onto <body> once it has loaded. */
const probe = `<script>addEventListener("load", () => document.body.setAttribute("data-layout", JSON.stringify({
  viewport: innerWidth, scroll: document.documentElement.scrollWidth, body: document.body.getBoundingClientRect().right,
  tables: [...document.querySelectorAll("table")].map((t) => t.getBoundingClientRect().right) })))</script>`

describe("the report page in headless Chromium", () => {
  const chromium = chromiumPath()
  it.skipIf(chromium === undefined)("wraps long build settings inside the page at 1280 and 800 px", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prefpipe-html-"))
    const page = path.join(dir, "index.html")
    fs.writeFileSync(page, renderHtml(doc, new Map()).replace("</body>", `${probe}</body>`))
    for (const width of [1280, 800]) {
      const run = spawnSync(
        chromium!,
        ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
          "--disable-component-update", "--disable-sync", `--user-data-dir=${path.join(dir, `profile-${width}`)}`,
          `--window-size=${width},900`, "--dump-dom", `file://${page}`],
        { encoding: "utf8", timeout: 90_000 }
      )
      const attribute = /data-layout="([^"]*)"/.exec(run.stdout)
      expect(attribute, run.stderr).not.toBeNull()
      const layout = JSON.parse(attribute![1]!.replaceAll("&quot;", '"')) as { viewport: number; scroll: number; body: number; tables: number[] }
      expect(layout.viewport).toBe(width)
      expect(layout.scroll).toBeLessThanOrEqual(layout.viewport)
      for (const right of layout.tables) expect(right).toBeLessThanOrEqual(layout.body)
    }
    fs.rmSync(dir, { recursive: true, force: true })
  })
})
