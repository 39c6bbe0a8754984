// Model files -> checked models: SiT base and refiner checkpoints (.pt, .safetensors, our .onnx) with
// their kind checked, the graph of a checkpoint, its class names, and the VAE decoder of latent models.
// From bytes or any byte source, so the CLI (files) and the web app (downloads, picked files) share it.
import type { Backend, ExecutionProvider } from "@flowturbo/core";
import { refinerGraph } from "@flowturbo/refiner";
import {
  checkStateDict,
  loadCheckpoint,
  type ModelCheckpoint,
  type ModelKind,
  sitGraph,
} from "@flowturbo/sit";
import type { Graph, SourceLike } from "@flowturbo/tensor";
import {
  loadVaeDecoder,
  loadVaeWeights,
  SD_VAE_CONFIG,
  type VaeConfig,
  type VaeDecoder,
  vaeConfigFromDiffusers,
} from "@flowturbo/vae";

/** The graph of a checkpoint's network: SiT forward(x, t, y) -> v, or the refiner's (x, t, v, y) -> delta_v. */
export function modelGraph(model: { kind: ModelKind; config: ModelCheckpoint["config"] }): Graph {
  return model.kind === "refiner" ? refinerGraph(model.config) : sitGraph(model.config);
}

const KIND_NAMES: Record<ModelKind, string> = {
  sit: "a SiT base model",
  refiner: "a FlowTurbo velocity refiner",
};

/** A file given for the wrong role (e.g. a refiner as the base model); the message names it. */
export class ModelKindError extends Error {
  constructor(
    readonly file: string,
    readonly found: ModelKind,
    readonly expected: ModelKind,
  ) {
    super(`${file}: this is a ${found} checkpoint, expected a ${expected} (${KIND_NAMES[expected]})`);
    this.name = "ModelKindError";
  }
}

export interface ReadModelOptions {
  /** The role the file must play: "sit" (the base model) or "refiner"; omitted: either (converters, verifiers). */
  expect?: ModelKind;
  /** Name for messages (the file name, URL, or picked file). */
  file: string;
  /** Attention heads for a width outside SiT's table (recorded files know theirs). */
  heads?: number;
  /** Entry of a {"model","ema"} training wrapper (default as the official code: refiner "model", SiT "ema"). */
  entry?: "model" | "ema";
}

/**
 * Reads a checkpoint and checks that it is the kind of model its role needs, and that its weights are
 * exactly the network's parameters (names and shapes), before any session is built from it.
 */
export async function readModel(source: SourceLike, opts: ReadModelOptions): Promise<ModelCheckpoint> {
  const ckpt = await loadCheckpoint(source, { file: opts.file, heads: opts.heads, entry: opts.entry });
  if (opts.expect && ckpt.kind !== opts.expect) throw new ModelKindError(ckpt.file, ckpt.kind, opts.expect);
  checkStateDict(modelGraph(ckpt), ckpt.weights, ckpt.file);
  return ckpt;
}

/** Class names recorded in a checkpoint's "classes" metadata (a JSON list of strings), if any. */
export function checkpointClassNames(ckpt: ModelCheckpoint): string[] | undefined {
  const raw = ckpt.metadata?.classes;
  if (!raw) return undefined;
  let names: unknown;
  try {
    names = JSON.parse(raw);
  } catch {
    throw new Error(`${ckpt.file}: metadata 'classes' is not JSON (expected a list of class names)`);
  }
  if (!Array.isArray(names) || !names.every((n) => typeof n === "string"))
    throw new Error(`${ckpt.file}: metadata 'classes' must be a JSON list of strings`);
  if (names.length !== ckpt.config.numClasses)
    throw new Error(
      `${ckpt.file}: metadata 'classes' lists ${names.length} names, the model has ${ckpt.config.numClasses} classes`,
    );
  return names as string[];
}

/** Pixel-space models (3 channels) give images directly; latent models need a VAE decoder. */
export function needsVae(base: ModelCheckpoint): boolean {
  return base.config.keepChannels !== 3;
}

/** A latent model without a VAE: the message says what to give. */
export function missingVaeMessage(base: ModelCheckpoint): string {
  return `${base.file} generates ${base.config.keepChannels}-channel latents: give a VAE (diffusion_pytorch_model.safetensors of stabilityai/sd-vae-ft-ema) to decode them`;
}

export interface OpenVaeOptions {
  /** The weights' name for messages. */
  file: string;
  /** The diffusers config.json text, and its name; default SD's (sd-vae-ft-ema). */
  config?: { text: string; file: string };
  /** Latent height and width the decoder graph is built for (the base model's input size; any size works). */
  latentSize?: number | readonly [number, number];
  providers?: readonly ExecutionProvider[];
}

/** The decoder of a diffusers AutoencoderKL (weights + optional config.json) as a session. */
export async function openVaeDecoder(
  backend: Backend,
  weights: Uint8Array,
  opts: OpenVaeOptions,
): Promise<VaeDecoder> {
  const config: VaeConfig = opts.config
    ? vaeConfigFromDiffusers(opts.config.text, opts.config.file)
    : SD_VAE_CONFIG;
  const state = await loadVaeWeights(weights, { config, file: opts.file, parts: ["decoder"] });
  return loadVaeDecoder(backend, state, {
    config,
    graph: opts.latentSize === undefined ? undefined : { latentSize: opts.latentSize },
    session: { providers: opts.providers },
  });
}
