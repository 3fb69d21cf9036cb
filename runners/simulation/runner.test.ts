// The simulation runner against the real Proxmox and Cloudflare simulators (in-process, port 0), real SQLite, temp dirs.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { createCloudflareClient, type CloudflareClient } from "../../clients/cloudflare/client.js";
import { createProxmoxClient, type ProxmoxClient } from "../../clients/proxmox/client.js";
import { manualClock } from "../../lib/clock.js";
import { ProxstackError } from "../../lib/errors.js";
import { silentLogger } from "../../lib/logger.js";
import { PlatformSpecSchema, UserStackSpecSchema, type UserStackSpec } from "../../schemas/index.js";
import { startCloudflareSimulator, type CloudflareSimulator } from "../../sim/cloudflare/server.js";
import { startProxmoxSimulator, type ProxmoxSimulator } from "../../sim/proxmox/server.js";
import { simulatorSeedFromPlatform } from "../../sim/seed.js";
import type { RunEvent, StackTarget } from "../runner.js";
import type { SimCloudflare, SimProxmox } from "./apis.js";
import { simCloudflareFromClient, simProxmoxFromClient } from "./clients.js";
import { createSimulationRunner, type SimulationRunner } from "./runner.js";

const repo = path.resolve(import.meta.dirname, "../..");
const readYaml = (f: string): unknown => parse(readFileSync(path.join(repo, "stacks", f), "utf8"));
const platform = PlatformSpecSchema.parse(readYaml("platform.yaml"));
const alice = UserStackSpecSchema.parse(readYaml("alice.yaml"));
const bob = UserStackSpecSchema.parse(readYaml("bob.yaml"));
const NODE = "pve1";
const PROVISIONING_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKInZte4N4jzWW5jRTjyVW2dB3e0ryh5PFdf4g4KQ/Pn proxstack-provisioning";

const user = (spec: UserStackSpec): StackTarget => ({ kind: "user", name: spec.name, spec, platform });
const platformTarget = (...users: UserStackSpec[]): StackTarget => ({ kind: "platform", name: "platform", platform, users });

/** Wraps an interface so every call is counted, and a chosen call can fail before or after reaching the API. */
function instrument<T extends object>(api: T) {
  const calls: string[] = [];
  let fault: { method: string; nth: number; when: "before" | "after" } | undefined;
  const wrapped = new Proxy(api, {
    get(target, prop, receiver) {
      const fn = Reflect.get(target, prop, receiver) as unknown;
      if (typeof fn !== "function" || typeof prop !== "string") return fn;
      return async (...args: unknown[]) => {
        calls.push(prop);
        const hit = fault && fault.method === prop && calls.filter((c) => c === prop).length === fault.nth ? fault : undefined;
        if (hit?.when === "before") throw new ProxstackError("test.injected", `injected failure before ${prop}`, { kind: "retry" });
        const result: unknown = await (fn as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        if (hit?.when === "after") throw new ProxstackError("test.injected", `injected crash after ${prop}`, { kind: "retry" });
        return result;
      };
    },
  });
  const isRead = (c: string) => c.startsWith("get") || c.startsWith("find");
  return {
    api: wrapped,
    calls,
    writes: () => calls.filter((c) => !isRead(c)),
    reset: () => void calls.splice(0),
    failOn: (method: string, nth: number, when: "before" | "after") => void (fault = { method, nth, when }),
    clearFault: () => void (fault = undefined),
  };
}

let dir: string;
let pveSim: ProxmoxSimulator;
let cfSim: CloudflareSimulator;
let pve: ProxmoxClient;
let cf: CloudflareClient;
let pveApi: ReturnType<typeof instrument<SimProxmox>>;
let cfApi: ReturnType<typeof instrument<SimCloudflare>>;
const runners: SimulationRunner[] = [];

function newRunner(vpnPeerAddresses?: (spec: UserStackSpec) => Promise<string[]>): SimulationRunner {
  const r = createSimulationRunner({
    dataDir: path.join(dir, "data"),
    proxmox: pveApi.api,
    cloudflare: cfApi.api,
    program: {
      proxmox: { endpoint: pveSim.url, apiToken: pveSim.token, insecure: false },
      cloudflare: { apiToken: cfSim.token, baseUrl: cfSim.url },
      provisioningPublicKey: PROVISIONING_KEY,
      ...(vpnPeerAddresses ? { vpnPeerAddresses } : {}),
    },
    logger: silentLogger(),
    clock: manualClock(new Date("2026-11-25T23:00:00Z")),
  });
  runners.push(r);
  return r;
}

beforeEach(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), "sim-runner-"));
  const seed = simulatorSeedFromPlatform(platform);
  pveSim = await startProxmoxSimulator({ dbPath: path.join(dir, "pve.db"), ...seed.proxmox, taskDelayMs: 1, authFailureDelayMs: 0 });
  cfSim = await startCloudflareSimulator({ dbPath: path.join(dir, "cf.db"), ...seed.cloudflare });
  pve = createProxmoxClient({ endpoint: pveSim.url, token: pveSim.token, taskPollMs: 5, retry: { attempts: 1 } });
  cf = createCloudflareClient({ apiUrl: cfSim.url, token: cfSim.token, attempts: 1 });
  pveApi = instrument(simProxmoxFromClient(pve));
  cfApi = instrument(simCloudflareFromClient(cf));
});

