import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { checkStateDict, loadCheckpoint } from "@flowturbo/sit";
import { describe, expect, test } from "vitest";
import { refinerGraph } from "../src";
import { FIXTURES, sameTensors } from "../../sit/test/golden";

const bytes = async (name: string) => new Uint8Array(await readFile(join(FIXTURES, name)));

describe("refiner checkpoints", () => {
  test("the refiner wrapper loads 'model' by default (as FlowTurbo) and 'ema' on request", async () => {
    const model = await loadCheckpoint(await bytes("refiner.pt"), { file: "refiner.pt", heads: 4 });
    expect(model.kind).toBe("refiner");
    expect(model.entry).toBe("model");
    expect(model.config).toMatchObject({ depth: 1, inChannels: 8, outChannels: 8, keepChannels: 4 });
    const st = await loadCheckpoint(await bytes("refiner.safetensors"), { heads: 4 });
    sameTensors(model.weights, st.weights);
    const ema = await loadCheckpoint(await bytes("refiner.pt"), { entry: "ema", heads: 4 });
    expect(ema.entry).toBe("ema");
    checkStateDict(refinerGraph(ema.config), ema.weights, "refiner.pt");
  });
});
