import { describe, expect, it } from "@effect/vitest"
import { configPathOf } from "../../pipeline/Plan"

describe("configPathOf", () => {
  it("maps a parameter by its top-level name, keeping the rest of the path as it is", () => {
    expect(configPathOf({ template: "templates.1", system: "system" }, "template.text")).toBe("templates.1.text")
    expect(configPathOf({ template: "templates.1" }, "template.options[1].label")).toBe("templates.1.options[1].label")
    expect(configPathOf({ template: "templates.1" }, "elicitation.samples")).toBe("elicitation.samples")
    expect(configPathOf(undefined, "seed")).toBe("seed")
  })

  it("the longest parameter path that prefixes the change wins, in either index notation", () => {
    const paths = { personas: "personas", "personas.0": "personas.2", "personas[0].system": "system" }
    expect(configPathOf(paths, "personas[0].system")).toBe("system")
    expect(configPathOf(paths, "personas[0].id")).toBe("personas.2.id")
    expect(configPathOf(paths, "personas[1].id")).toBe("personas[1].id")
    // A key is a whole segment: `persona` does not prefix `personas`.
    expect(configPathOf({ persona: "x" }, "personas[0].id")).toBe("personas[0].id")
  })
})
