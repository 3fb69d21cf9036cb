// The PVE simulator over raw HTTP: it refuses bad input the way pveproxy does (status line, envelope, per-field errors).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SIMULATION_HEADER } from "../http.js";
import { startProxmoxSimulator, type ProxmoxSimulator } from "./server.js";
import { UPID_RE } from "./tasks.js";

let dir: string;
let sim: ProxmoxSimulator;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "pve-sim-"));
  sim = await startProxmoxSimulator({
    dbPath: path.join(dir, "pve.db"),
    nodes: ["pve1"],
    templates: [{ vmid: 9000 }],
    osTemplates: ["local:vztmpl/debian-12.tar.zst"],
    taskDelayMs: 10,
    authFailureDelayMs: 0,
  });
});
afterAll(async () => {
  expect(sim.responseViolations()).toEqual([]);
  await sim.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Answer {
  status: number;
  reason: string;
  text: string;
  json: { data?: unknown; message?: string; errors?: Record<string, string>; total?: number } | undefined;
  label: string | null;
}

async function call(
  method: string,
  p: string,
  opts: { form?: Record<string, string>; json?: unknown; token?: string | null; rawBody?: string } = {},
): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (opts.token !== null) headers.authorization = `PVEAPIToken=${opts.token ?? sim.token}`;
  let body: string | undefined;
  if (opts.form) {
    headers["content-type"] = "application/x-www-form-urlencoded";
    body = new URLSearchParams(opts.form).toString();
  } else if (opts.json !== undefined) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(opts.json);
  } else if (opts.rawBody !== undefined) {
    body = opts.rawBody;
  }
  if (body !== undefined) headers["content-length"] = String(Buffer.byteLength(body));
  const { request } = await import("node:http");
  return new Promise((resolve, reject) => {
    const req = request(`${sim.url}/api2/json${p}`, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString();
        resolve({
          status: res.statusCode ?? 0,
          reason: res.statusMessage ?? "",
          text,
          json: text ? (JSON.parse(text) as Answer["json"]) : undefined,
          label: (res.headers[SIMULATION_HEADER] as string | undefined) ?? null,
        });
      });
    });
    req.on("error", reject);
    req.end(body);
  });
}

async function waitTask(upid: string): Promise<{ status: string; exitstatus?: string }> {
  for (let i = 0; i < 200; i++) {
    const r = await call("GET", `/nodes/pve1/tasks/${encodeURIComponent(upid)}/status`);
    const d = r.json?.data as { status: string; exitstatus?: string };
    if (d.status === "stopped") return d;
    await new Promise((res) => setTimeout(res, 10));
  }
  throw new Error("task did not finish");
}

describe("PVE simulator: authentication", () => {
  it("answers 401 'No ticket' with an empty body when no token is sent", async () => {
    const r = await call("GET", "/version", { token: null });
    expect([r.status, r.reason, r.text]).toEqual([401, "No ticket", ""]);
    expect(r.label).toBe("true");
  });
  it("answers 401 'Authentication failed!' for a wrong secret", async () => {
    const r = await call("GET", "/version", { token: "proxstack@pve!sim=wrong" });
    expect([r.status, r.reason, r.text]).toEqual([401, "Authentication failed!", ""]);
  });
});

describe("PVE simulator: parameter verification", () => {
  it("rejects unknown parameters, bad booleans, ranges and enums with per-field messages", async () => {
    const r = await call("POST", "/nodes/pve1/lxc", {
      form: { vmid: "99", ostemplate: "local:vztmpl/debian-12.tar.zst", onboot: "true", arch: "sparc", colour: "blue" },
    });
    expect(r.status).toBe(400);
    expect(r.reason).toBe("Parameter verification failed.");
    expect(r.json).toEqual({
      data: null,
      message: "Parameter verification failed.\n",
      errors: {
        vmid: "value must have a minimum value of 100",
        onboot: "type check ('boolean') failed - got 'true'",
        arch: "value 'sparc' does not have a value in the enumeration 'amd64, i386, arm64, armhf, riscv32, riscv64'",
        colour: "property is not defined in schema and the schema does not allow additional properties",
      },
    });
  });
  it("reports missing required parameters", async () => {
    const r = await call("POST", "/nodes/pve1/lxc", { form: { vmid: "150" } });
    expect(r.json?.errors).toEqual({ ostemplate: "property is missing and it is not optional" });
  });
  it("parses net[n] property strings and refuses malformed ones and out-of-range indexes", async () => {
    const r = await call("PUT", "/nodes/pve1/lxc/9000/config", { form: { net0: "bridge=vmbr0,ip=10.0.0.5/24", net32: "name=eth1", net1: "name=eth1,mtu=10" } });
    expect(r.status).toBe(400);
    expect(r.json?.errors?.net0).toBe("invalid format - format error\nnet0.name: property is missing and it is not optional");
    expect(r.json?.errors?.net1).toBe("invalid format - format error\nnet1.mtu: value must have a minimum value of 64");
    expect(r.json?.errors?.net32).toBe("property is not defined in schema and the schema does not allow additional properties");
  });
  it("accepts JSON bodies with real booleans", async () => {
    const r = await call("PUT", "/nodes/pve1/lxc/9000/config", { json: { onboot: true, description: "via json" } });
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ data: null });
  });
  it("refuses a path parameter that conflicts with the body", async () => {
    const r = await call("PUT", "/nodes/pve1/lxc/9000/config", { form: { vmid: "9001" } });
    expect(r.status).toBe(400);
    expect(r.json?.errors?.vmid).toBe("duplicate parameter (already defined in URI) with conflicting values!");
  });
  it("applies snapshot name rules (pve-configid, reserved names)", async () => {
    const bad = await call("POST", "/nodes/pve1/lxc/9000/snapshot", { form: { snapname: "has space" } });
    expect(bad.json?.errors?.snapname).toBe("invalid format - invalid configuration ID 'has space'");
    const long = await call("POST", "/nodes/pve1/lxc/9000/snapshot", { form: { snapname: "a".repeat(41) } });
    expect(long.json?.errors?.snapname).toBe("value may only be 40 characters long");
    const reserved = await call("POST", "/nodes/pve1/lxc/9000/snapshot", { form: { snapname: "current" } });
    expect([reserved.status, reserved.json?.message]).toEqual([500, "unable to use snapshot name 'current' (reserved name)\n"]);
  });
});