afterEach(async () => {
  for (const r of runners.splice(0)) r.close();
  await pveSim.close();
  await cfSim.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Containers on the node that are not templates. */
async function containers(): Promise<number[]> {
  return (await pve.listContainers(NODE))
    .filter((c) => c.template !== 1)
    .map((c) => c.vmid)
    .sort();
}

describe("simulation runner", () => {
  it("applies alice, bob and the platform: containers, firewall, tunnel ingress with the catch-all last, CNAMEs", async () => {
    const runner = newRunner();
    expect(runner.mode).toBe("simulation");
    const events: RunEvent[] = [];
    // Two stacks at once: programs take turns on the mock runtime, API calls overlap.
    const [a] = await Promise.all([runner.up(user(alice), { onEvent: (e) => events.push(e) }), runner.up(user(bob))]);
    const p = await runner.up(platformTarget(alice, bob));

    expect(a.changeSummary).toEqual({ create: 6 });
    expect(a.outputs).toMatchObject({
      stack: "alice",
      instances: [
        { name: "web", vmid: 2001 },
        { name: "dev", vmid: 2002 },
      ],
    });
    expect(events[0]).toMatchObject({ type: "prelude", message: expect.stringContaining("simulat") });
    expect(events.at(-1)).toMatchObject({ type: "summary", message: "create 6" });
    expect(events.filter((e) => e.type === "resource-pre")).toHaveLength(6);

    expect(await containers()).toEqual([2001, 2002, 2003]);
    const web = await pve.getConfig(NODE, 2001);
    expect(web).toMatchObject({ cores: 2, memory: 2048, swap: 1024, hostname: "alice-web", protection: 1 });
    expect(String(web.net0)).toMatch(/bridge=vmbr0/);
    expect(String(web.net0)).toMatch(/ip=10\.10\.0\.21\/24/);
    expect(String(web.net0)).toMatch(/rate=50/);
    expect(String(web.rootfs)).toMatch(/size=20G/);
    expect((await pve.containerStatus(NODE, 2001)).status).toBe("running");
    expect((await pve.containerStatus(NODE, 2002)).status).toBe("stopped");
    // Bob is suspended: his container exists but stays stopped.
    expect((await pve.containerStatus(NODE, 2003)).status).toBe("stopped");
    expect(await pve.getConfig(NODE, 2002)).toMatchObject({ hostname: "alice-dev", cores: 1, memory: 512 });

    expect(await pve.getFirewallOptions(NODE, 2001)).toMatchObject({ enable: 1, policy_in: "DROP", policy_out: "ACCEPT" });
    const rules = await pve.listFirewallRules(NODE, 2001);
    expect(rules.map((r) => [r.source, r.dport])).toEqual([
      ["10.10.0.3", "80"],
      ["10.10.0.3", "8080"],
      ["10.10.0.2", "22"],
    ]);

    expect(p.changeSummary).toEqual({ create: 4 });
    const ingress = (await cf.getTunnelConfig(platform.cloudflare.accountId, platform.cloudflare.tunnelId)).config?.ingress ?? [];
    expect(ingress.map((r) => r.hostname)).toEqual(["alice-web-api.example.com", "alice-web-www.example.com", "bob-app-app.example.com", undefined]);
    expect(ingress.at(-1)?.service).toBe("http_status:404");
    expect(ingress[0]?.service).toBe("http://10.10.0.21:8080");
    const dns = await cf.listDnsRecords(platform.cloudflare.zoneId);
    expect(dns.map((r) => [r.name, r.type, r.content, r.proxied]).sort()).toEqual([
      ["alice-web-api.example.com", "CNAME", `${platform.cloudflare.tunnelId}.cfargotunnel.com`, true],
      ["alice-web-www.example.com", "CNAME", `${platform.cloudflare.tunnelId}.cfargotunnel.com`, true],
      ["bob-app-app.example.com", "CNAME", `${platform.cloudflare.tunnelId}.cfargotunnel.com`, true],
    ]);
    // The runner's own state never holds the API tokens the providers were given.
    const stateDb = ["simulation-runner.db", "simulation-runner.db-wal"]
      .map((f) => path.join(dir, "data", f))
      .filter((f) => existsSync(f))
      .map((f) => readFileSync(f).toString("latin1"))
      .join("");
    expect(stateDb).toContain("alice/web/container");
    expect(stateDb).not.toContain(pveSim.token.split("=")[1] ?? pveSim.token);
    expect(stateDb).not.toContain(cfSim.token);
    expect(pveSim.responseViolations()).toEqual([]);
    expect(cfSim.responseViolations()).toEqual([]);
  });

  it("re-running with no change is all same and writes nothing; preview agrees", async () => {
    const runner = newRunner();
    await runner.up(user(alice));
    await runner.up(platformTarget(alice));
    pveApi.reset();
    cfApi.reset();
    const preview = await runner.preview(user(alice));
    expect(preview.changeSummary).toEqual({ same: 6 });
    const again = await runner.up(user(alice));
    const platformAgain = await runner.up(platformTarget(alice));
    expect(again.changeSummary).toEqual({ same: 6 });
    expect(again.changed).toEqual([]);
    expect(platformAgain.changeSummary).toEqual({ same: 3 });
    expect(pveApi.writes()).toEqual([]);
    expect(cfApi.writes()).toEqual([]);
  });

  it("up after a preview of the same target applies what was previewed (the program runs once); another target object is evaluated again", async () => {
    const evaluated: string[] = [];
    const runner = newRunner((spec) => (evaluated.push(spec.name), Promise.resolve([])));
    const target = user(alice);
    expect((await runner.preview(target)).changeSummary).toEqual({ create: 6 });
    const first = await runner.up(target);
    expect(first.changeSummary).toEqual({ create: 6 });
    expect(evaluated).toEqual(["alice"]);
    // The kept evaluation is used once: a second up of the same object, and an up of a new object, run the program.
    expect((await runner.up(target)).changeSummary).toEqual({ same: 6 });
    expect((await runner.up(user(alice))).changeSummary).toEqual({ same: 6 });
    expect(evaluated).toEqual(["alice", "alice", "alice"]);
  });

  it("a power flip only starts or stops; preview shows the update with its diff", async () => {
    const runner = newRunner();
    await runner.up(user(alice));
    const flipped = { ...alice, instances: alice.instances.map((i) => (i.name === "dev" ? { ...i, power: "running" as const } : i)) };
    const preview = await runner.preview(user(flipped));
    expect(preview.steps.filter((s) => s.op !== "same")).toEqual([expect.objectContaining({ op: "update", name: "alice/dev/container", diffs: ["started"] })]);
    pveApi.reset();
    const r = await runner.up(user(flipped));
    expect(r.changeSummary).toEqual({ update: 1, same: 5 });
    expect(pveApi.writes()).toEqual(["start"]);
    expect((await pve.containerStatus(NODE, 2002)).status).toBe("running");
    pveApi.reset();
    await runner.up(user(alice));
    expect(pveApi.writes()).toEqual(["stop"]);
    expect((await pve.containerStatus(NODE, 2002)).status).toBe("stopped");
  });

  it("removing an instance deletes its container; removing a protected one is refused and changes nothing", async () => {
    const runner = newRunner();
    await runner.up(user(alice));
    const withoutDev = { ...alice, instances: alice.instances.filter((i) => i.name !== "dev") };
    const r = await runner.up(user(withoutDev));
    expect(r.changeSummary).toEqual({ delete: 3, same: 3 });
    expect(await containers()).toEqual([2001]);

    pveApi.reset();
    const withoutWeb = { ...withoutDev, instances: [] };
    const err = await runner.up(user(withoutWeb)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProxstackError);
    expect(err).toMatchObject({ code: "simulation.protected", kind: "stall" });
    expect((err as Error).message).toMatch(/alice\/web\/container.*protect: false/);
    expect(pveApi.writes()).toEqual([]);
    expect(await containers()).toEqual([2001]);
    await expect(runner.destroy("alice")).rejects.toMatchObject({ code: "simulation.protected" });
    expect(await containers()).toEqual([2001]);
  });

  it("a run failing mid-way converges on the next run without duplicates", async () => {
    const runner = newRunner();
    // The clone of alice/web succeeds but the runner sees an error, as after a timeout.
    pveApi.failOn("cloneContainer", 1, "after");
    await expect(runner.up(user(alice))).rejects.toMatchObject({ code: "test.injected" });
    expect(await containers()).toEqual([2001]);
    pveApi.clearFault();
    // Then a failure before the OS-template create of alice/dev.
    pveApi.failOn("createContainer", 1, "before");
    await expect(runner.up(user(alice))).rejects.toMatchObject({ code: "test.injected", message: expect.stringContaining("alice/dev/container") });
    pveApi.clearFault();
    const r = await runner.up(user(alice));
    expect(pveApi.calls.filter((c) => c === "cloneContainer")).toHaveLength(1);
    expect(await containers()).toEqual([2001, 2002]);
    expect(await pve.getConfig(NODE, 2001)).toMatchObject({ cores: 2, memory: 2048, hostname: "alice-web", protection: 1 });
    expect((await pve.listFirewallRules(NODE, 2001)).length).toBe(3);
    expect(r.changeSummary.create).toBeGreaterThan(0);
    expect((await runner.up(user(alice))).changeSummary).toEqual({ same: 6 });
  });

  it("waits while Proxmox still holds a lock on an adopted container (a clone finishing after a restart)", async () => {
    const runner = newRunner();
    pveApi.failOn("cloneContainer", 1, "after");
    await expect(runner.up(user(alice))).rejects.toBeInstanceOf(ProxstackError);
    pveApi.clearFault();
    // The next three reads of 2001 see the clone's lock, as PVE shows it while the task runs.
    let locked = 3;
    const real = pveApi.api.getContainer.bind(pveApi.api);
    pveApi.api.getContainer = async (node, vmid) => {
      const ct = await real(node, vmid);
      return ct && vmid === 2001 && locked-- > 0 ? { ...ct, config: { ...ct.config, lock: "create" } } : ct;
    };
    await runner.up(user(alice));
    expect(locked).toBeLessThan(0);
    expect(pveApi.calls.filter((c) => c === "cloneContainer")).toHaveLength(1);
    expect(await pve.getConfig(NODE, 2001)).toMatchObject({ hostname: "alice-web", cores: 2 });
  });

  it("recover() after a crash mid-apply adopts what exists, and the next run completes it without a second clone", async () => {
    const crashed = newRunner();
    pveApi.failOn("cloneContainer", 1, "after");
    await expect(crashed.up(user(alice))).rejects.toBeInstanceOf(ProxstackError);
    pveApi.clearFault();
    crashed.close();

    const restarted = newRunner();
    const cleared = await restarted.recover();
    expect(cleared).toEqual([{ stack: "alice", cleared: expect.stringMatching(/interrupted create of alice\/web\/container: the object exists, adopted/) }]);
    expect(await restarted.recover()).toEqual([]);
    const preview = await restarted.preview(user(alice));
    expect(preview.steps.find((s) => s.name === "alice/web/container")?.op).toBe("update");
    await restarted.up(user(alice));
    expect(pveApi.calls.filter((c) => c === "cloneContainer")).toHaveLength(1);
    expect(await containers()).toEqual([2001, 2002]);
    expect((await pve.containerStatus(NODE, 2001)).status).toBe("running");
  });

  it("refresh finds drift (a container stopped out of band) and the next run restores it", async () => {
    const runner = newRunner();
    await runner.up(user(alice));
    await pve.stopContainer(NODE, 2001);
    const events: RunEvent[] = [];
    const drift = await runner.refresh(user(alice), { onEvent: (e) => events.push(e) });
    expect(drift.steps.filter((s) => s.op !== "same").map((s) => [s.name, s.op])).toEqual([["alice/web/container", "update"]]);
    expect(events.some((e) => e.type === "diagnostic" && /alice\/web\/container drifted: started/.test(e.message ?? ""))).toBe(true);
    pveApi.reset();
    await runner.up(user(alice));
    expect(pveApi.writes()).toEqual(["start"]);
  });

  it("a plan upgrade and a new domain port update in place: changed config keys, disk resize, rule set replaced", async () => {
    const runner = newRunner();
    await runner.up(user(alice));
    const upgraded = {
      ...alice,
      instances: alice.instances.map((i) => (i.name === "web" ? { ...i, plan: "large", domains: [...i.domains, { subdomain: "ws", port: 9000 }] } : i)),
    };
    pveApi.reset();
    const r = await runner.up(user(upgraded));
    expect(r.changeSummary).toEqual({ update: 2, same: 4 });
    expect(pveApi.writes().sort()).toEqual([
      "addFirewallRule",
      "addFirewallRule",
      "addFirewallRule",
      "addFirewallRule",
      "deleteFirewallRule",
      "deleteFirewallRule",
      "deleteFirewallRule",
      "resizeDisk",
      "updateConfig",
    ]);
    expect(await pve.getConfig(NODE, 2001)).toMatchObject({ cores: 4, memory: 8192, swap: 2048, protection: 1 });
    expect(String((await pve.getConfig(NODE, 2001)).rootfs)).toMatch(/size=50G/);
    expect((await pve.listFirewallRules(NODE, 2001)).map((x) => x.dport)).toEqual(["80", "8080", "9000", "22"]);
    expect((await pve.containerStatus(NODE, 2001)).status).toBe("running");
  });

  it("a template change replaces the container (delete first: the VMID is fixed) and its firewall with it", async () => {
    const runner = newRunner();
    await runner.up(user(alice));
    const rebased = { ...alice, instances: alice.instances.map((i) => (i.name === "dev" ? { ...i, template: "debian-12" } : i)) };
    const preview = await runner.preview(user(rebased));
    expect(
      preview.steps
        .filter((s) => s.op !== "same")
        .map((s) => [s.name, s.op])
        .sort(),
    ).toEqual([
      ["alice/dev/container", "replace"],
      ["alice/dev/firewall-options", "replace"],
      ["alice/dev/firewall-rules", "replace"],
    ]);
    pveApi.reset();
    await runner.up(user(rebased));
    const writes = pveApi.writes();
    expect(writes.indexOf("destroy")).toBeGreaterThanOrEqual(0);
    expect(writes.indexOf("destroy")).toBeLessThan(writes.indexOf("cloneContainer"));
    expect(await containers()).toEqual([2001, 2002]);
    expect(await pve.getFirewallOptions(NODE, 2002)).toMatchObject({ enable: 1, policy_in: "DROP" });
    expect((await runner.up(user(rebased))).changeSummary).toEqual({ same: 6 });
  });

  it("the platform stack drops a user's routes: DNS record deleted, ingress rewritten with the catch-all still last", async () => {
    const runner = newRunner();
    await runner.up(platformTarget(alice, bob));
    cfApi.reset();
    const r = await runner.up(platformTarget(alice));
    expect(r.changeSummary).toEqual({ update: 1, delete: 1, same: 2 });
    expect(cfApi.writes().sort()).toEqual(["deleteDnsRecord", "putTunnelIngress"]);
    const ingress = (await cf.getTunnelConfig(platform.cloudflare.accountId, platform.cloudflare.tunnelId)).config?.ingress ?? [];
    expect(ingress.map((x) => x.hostname ?? x.service)).toEqual(["alice-web-api.example.com", "alice-web-www.example.com", "http_status:404"]);
    expect((await cf.listDnsRecords(platform.cloudflare.zoneId)).map((d) => d.name).sort()).toEqual(["alice-web-api.example.com", "alice-web-www.example.com"]);
  });

  it("a cancelled run stops before its next step and says so", async () => {
    const runner = newRunner();
    const ac = new AbortController();
    const events: RunEvent[] = [];
    const run = runner.up(user(alice), {
      signal: ac.signal,
      onEvent: (e) => {
        events.push(e);
        if (e.type === "resource-outputs") ac.abort();
      },
    });
    await expect(run).rejects.toMatchObject({ code: "simulation.cancelled", kind: "retry" });
    expect(events.filter((e) => e.type === "resource-outputs")).toHaveLength(1);
    expect(events.some((e) => e.type === "cancel")).toBe(true);
    expect((await runner.up(user(alice))).changeSummary).toEqual({ same: 1, create: 5 });
  });

  it("refresh finds a DNS record changed out of band and a deleted one; the next run updates and recreates them", async () => {
    const runner = newRunner();
    await runner.up(platformTarget(alice));
    const records = await cf.listDnsRecords(platform.cloudflare.zoneId);
    const api = records.find((r) => r.name === "alice-web-api.example.com");
    const www = records.find((r) => r.name === "alice-web-www.example.com");
    if (!api || !www) throw new Error("records missing after apply");
    await cf.updateDnsRecord(platform.cloudflare.zoneId, api.id, { type: "CNAME", name: api.name, content: "elsewhere.example.net", proxied: true, ttl: 1 });
    await cf.deleteDnsRecord(platform.cloudflare.zoneId, www.id);
    const drift = await runner.refresh(platformTarget(alice));
    expect(
      drift.steps
        .filter((s) => s.op !== "same")
        .map((s) => [s.name, s.op])
        .sort(),
    ).toEqual([
      ["dns/alice-web-api.example.com", "update"],
      ["dns/alice-web-www.example.com", "create"],
    ]);
    cfApi.reset();
    await runner.up(platformTarget(alice));
    expect(cfApi.writes().sort()).toEqual(["createDnsRecord", "updateDnsRecord"]);
    const after = await cf.listDnsRecords(platform.cloudflare.zoneId);
    expect(after.map((r) => [r.name, r.content]).sort()).toEqual([
      ["alice-web-api.example.com", `${platform.cloudflare.tunnelId}.cfargotunnel.com`],
      ["alice-web-www.example.com", `${platform.cloudflare.tunnelId}.cfargotunnel.com`],
    ]);
  });

  it("destroy removes an unprotected stack's containers", async () => {
    const runner = newRunner();
    await runner.up(user(bob));
    const r = await runner.destroy("bob");
    expect(r.changeSummary).toEqual({ delete: 3 });
    expect(await containers()).toEqual([]);
    expect((await runner.destroy("bob")).changeSummary).toEqual({});
  });
});
