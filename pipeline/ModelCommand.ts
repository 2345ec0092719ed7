import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as path from "node:path"
import { formatJsonSyntaxError, parseJson } from "../core/JsonText"
import type { Prompt } from "../model/Prompt"
import type { Steering } from "../model/Steering"
import type { SubjectModel } from "../model/SubjectModel"
import { projectRoot } from "./ProjectRoot"

const dirArg = Args.directory({ name: "dir" }).pipe(Args.withDescription("Hugging Face checkpoint folder"))
const promptOption = Options.text("prompt").pipe(Options.withDescription("prompt text"))
const chatOption = Options.boolean("chat").pipe(Options.withDescription("send the prompt as one user message through the chat template"))
const jsonOption = Options.boolean("json").pipe(Options.withDescription("print one JSON object on stdout"))
const runtimeOptions = {
  cacheDir: Options.directory("cache-dir").pipe(
    Options.withDescription("compiled-model cache (default: $PIPELINE_CACHE/onnx or .pipeline/onnx in the project)"),
    Options.optional
  ),
  plain: Options.boolean("plain").pipe(Options.withDescription("use the plain-operator graph instead of the fused one")),
  provider: Options.choice("provider", ["cpu", "cuda"]).pipe(
    Options.withDescription("execution provider (cuda needs onnxruntime-node installed with CUDA 12: npm ci --onnxruntime-node-install=cuda12)"),
    Options.withDefault("cpu" as const)
  ),
  dtype: Options.choice("dtype", ["float32", "float16"]).pipe(Options.withDescription("weight storage in the compiled graph"), Options.withDefault("float32" as const))
}

type ModelOptions = { dir: string; cacheDir: Option.Option<string>; plain: boolean; provider: "cpu" | "cuda"; dtype: "float32" | "float16" }

/** Runs `body` with the checkpoint's model; the model code (onnxruntime, tokenizers, the compiler) loads only now. */
const withModel = <A, E, R>(
  o: ModelOptions,
  body: (model: SubjectModel["Type"], m: typeof import("../model/SubjectModel")) => Effect.Effect<A, E, R>
) =>
  Effect.flatMap(Effect.promise(() => import("../model/SubjectModel")), (m) =>
    Effect.flatMap(m.SubjectModel, (model) => body(model, m)).pipe(
      Effect.provide(
        m.layerCheckpoint({
          dir: o.dir,
          cacheDir: Option.getOrElse(o.cacheDir, () => path.join(process.env.PIPELINE_CACHE ?? path.join(projectRoot, ".pipeline"), "onnx")),
          provider: o.provider,
          dtype: o.dtype,
          ...(o.plain ? { fusions: [] } : {})
        })
      )
    )
  )

const promptOf = (text: string, chat: boolean): Prompt =>
  chat ? { kind: "chat", messages: [{ role: "user", content: text }], addGenerationPrompt: true } : { kind: "text", text }

const numberList = (text: string) => text.split(",").filter((s) => s.trim() !== "").map(Number)

const readVector = (file: string, m: typeof import("../model/SubjectModel")) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const text = yield* fs.readFileString(file)
    const parsed = text.trim().startsWith("[") ? parseJson(text) : Either.right(text.trim().split(/[\s,]+/).map(Number))
    if (Either.isLeft(parsed)) return yield* Effect.fail(new m.ModelError({ model: file, reason: `steering vector file is ${formatJsonSyntaxError(parsed.left)}` }))
    const values: unknown[] = Array.isArray(parsed.right) ? parsed.right : [parsed.right]
    if (values.some((v) => typeof v !== "number" || !Number.isFinite(v))) return yield* Effect.fail(new m.ModelError({ model: file, reason: "steering vector file holds a non-number" }))
    return values as number[]
  })

const generateCommand = Command.make(
  "generate",
  {
    dir: dirArg,
    prompt: promptOption,
    chat: chatOption,
    maxTokens: Options.integer("max-tokens").pipe(Options.withDefault(64)),
    temperature: Options.float("temperature").pipe(Options.withDefault(0)),
    topP: Options.float("top-p").pipe(Options.withDefault(1)),
    seed: Options.integer("seed").pipe(Options.withDefault(0)),
    steerLayer: Options.integer("steer-layer").pipe(Options.optional),
    steerCoef: Options.float("steer-coef").pipe(Options.withDefault(0)),
    steerVector: Options.file("steer-vector").pipe(Options.optional),
    steerPositions: Options.choice("steer-positions", ["all", "autoregressive"]).pipe(Options.withDefault("all" as const)),
    json: jsonOption,
    ...runtimeOptions
  },
  (o) =>
    withModel(o, (model, m) => Effect.gen(function* () {
      let steering: Steering | undefined
      if (Option.isSome(o.steerLayer) && Option.isSome(o.steerVector))
        steering = {
          layer: o.steerLayer.value,
          direction: yield* readVector(o.steerVector.value, m),
          coefficient: o.steerCoef,
          positions: { kind: o.steerPositions },
          normalization: { kind: "unit" }
        }
      const [g] = yield* model.generate([{
        prompt: promptOf(o.prompt, o.chat),
        maxTokens: o.maxTokens,
        temperature: o.temperature,
        topP: o.topP,
        seed: o.seed,
        ...(steering === undefined ? {} : { steering })
      }])
      if (o.json) return yield* Console.log(JSON.stringify({ text: g!.text, token_ids: [...g!.promptIds, ...g!.tokenIds], finish: g!.finish }))
      yield* Console.log(g!.text)
    }))
).pipe(Command.withDescription("generate a continuation (greedy at temperature 0)"))

const scoreCommand = Command.make(
  "score",
  { dir: dirArg, prompt: promptOption, chat: chatOption, options: Options.text("options"), json: jsonOption, ...runtimeOptions },
  (o) =>
    withModel(o, (model) => Effect.gen(function* () {
      const options = o.options.split(",")
      const [s] = yield* model.scoreOptions([{ prompt: promptOf(o.prompt, o.chat), options }])
      if (o.json) return yield* Console.log(JSON.stringify({ options, probs: s!.probs, normalized: s!.normalized }))
      for (let i = 0; i < options.length; i++) yield* Console.log(`${options[i]}\t${s!.probs[i]}\t${s!.normalized[i]}`)
    }))
).pipe(Command.withDescription("probability of each comma-separated option after the prompt"))

const activationsCommand = Command.make(
  "activations",
  { dir: dirArg, prompt: promptOption, chat: chatOption, layers: Options.text("layers"), json: jsonOption, ...runtimeOptions },
  (o) =>
    withModel(o, (model) => Effect.gen(function* () {
      const layers = numberList(o.layers)
      const [a] = yield* model.activations([{ prompt: promptOf(o.prompt, o.chat), layers, selectors: ["prompt_last"] }])
      const byLayer = Object.fromEntries(layers.map((l) => [String(l), Array.from(a!.prompt_last![l]!)]))
      if (o.json) return yield* Console.log(JSON.stringify({ layers: byLayer }))
      for (const l of layers) yield* Console.log(`${l}\t${byLayer[String(l)]!.join(" ")}`)
    }))
).pipe(Command.withDescription("residual stream after the given layers at the last prompt token"))

/** `model generate|score|activations`: run the subject model from the command line. */
export const modelCommand = Command.make("model").pipe(
  Command.withDescription("run a Hugging Face checkpoint compiled to ONNX"),
  Command.withSubcommands([generateCommand, scoreCommand, activationsCommand])
)
