/**
 * Pins what the shipped experiments' stage keys are made of, so that a change to the experiment graph cannot silently
 * invalidate every cache built with them. For every node of `reports/week` (which gathers every report target) on
 * experiments/default.json and experiments/week.json: its stage, a hash of the parameters that enter its key, and the
 * nodes it reads. Together with the code version (left out: a version bump is the deliberate way to invalidate a
 * stage) these are everything a key hashes besides its inputs' outputs, which follow from the same pins upstream.
 * A change that is meant to move keys updates the snapshot with `npx vitest run test/reports/defaultKeys.test.ts -u`
 * and says so in its commit.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as path from "node:path"
import { prepare } from "../../pipeline/BuildTarget"
import { experimentConfig } from "../../pipeline/Config"
import { hashValue } from "../../core/Key"

const experimentsDir = path.resolve(__dirname, "../../experiments")

const fingerprints = (experiment: string) =>
  Effect.runPromise(
    Effect.map(
      prepare({ target: "reports/week", spec: experimentConfig, config: { file: path.join(experimentsDir, experiment) } }),
      ({ graph }) =>
        Object.fromEntries(
          [...graph.nodes.entries()]
            .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
            .map(([id, n]) => [
              id,
              `${n.node.stage.name} params=${hashValue(n.keyParams).slice(0, 16)} inputs=${Object.entries(n.inputs).map(([k, v]) => `${k}:${v}`).sort().join(",")}`
            ])
        )
    )
  )

describe("stage keys of the shipped experiments", () => {
  it.each(["default.json", "week.json"])("experiments/%s keeps its node ids, parameters and inputs", async (experiment) => {
    await expect(JSON.stringify(await fingerprints(experiment), null, 2)).toMatchFileSnapshot(`./__snapshots__/keys-${experiment}`)
  })
})
