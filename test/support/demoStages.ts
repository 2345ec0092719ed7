import * as arrow from "apache-arrow"
import { Effect, Schema } from "effect"
import * as Artifact from "../../pipeline/Artifact"
import type { ConfigSpec } from "../../pipeline/BuildTarget"
import * as Stage from "../../pipeline/Stage"
import { decodeConfig, readConfigFile } from "../../pipeline/Target"
import { memoMap } from "../../cache/Memo"
import * as fs from "node:fs"

/** Counts stage executions across processes: each run appends its node id to this file when set. */
const recordRun = (node: string) =>
  Effect.sync(() => {
    const file = process.env.DEMO_RUN_LOG
    if (file) fs.appendFileSync(file, `${node}\n`)
  })

/** A source of numbers; `label` does not affect the output (used to show early cutoff). */
export const numbers = Stage.make({
  name: "numbers",
  version: 1,
  params: Schema.Struct({ count: Schema.Int, label: Schema.String }),
  run: ({ node, params }) =>
    Effect.as(
      recordRun(node),
      {
        numbers: Artifact.table(
          new arrow.Table({
            id: arrow.vectorFromArray(Array.from({ length: params.count }, (_, i) => `n${i}`), new arrow.Utf8()),
            value: arrow.vectorFromArray(Array.from({ length: params.count }, (_, i) => i + 1), new arrow.Float64())
          })
        )
      }
    )
})

/** Per-row work through the row memo: each value times the template's factor; may crash after N rows. */
export const scale = Stage.make({
  name: "scale",
  version: 1,
  params: Schema.Struct({ template: Schema.Struct({ text: Schema.String, factor: Schema.Number }), delayMs: Schema.Int }),
  run: ({ node, params, inputs, progress }) =>
    Effect.gen(function* () {
      yield* recordRun(node)
      const table = inputs.numbers!.table("numbers")
      const ids = table.getChild("id")!.toArray() as string[]
      const values = Array.from(table.getChild("value")!.toArray() as Float64Array)
      yield* progress.total(ids.length)
      const crashAfter = Number(process.env.DEMO_CRASH_AFTER ?? "0")
      let computed = 0
      const out = yield* memoMap({
        namespace: "demo-scale/1",
        items: ids.map((id, i) => ({ id, value: values[i]! })),
        key: (item) => [item.id, item.value, params.template.factor],
        batchSize: 1,
        onProgress: progress.done,
        compute: (batch) =>
          Effect.gen(function* () {
            if (params.delayMs > 0) yield* Effect.sleep(params.delayMs)
            computed += batch.length
            if (crashAfter > 0 && computed > crashAfter) yield* Effect.sync(() => process.exit(3))
            const file = process.env.DEMO_ROW_LOG
            if (file) fs.appendFileSync(file, batch.map((b) => `${b.id}\n`).join(""))
            return batch.map((b) => b.value * params.template.factor)
          })
      })
      return {
        scaled: Artifact.table(
          new arrow.Table({
            id: arrow.vectorFromArray(ids, new arrow.Utf8()),
            value: arrow.vectorFromArray(out, new arrow.Float64())
          })
        )
      }
    })
})

/** Sums every scaled table into one JSON record. */
export const total = Stage.make({
  name: "total",
  version: 1,
  params: Stage.NoParams,
  run: ({ node, inputs }) =>
    Effect.as(recordRun(node), {
      totals: Artifact.json(
        Object.fromEntries(
          Object.entries(inputs).map(([name, loaded]) => [
            name,
            Array.from(loaded.table("scaled").getChild("value")!.toArray() as Float64Array).reduce((a, b) => a + b, 0)
          ])
        )
      )
    })
})

/** Renders the totals as a Markdown file. */
export const report = Stage.make({
  name: "report",
  version: 1,
  params: Stage.NoParams,
  run: ({ node, inputs }) =>
    Effect.as(recordRun(node), {
      report: Artifact.files({
        "README.md": new TextEncoder().encode(`# Totals\n\n${JSON.stringify(inputs.total!.json("totals"))}\n`)
      })
    })
})

/** The demo experiment config. */
export const DemoConfig = Schema.Struct({
  count: Schema.Int.pipe(Schema.positive()),
  label: Schema.optionalWith(Schema.String, { default: () => "" }),
  delayMs: Schema.optionalWith(Schema.Int, { default: () => 0 }),
  templates: Schema.Record({ key: Schema.String, value: Schema.Struct({ text: Schema.String, factor: Schema.Number }) })
})

/** Loads the demo config from a JSON file. */
export const demoSpec: ConfigSpec<typeof DemoConfig.Type> = {
  load: (file) =>
    Effect.gen(function* () {
      const config = yield* decodeConfig(DemoConfig, yield* readConfigFile(file), file)
      return { config, snapshot: Schema.encodeSync(DemoConfig)(config) }
    }),
  fromSnapshot: (snapshot) => decodeConfig(DemoConfig, snapshot, "(recorded snapshot)")
}

/** numbers -> scale[template] (fan-out) -> total -> report. */
export const demoGraph = (config: typeof DemoConfig.Type): Stage.Node => {
  const source = Stage.node(numbers, { params: { count: config.count, label: config.label } })
  const scaled = Object.entries(config.templates)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([id, template]) =>
      Stage.node(scale, {
        label: id,
        params: { template, delayMs: config.delayMs },
        inputs: { numbers: source },
        configPaths: { template: `templates.${id}` }
      })
    )
  const sum = Stage.node(total, { params: {}, inputs: Object.fromEntries(scaled.map((n) => [n.id, n])) })
  return Stage.node(report, { params: {}, inputs: { total: sum } })
}
