// The mock-run helper: registrations with options and secrets, outputs, failures, and queued runs in one process.
import * as pulumi from "@pulumi/pulumi";
import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { mockRun, unwrapSecrets } from "./mock-run.js";

class Thing extends pulumi.CustomResource {
  declare readonly size: pulumi.Output<number>;
  constructor(name: string, args: Record<string, pulumi.Input<unknown>>, opts?: pulumi.CustomResourceOptions) {
    super("test:index:Thing", name, { ...args, size: undefined }, opts);
  }
}

async function tinyProgram(): Promise<{ stack: string; size: pulumi.Output<number>; who: string | undefined }> {
  const a = new Thing("a", { label: "first", auth: { token: pulumi.secret("s3cret") } }, { protect: true, ignoreChanges: ["label"] });
  const b = new Thing("b", { from: a.id }, { dependsOn: [a], deleteBeforeReplace: true, replaceOnChanges: ["from"] });
  return Promise.resolve({ stack: pulumi.getStack(), size: b.size, who: new pulumi.Config("proxstack").get("who") });
}

describe("mockRun", () => {
  it("records type, name, urn, parent, inputs, secret paths and options of every registration", async () => {
    const { registrations: regs, outputs } = await mockRun(tinyProgram, {
      stack: "s1",
      config: { "proxstack:who": "operator" },
      computed: (r) => (r.type === "test:index:Thing" ? { size: 42 } : {}),
    });
    expect(regs.map((r) => `${r.type} ${r.name}`)).toEqual(["pulumi:pulumi:Stack proxstack-s1", "test:index:Thing a", "test:index:Thing b"]);
    const [root, a, b] = regs;
    expect(root?.parent).toBeUndefined();
    expect(a).toMatchObject({
      urn: "urn:pulumi:s1::proxstack::pulumi:pulumi:Stack$test:index:Thing::a",
      parent: root?.urn,
      custom: true,
      id: "a-id",
      inputs: { label: "first", auth: { token: "s3cret" } },
      secretPaths: ["auth"],
      options: { protect: true, ignoreChanges: ["label"], deleteBeforeReplace: false },
    });
    expect(b).toMatchObject({ inputs: { from: "a-id" }, secretPaths: [], options: { protect: false, deleteBeforeReplace: true, replaceOnChanges: ["from"] } });
    expect(b?.options.dependencies).toContain(a?.urn);
    expect(outputs).toEqual({ stack: "s1", size: 42, who: "operator" });
  });

  it("rejects with the program's own error, and the next run works", async () => {
    const boom = new Error("spec cannot be applied");
    await expect(mockRun(() => Promise.reject(boom), { stack: "bad" })).rejects.toBe(boom);
    const next = await mockRun(tinyProgram, { stack: "good" });
    expect(next.outputs?.stack).toBe("good");
  });

  it("queues runs requested at the same time, each with its own stack and registrations", async () => {
    const runs = await Promise.all(["q1", "q2", "q3"].map((stack) => mockRun(tinyProgram, { stack })));
    expect(runs.map((r) => r.outputs?.stack)).toEqual(["q1", "q2", "q3"]);
    for (const [i, r] of runs.entries()) {
      expect(r.registrations).toHaveLength(3);
      for (const reg of r.registrations) expect(reg.urn).toContain(`urn:pulumi:q${i + 1}::`);
    }
  });

  it("in preview, outputs the mock does not compute stay unknown", async () => {
    const { outputs, registrations } = await mockRun(tinyProgram, { stack: "p", preview: true });
    expect(registrations).toHaveLength(3);
    expect(outputs).toBeUndefined();
  });

  it("unwrapSecrets finds nested envelopes", () => {
    const env = (value: unknown) => ({ [pulumi.runtime.specialSigKey]: pulumi.runtime.specialSecretSig, value });
    expect(unwrapSecrets({ a: 1, b: env({ c: env("x") }), d: [env(2)] })).toEqual({ value: { a: 1, b: { c: "x" }, d: [2] }, secretPaths: ["b", "b.c", "d.0"] });
  });

  it("leaves the runtime's promise tagger and Error.stackTraceLimit as they were, also after a program that throws", async () => {
    const debuggable = createRequire(import.meta.url)("@pulumi/pulumi/runtime/debuggable.js") as { debuggablePromise: unknown };
    const tagger = debuggable.debuggablePromise;
    const limit = Error.stackTraceLimit;
    await mockRun(tinyProgram, { stack: "s1" });
    await expect(mockRun(() => Promise.reject(new Error("boom")), { stack: "s2" })).rejects.toThrow("boom");
    expect(debuggable.debuggablePromise).toBe(tagger);
    expect(Error.stackTraceLimit).toBe(limit);
  });
});