describe("PVE simulator: resources and routing", () => {
  it("answers 500 with PVE's text for unknown vmid and node", async () => {
    const ct = await call("GET", "/nodes/pve1/lxc/4242/status/current");
    expect([ct.status, ct.reason, ct.json]).toEqual([
      500,
      "Configuration file 'nodes/pve1/lxc/4242.conf' does not exist",
      { data: null, message: "Configuration file 'nodes/pve1/lxc/4242.conf' does not exist\n" },
    ]);
    const node = await call("GET", "/nodes/nope/lxc");
    expect([node.status, node.json?.message]).toEqual([500, "no such cluster node 'nope'\n"]);
  });
  it("answers 501 for unknown paths and for a body on GET", async () => {
    const r = await call("GET", "/nodes/pve1/qemu");
    expect([r.status, r.json?.message]).toEqual([501, "Method 'GET /nodes/pve1/qemu' not implemented\n"]);
    const b = await call("DELETE", "/nodes/pve1/lxc/9000", { rawBody: "force=1" });
    expect([b.status, b.json?.message]).toEqual([501, "Unexpected content for method 'DELETE'\n"]);
  });
  it("refuses a duplicate vmid on create and clone", async () => {
    const create = await call("POST", "/nodes/pve1/lxc", { form: { vmid: "9000", ostemplate: "local:vztmpl/debian-12.tar.zst" } });
    expect([create.status, create.json?.message]).toEqual([500, "CT 9000 already exists on node 'pve1'\n"]);
    const first = await call("POST", "/nodes/pve1/lxc/9000/clone", { form: { newid: "3001" } });
    expect(first.status).toBe(200);
    const again = await call("POST", "/nodes/pve1/lxc/9000/clone", { form: { newid: "3001" } });
    expect([again.status, again.json?.message]).toEqual([500, "CT 3001 already exists on node 'pve1'\n"]);
  });
  it("returns nextid as a JSON string and refuses a taken id", async () => {
    const r = await call("GET", "/cluster/nextid");
    expect(r.json?.data).toBe("100");
    const taken = await call("GET", "/cluster/nextid?vmid=9000");
    expect([taken.status, taken.json?.errors]).toEqual([400, { vmid: "VM 9000 already exists" }]);
  });
});

describe("PVE simulator: tasks", () => {
  it("returns a UPID that finishes after the delay, with a log ending in TASK OK", async () => {
    const r = await call("POST", "/nodes/pve1/lxc/9000/clone", { form: { newid: "3002", hostname: "t1" } });
    const upid = r.json?.data as string;
    expect(upid).toMatch(UPID_RE);
    const done = await waitTask(upid);
    expect(done.exitstatus).toBe("OK");
    const log = await call("GET", `/nodes/pve1/tasks/${encodeURIComponent(upid)}/log?start=0&limit=50`);
    expect((log.json?.data as { n: number; t: string }[]).at(-1)).toEqual({ n: log.json?.total, t: "TASK OK" });
    const list = await call("GET", "/nodes/pve1/tasks?typefilter=vzclone");
    expect((list.json?.data as { upid: string }[]).map((t) => t.upid)).toContain(upid);
  });
  it("refuses an unparsable UPID", async () => {
    const r = await call("GET", "/nodes/pve1/tasks/not-a-upid/status");
    expect([r.status, r.json?.message]).toEqual([500, "unable to parse worker upid 'not-a-upid'\n"]);
  });
});

describe("PVE simulator: storage content delete", () => {
  it("deletes a vzdump archive it wrote (a task), then refuses it as it refuses any unknown volume", async () => {
    const ct = await call("POST", "/nodes/pve1/lxc", { form: { vmid: "160", ostemplate: "local:vztmpl/debian-12.tar.zst" } });
    expect((await waitTask(String(ct.json?.data))).exitstatus).toBe("OK");
    const dump = await call("POST", "/nodes/pve1/vzdump", { form: { vmid: "160", storage: "local" } });
    expect((await waitTask(String(dump.json?.data))).exitstatus).toBe("OK");
    const log = await call("GET", `/nodes/pve1/tasks/${encodeURIComponent(String(dump.json?.data))}/log`);
    const archive = /creating vzdump archive '[^']*\/(vzdump-lxc-160-[^']+)'/.exec(JSON.stringify(log.json?.data))?.[1];
    expect(archive).toMatch(/^vzdump-lxc-160-\d{4}_\d\d_\d\d-\d\d_\d\d_\d\d\.tar\.zst$/);
    const volid = `local:backup/${archive}`;
    const del = await call("DELETE", `/nodes/pve1/storage/local/content/${encodeURIComponent(volid)}`);
    expect(String(del.json?.data)).toMatch(UPID_RE);
    expect(String(del.json?.data)).toMatch(/:imgdel::/);
    expect((await waitTask(String(del.json?.data))).exitstatus).toBe("OK");
    const again = await call("DELETE", `/nodes/pve1/storage/local/content/${encodeURIComponent(volid)}`);
    expect([again.status, again.json?.message]).toEqual([500, `volume '${volid}' does not exist\n`]);
  });
});
