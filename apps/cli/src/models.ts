// Opening model files for commands: checkpoint or converted ONNX -> a backend session + its config.
import { basename } from "node:path";
import type { Backend, ExecutionProvider, Session } from "@flowturbo/core";
import { loadCheckpoint, type ModelKind, refinerGraph, type SiTConfig, sitGraph } from "@flowturbo/refiner";
import { fileSource } from "@flowturbo/tensor/node";
import { UsageError } from "./cli";
import { requireFile } from "./files";

export interface OpenedModel {
  session: Session;
  kind: ModelKind;
  config: SiTConfig;
  file: string;
}

export async function openModel(
  backend: Backend,
  path: string,
  flag: string,
  opts: { heads?: number; expect: ModelKind; providers: readonly ExecutionProvider[] },
): Promise<OpenedModel> {
  await requireFile(path, flag);
  const source = await fileSource(path);
  let ckpt: Awaited<ReturnType<typeof loadCheckpoint>>;
  try {
    ckpt = await loadCheckpoint(source, { file: basename(path), heads: opts.heads });
  } finally {
    await source.close();
  }
  if (ckpt.kind !== opts.expect) {
    throw new UsageError(
      `${flag} ${basename(path)}: this is a ${ckpt.kind} checkpoint, expected a ${opts.expect}`,
    );
  }
  const session =
    ckpt.format === "onnx"
      ? await backend.load(path, { providers: opts.providers })
      : await backend.load(
          {
            graph: ckpt.kind === "refiner" ? refinerGraph(ckpt.config) : sitGraph(ckpt.config),
            weights: ckpt.weights,
          },
          { providers: opts.providers },
        );
  return { session, kind: ckpt.kind, config: ckpt.config, file: basename(path) };
}
