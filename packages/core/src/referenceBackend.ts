// A Backend that runs graphs with the float64 reference interpreter: exact and slow. Used as the
// oracle in tests and as a debugging aid ("does the model or the runtime disagree?").
import { interpret, type Tensor } from "@flowturbo/tensor";
import { type Backend, isDeviceTensor, type ModelSource, type RunValue, type Session } from "./backend";

export function createReferenceBackend(): Backend {
  return {
    name: "reference",
    providers: async () => ["reference"],
    async load(source: ModelSource): Promise<Session> {
      if (typeof source === "string" || source instanceof Uint8Array) {
        throw new Error("the reference backend runs graphs built with @flowturbo/tensor, not .onnx files");
      }
      const { graph, weights, paramsAsInputs } = source;
      const fedParam = (name: string) =>
        graph.params.has(name) &&
        (typeof paramsAsInputs === "function" ? paramsAsInputs(name) : paramsAsInputs === true);
      return {
        provider: "reference",
        inputNames: [...graph.inputs.map((i) => i.value.name!), ...[...graph.params.keys()].filter(fedParam)],
        outputNames: graph.outputs.map((o) => o.name),
        async run(feeds: Record<string, RunValue>, outputs?: readonly string[]) {
          const host: Record<string, Tensor> = {};
          const bound = new Map<string, Tensor>(
            weights instanceof Map ? weights : Object.entries(weights ?? {}),
          );
          for (const [k, v] of Object.entries(feeds)) {
            const t = isDeviceTensor(v) ? await v.download() : v;
            if (fedParam(k)) bound.set(k, t);
            else host[k] = t;
          }
          const all = interpret(graph, host, { weights: bound });
          // float32 graph outputs come back as float32 like any runtime's (the oracle's float64 is rounded once)
          const out: Record<string, RunValue> = {};
          for (const o of graph.outputs) {
            if (outputs && !outputs.includes(o.name)) continue;
            const t = all[o.name];
            out[o.name] = o.value.dtype === "float32" && t.dtype === "float64" ? t.astype("float32") : t;
          }
          return out;
        },
        async release() {},
      };
    },
  };
}
