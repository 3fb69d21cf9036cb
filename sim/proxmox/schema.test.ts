// The PVE schema engine: loaded from the reference files, indexed names, property strings, return checks, conformance hook.
import { describe, expect, it } from "vitest";
import { createPveConformance } from "./conformance.js";
import { checkReturn, loadPveSchema, lookupProperty, parsePropertyString, type PveSchema } from "./schema.js";

const schema = loadPveSchema("9.1");
const createInfo = (() => {
  const r = schema.route("POST", "/nodes/pve1/lxc");
  if (!r.ok) throw new Error("create endpoint missing");
  return r.route.info;
})();
const props = createInfo.parameters.properties ?? {};

describe("PVE schema", () => {
  it("loads both versions with every endpoint of the subset", () => {
    expect(schema.operations()).toContain("POST /nodes/{node}/lxc/{vmid}/clone");
    expect(loadPveSchema("8.4").operations()).toHaveLength(schema.operations().length);
  });
  it.each([
    ["net0", true],
    ["net31", true],
    ["net32", false],
    ["net01", false],
    ["mp255", true],
    ["mp256", false],
    ["unused3", true],
    ["foo0", false],
  ])("indexed name %s is %s", (name, ok) => {
    expect(lookupProperty(props, name) !== undefined).toBe(ok);
  });
  it("parses property strings with the default key and reports sub-key errors", () => {
    const rootfs = props.rootfs?.format as Record<string, PveSchema>;
    expect(parsePropertyString(rootfs, "local-lvm:8,ro=1")).toEqual({ values: { volume: "local-lvm:8", ro: 1 } });
    expect(parsePropertyString(rootfs, "local-lvm:8,color=red", "rootfs")).toEqual({
      error: "invalid format - format error\nrootfs.color: property is not defined in schema and the schema does not allow additional properties",
    });
    expect(parsePropertyString(rootfs, "a,b")).toEqual({ error: "invalid format - missing key in comma-separated list property" });
    const net = props["net[n]"]?.format as Record<string, PveSchema>;
    expect(parsePropertyString(net, "name=eth0,hwaddr=01:00:00:00:00:01", "net0")).toEqual({
      error: "invalid format - format error\nnet0.hwaddr: invalid format - value does not look like a valid unicast MAC address",
    });
    expect(parsePropertyString(net, "name=eth0,name=eth1")).toEqual({ error: "invalid format - duplicate key in comma-separated list property: name" });
  });
  it("flags responses that do not match a return definition", () => {
    const status = schema.route("GET", "/nodes/pve1/tasks/x/status");
    if (!status.ok) throw new Error("missing");
    expect(
      checkReturn(status.route.info.returns, { upid: "u", node: "n", pid: 1, pstart: 1, starttime: 1, type: "t", id: "", user: "u", status: "running" }),
    ).toEqual([]);
    expect(checkReturn(status.route.info.returns, { upid: "u", node: "n", pid: "1", starttime: 1, type: "t", id: "", user: "u", status: "paused" })).toEqual([
      'data.pid: expected integer, got "1"',
      "data.status: 'paused' not in enum",
      "data.pstart: required but missing",
    ]);
  });
  it("the conformance hook catches unknown endpoints and parameters", () => {
    const c = createPveConformance("8.4");
    c.onRequest({ method: "POST", path: "/nodes/pve1/lxc", params: { vmid: "101", ostemplate: "local:vztmpl/x.tar.zst", entrypoint: "/sbin/init" } });
    c.onRequest({ method: "GET", path: "/nodes/pve1/qemu", params: {} });
    c.onRequest({ method: "GET", path: "/version", params: {} });
    expect(c.problems()).toEqual([
      "POST /nodes/{node}/lxc: entrypoint: property is not defined in schema and the schema does not allow additional properties",
      "GET /nodes/pve1/qemu: no such endpoint in the PVE 8.4 schema",
    ]);
  });
});
