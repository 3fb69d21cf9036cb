// Table tests of the simulation's step classification: what Pulumi would call create, update, replace, delete or same.
import { describe, expect, it } from "vitest";
import type { Registration } from "./mock-run.js";
import { desiredResources, planSteps, refuseProtected, TYPES, type DesiredResource } from "./plan.js";
import type { RecordedResource } from "./state.js";

const ct = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  nodeName: "pve1",
  vmId: 2001,
  clone: { vmId: 9000, datastoreId: "local-lvm", full: true },
  cpu: { cores: 1 },
  disk: { datastoreId: "local-lvm", size: 8 },
  started: true,
  initialization: { hostname: "a-web", userAccount: { keys: ["k1"] } },
  ...over,
});
const desired = (inputs: Record<string, unknown>, extra: Partial<DesiredResource> = {}): DesiredResource => ({
  urn: "urn:c",
  type: TYPES.container,
  name: "a/web/container",
  seq: 0,
  inputs,
  protect: false,
  replaceWith: [],
  ignoreChanges: ["initialization.userAccount"],
  ...extra,
});
const recorded = (inputs: Record<string, unknown>, extra: Partial<RecordedResource> = {}): RecordedResource => ({
  stack: "a",
  urn: "urn:c",
  type: TYPES.container,
  name: "a/web/container",
  seq: 0,
  inputs,
  protect: false,
  dirty: false,
  externalId: undefined,
  ...extra,
});

describe("planSteps", () => {
  it.each([
    ["absent → create", [desired(ct())], [], [["create", []]]],
    ["equal → same", [desired(ct())], [recorded(ct())], [["same", []]]],
    ["cores → update", [desired(ct({ cpu: { cores: 2 } }))], [recorded(ct())], [["update", ["cpu"]]]],
    ["power → update", [desired(ct({ started: false }))], [recorded(ct())], [["update", ["started"]]]],
    ["disk growth → update", [desired(ct({ disk: { datastoreId: "local-lvm", size: 16 } }))], [recorded(ct())], [["update", ["disk"]]]],
    ["disk shrink → replace", [desired(ct({ disk: { datastoreId: "local-lvm", size: 4 } }))], [recorded(ct())], [["replace", ["disk"]]]],
    ["vmid → replace", [desired(ct({ vmId: 2005 }))], [recorded(ct())], [["replace", ["vmId"]]]],
    ["template → replace", [desired(ct({ clone: { vmId: 9001, datastoreId: "local-lvm", full: true } }))], [recorded(ct())], [["replace", ["clone"]]]],
    ["ignored keys change → same", [desired(ct({ initialization: { hostname: "a-web", userAccount: { keys: ["k2"] } } }))], [recorded(ct())], [["same", []]]],
    ["dirty record → update", [desired(ct())], [recorded(ct(), { dirty: true })], [["update", expect.arrayContaining(["vmId"])]]],
    ["not registered → delete", [], [recorded(ct())], [["delete", []]]],
  ])("%s", (_name, want, have, expected) => {
    expect(planSteps(want, have).map((s) => [s.op, s.diffs])).toEqual(expected);
  });

  it("replaces a resource whose replaceWith target is replaced, and deletes in reverse registration order", () => {
    const fw = { nodeName: "pve1", containerId: 2001, enabled: true };
    const steps = planSteps(
      [desired(ct({ vmId: 2005 })), desired(fw, { urn: "urn:fw", type: TYPES.firewallOptions, name: "fw", seq: 1, replaceWith: ["urn:c"], ignoreChanges: [] })],
      [
        recorded(ct()),
        recorded(fw, { urn: "urn:fw", type: TYPES.firewallOptions, name: "fw", seq: 1 }),
        recorded({}, { urn: "urn:x", name: "x", seq: 2 }),
        recorded({}, { urn: "urn:y", name: "y", seq: 3 }),
      ],
    );
    expect(steps.map((s) => [s.name, s.op])).toEqual([
      ["a/web/container", "replace"],
      ["fw", "replace"],
      ["y", "delete"],
      ["x", "delete"],
    ]);
  });

  it("refuses to delete or replace a protected resource, naming it", () => {
    expect(() => refuseProtected("a", planSteps([], [recorded(ct(), { protect: true })]))).toThrow(/a\/web\/container \(delete\).*protect: false/);
    expect(() => refuseProtected("a", planSteps([desired(ct({ vmId: 2009 }))], [recorded(ct(), { protect: true })]))).toThrow(/replace/);
    expect(() => refuseProtected("a", planSteps([desired(ct({ cpu: { cores: 4 } }))], [recorded(ct(), { protect: true })]))).not.toThrow();
  });
});

describe("desiredResources", () => {
  const reg = (type: string, over: Partial<Registration> = {}): Registration => ({
    type,
    name: "n",
    urn: `urn:${type}`,
    custom: true,
    id: "id",
    inputs: { apiToken: "s3cret-value", nodeName: "pve1" },
    secretPaths: [],
    options: { protect: false, deleteBeforeReplace: false, ignoreChanges: [], replaceOnChanges: [], replaceWith: [], dependencies: [], retainOnDelete: false },
    ...over,
  });

  it("skips providers, components and the stack, and strips secret inputs", () => {
    const out = desiredResources([
      reg("pulumi:pulumi:Stack", { custom: false }),
      reg("pulumi:providers:proxmoxve"),
      reg("proxstack:user:Instance", { custom: false }),
      reg(TYPES.container, { secretPaths: ["apiToken"] }),
    ]);
    expect(out.map((d) => d.type)).toEqual([TYPES.container]);
    expect(out[0]?.inputs).toEqual({ nodeName: "pve1" });
  });

  it("refuses a resource type the simulation cannot apply", () => {
    expect(() => desiredResources([reg("proxmoxve:index/vmLegacy:VmLegacy")])).toThrow(/cannot apply resources of type proxmoxve:index\/vmLegacy:VmLegacy/);
  });
});
