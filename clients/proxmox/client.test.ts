// Proxmox client against the simulator over real HTTP, for PVE 9.1 and 8.4: lifecycle, bad input, faults, durability, conformance.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { rejection as caught } from "../../sim/rejection.js";
import type { ContainerBacking } from "../../sim/backing.js";
import { createPveConformance, type PveConformance } from "../../sim/proxmox/conformance.js";
import type { PveVersion } from "../../sim/proxmox/schema.js";
import { startProxmoxSimulator, type ProxmoxSimulator, type ProxmoxSimulatorOptions } from "../../sim/proxmox/server.js";
import { createProxmoxClient, PveTaskError, type ProxmoxClient } from "./client.js";

const NODE = "pve1";
const OSTEMPLATE = "local:vztmpl/ubuntu-24.04-standard_24.04-2_amd64.tar.zst";

async function until<T>(fn: () => Promise<T | undefined>, what: string, tries = 100): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const v = await fn();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

for (const version of ["9.1", "8.4"] as PveVersion[]) {
  describe(`Proxmox client ↔ simulator (PVE ${version})`, () => {
    let dir: string;
    let sim: ProxmoxSimulator;
    let client: ProxmoxClient;
    let conformance: PveConformance;
    let allowed: RegExp[];
    const options = (extra: Partial<ProxmoxSimulatorOptions> = {}): ProxmoxSimulatorOptions => ({
      dbPath: path.join(dir, "pve.db"),
      nodes: [NODE],
      schemaVersion: version,
      templates: [{ vmid: 9000 }],
      osTemplates: [OSTEMPLATE],
      taskDelayMs: 20,
      authFailureDelayMs: 0,
      ...extra,
    });
    const connect = (s: ProxmoxSimulator, extra: Partial<Parameters<typeof createProxmoxClient>[0]> = {}) =>
      createProxmoxClient({ endpoint: s.url, token: s.token, taskPollMs: 10, retry: { baseDelayMs: 1 }, onRequest: (r) => conformance.onRequest(r), ...extra });

    beforeEach(async () => {
      dir = mkdtempSync(path.join(tmpdir(), "pve-client-"));
      conformance = createPveConformance(version);
      allowed = [];
      sim = await startProxmoxSimulator(options());
      client = connect(sim);
    });
    afterEach(async () => {
      await sim.close();
      rmSync(dir, { recursive: true, force: true });
      // Only the requests a test sent wrong on purpose may fail the schema check.
      expect(conformance.problems().filter((p) => !allowed.some((a) => a.test(p)))).toEqual([]);
    });
    const noViolations = () => expect(sim.responseViolations()).toEqual([]);

    it("clones, configures, starts, observes, snapshots, backs up, firewalls, stops and deletes a container", async () => {
      expect((await client.version()).release).toBe(version);
      expect((await client.nodes()).map((n) => n.node)).toEqual([NODE]);
      const vmid = await client.nextId();
      expect(vmid).toBe(100);
      expect(await client.isVmidFree(9000)).toBe(false);

      const clone = await client.cloneContainer(NODE, 9000, { newid: 2001, hostname: "alice-web", full: true });
      expect(clone.upid).toMatch(/^UPID:pve1:[0-9A-F]{8}:[0-9A-F]{8}:[0-9A-F]{8}:vzclone:9000:proxstack@pve!sim:$/);
      expect(clone.log.at(-1)).toBe("TASK OK");
      await client.updateConfig(NODE, 2001, { cores: 2, memory: 1024, net0: "name=eth0,bridge=vmbr0,ip=10.10.0.21/24,gw=10.10.0.1", onboot: true });
      const config = await client.getConfig(NODE, 2001);
      expect(config).toMatchObject({ hostname: "alice-web", cores: 2, memory: 1024, onboot: 1 });
      expect(String(config.net0)).toContain("ip=10.10.0.21/24");
      expect(String(config.net0)).toMatch(/hwaddr=[0-9A-F:]{17}/);
      expect(typeof config.digest).toBe("string");

      const started = await client.startContainer(NODE, 2001);
      expect(started.log.join("\n")).toMatch(/no services/);
      const status = await client.containerStatus(NODE, 2001);
      expect(status).toMatchObject({ vmid: 2001, status: "running", maxmem: 1024 * 1024 * 1024, cpus: 2 });
      expect("pressurecpusome" in status).toBe(version === "9.1");
      const ifaces = await client.interfaces(NODE, 2001);
      expect(ifaces.find((i) => i.name === "eth0")?.inet).toBe("10.10.0.21/24");
      const first = status.netin ?? 0;
      await until(async () => (((await client.containerStatus(NODE, 2001)).netin ?? 0) !== first ? true : undefined), "netin to change");
      const rrd = await client.rrddata(NODE, 2001, "hour");
      expect(rrd.length).toBeGreaterThan(0);
      expect(rrd.every((p) => typeof p.time === "number" && typeof p.cpu === "number")).toBe(true);

      await client.createSnapshot(NODE, 2001, "before_upgrade", "pre-upgrade");
      await client.updateConfig(NODE, 2001, { memory: 2048 });
      const snaps = await client.listSnapshots(NODE, 2001);
      expect(snaps.map((s) => s.name)).toEqual(["before_upgrade", "current"]);
      expect(snaps.find((s) => s.name === "current")?.parent).toBe("before_upgrade");
      await client.rollbackSnapshot(NODE, 2001, "before_upgrade", { start: true });
      expect((await client.getConfig(NODE, 2001)).memory).toBe(1024);
      expect((await client.containerStatus(NODE, 2001)).status).toBe("running");
      await client.deleteSnapshot(NODE, 2001, "before_upgrade");
      expect((await client.listSnapshots(NODE, 2001)).map((s) => s.name)).toEqual(["current"]);

      const backup = await client.backup(NODE, 2001, { storage: "local" });
      expect(backup.archive).toMatch(/^\/var\/lib\/vz\/dump\/vzdump-lxc-2001-\d{4}_\d\d_\d\d-\d\d_\d\d_\d\d\.tar\.zst$/);
      const backups = await client.listBackups(NODE, 2001);
      expect(backups.map((b) => b.archive)).toEqual([backup.archive]);
      const volid = `local:backup/${backup.archive?.split("/").at(-1) ?? ""}`;
      expect((await client.deleteVolume(NODE, "local", volid)).exitstatus).toBe("OK");
      expect(await client.listBackups(NODE, 2001)).toEqual([]);
      await expect(client.deleteVolume(NODE, "local", volid)).rejects.toThrow(`volume '${volid}' does not exist`);

      await client.setFirewallOptions(NODE, 2001, { enable: true, policy_in: "DROP" });
      expect(await client.getFirewallOptions(NODE, 2001)).toMatchObject({ enable: 1, policy_in: "DROP" });
      await client.createFirewallRule(NODE, 2001, {
        type: "in",
        action: "ACCEPT",
        proto: "tcp",
        dport: "22",
        source: "10.10.0.2",
        enable: true,
        comment: "engine ssh",
      });
      await client.createFirewallRule(NODE, 2001, { type: "in", action: "ACCEPT", proto: "tcp", dport: "80", enable: true }, 1);
      let rules = await client.listFirewallRules(NODE, 2001);
      expect(rules.map((r) => [r.pos, r.dport])).toEqual([
        [0, "22"],
        [1, "80"],
      ]);
      await client.updateFirewallRule(NODE, 2001, 1, { dport: "8080", delete: ["comment"] });
      await client.deleteFirewallRule(NODE, 2001, 0);
      rules = await client.listFirewallRules(NODE, 2001);
      expect(rules).toEqual([expect.objectContaining({ pos: 0, dport: "8080", enable: 1 })]);

      const resources = await client.clusterResources("vm");
      expect(resources.find((r) => r.vmid === 2001)).toMatchObject({ type: "lxc", status: "running", node: NODE });

      await client.rebootContainer(NODE, 2001);
      await client.shutdownContainer(NODE, 2001, { timeout: 30 });
      expect((await client.containerStatus(NODE, 2001)).status).toBe("stopped");
      await client.deleteContainer(NODE, 2001, { purge: true });
      expect((await client.listContainers(NODE)).map((c) => c.vmid)).toEqual([9000]);
      noViolations();
    });

    it("creates from an OS template and starts it, as the Pulumi provider does", async () => {
      await client.createContainer(NODE, {
        vmid: 2002,
        ostemplate: OSTEMPLATE,
        hostname: "bob-db",
        cores: 1,
        memory: 512,
        swap: 512,
        rootfs: "local-lvm:8",
        net0: "name=eth0,bridge=vmbr0,ip=10.10.0.22/24,gw=10.10.0.1",
        unprivileged: true,
        features: "nesting=1",
        start: true,
        "ssh-public-keys": "ssh-ed25519 AAAAC3Nza test",
        password: "not-stored",
      });
      const cfg = await client.getConfig(NODE, 2002);
      expect(cfg).toMatchObject({ hostname: "bob-db", unprivileged: 1, ostype: "ubuntu", rootfs: "local-lvm:vm-2002-disk-0,size=8G" });
      expect(cfg).not.toHaveProperty("password");
      expect((await client.containerStatus(NODE, 2002)).status).toBe("running");
      await client.stopContainer(NODE, 2002);
      await client.resizeDisk(NODE, 2002, "rootfs", "+2G");
      expect((await client.getConfig(NODE, 2002)).rootfs).toBe("local-lvm:vm-2002-disk-0,size=10G");
      noViolations();
    });

    it("sends 9.1-only parameters only where the schema has them", async () => {
      const create = client.createContainer(NODE, { vmid: 2003, ostemplate: OSTEMPLATE, entrypoint: "/sbin/init" });
      if (version === "9.1") {
        await create;
      } else {
        const err = await caught(create);
        expect(err.code).toBe("pve.param");
        expect(err.fields?.entrypoint).toBe("property is not defined in schema and the schema does not allow additional properties");
        allowed.push(/entrypoint: property is not defined/); // the rejected request was sent on purpose
      }
    });

    it("accepts vzdump's notification-policy only where the schema has it (8.4)", async () => {
      await client.cloneContainer(NODE, 9000, { newid: 2004 });
      const backup = client.request<string>("POST", "/nodes/pve1/vzdump", { vmid: "2004", storage: "local", "notification-policy": "never" });
      if (version === "8.4") {
        expect((await client.waitForTask(NODE, await backup)).exitstatus).toBe("OK");
      } else {
        expect((await caught(backup)).fields?.["notification-policy"]).toBe(
          "property is not defined in schema and the schema does not allow additional properties",
        );
        allowed.push(/notification-policy: property is not defined/);
      }
    });

    describe("bad input: the caller gets a typed error with the API's message", () => {
      it("wrong token → pve.auth", async () => {
        const bad = createProxmoxClient({ endpoint: sim.url, token: "proxstack@pve!sim=00000000-0000-0000-0000-000000000000" });
        const err = await caught(bad.version());
        expect(err).toMatchObject({ code: "pve.auth", kind: "stall", status: 401 });
        expect(err.message).toContain("Authentication failed!");
      });
      it("unknown vmid and unknown node → pve.not-found", async () => {
        const e1 = await caught(client.getConfig(NODE, 4242));
        expect(e1.code).toBe("pve.not-found");
        expect(e1.message).toContain("Configuration file 'nodes/pve1/lxc/4242.conf' does not exist");
        const e2 = await caught(client.listContainers("pve9"));
        expect(e2.code).toBe("pve.not-found");
        expect(e2.message).toContain("no such cluster node 'pve9'");
      });
      it("malformed property string → pve.param with the field's message", async () => {
        await client.cloneContainer(NODE, 9000, { newid: 2010 });
        const err = await caught(client.updateConfig(NODE, 2010, { net0: "name=eth0,bridge=vmbr0,ip=10.10.0.300/24" }));
        expect(err).toMatchObject({ code: "pve.param", status: 400 });
        expect(err.fields?.net0).toMatch(/net0\.ip: invalid format - value does not look like a valid IPv4 network configuration/);
        allowed.push(/net0: invalid format/);
      });
      it("duplicate vmid on clone and create → pve.conflict", async () => {
        await client.cloneContainer(NODE, 9000, { newid: 2011 });
        const e1 = await caught(client.cloneContainer(NODE, 9000, { newid: 2011 }));
        expect(e1.code).toBe("pve.conflict");
        expect(e1.message).toContain("CT 2011 already exists on node 'pve1'");
        const e2 = await caught(client.createContainer(NODE, { vmid: 9000, ostemplate: OSTEMPLATE }));
        expect(e2.code).toBe("pve.conflict");
      });
      it("snapshot name rules → pve.param / pve.refused / failed task with log", async () => {
        await client.cloneContainer(NODE, 9000, { newid: 2012 });
        const e1 = await caught(client.createSnapshot(NODE, 2012, "1-bad name"));
        expect(e1.fields?.snapname).toBe("invalid format - invalid configuration ID '1-bad name'");
        allowed.push(/snapname: invalid format/);
        const e2 = await caught(client.createSnapshot(NODE, 2012, "current"));
        expect(e2).toMatchObject({ code: "pve.refused" });
        expect(e2.message).toContain("unable to use snapshot name 'current' (reserved name)");
        await client.createSnapshot(NODE, 2012, "daily");
        const e3 = await caught(client.createSnapshot(NODE, 2012, "daily"));
        expect(e3).toBeInstanceOf(PveTaskError);
        expect((e3 as PveTaskError).log.at(-1)).toBe("TASK ERROR: snapshot name 'daily' already used");
        const e4 = await caught(client.rollbackSnapshot(NODE, 2012, "nope"));
        expect(e4.code).toBe("pve.task-failed");
        expect(e4.message).toContain("snapshot 'nope' does not exist");
      });
      it("refusals of the current state → pve.refused", async () => {
        const e1 = await caught(client.startContainer(NODE, 9000));
        expect(e1.message).toContain("you can't start a CT if it's a template");
        await client.cloneContainer(NODE, 9000, { newid: 2013 });
        const e2 = await caught(client.stopContainer(NODE, 2013));
        expect(e2).toMatchObject({ code: "pve.refused" });
        expect(e2.message).toContain("CT 2013 not running");
      });
    });

    describe("faults", () => {
      it("retries lock timeouts with backoff and then succeeds", async () => {
        await client.cloneContainer(NODE, 9000, { newid: 2020 });
        sim.setFaults({ lockTimeouts: 2 });
        const before = conformance.seen().length;
        await client.updateConfig(NODE, 2020, { memory: 768 });
        expect(conformance.seen().slice(before)).toEqual(Array(3).fill("PUT /nodes/pve1/lxc/2020/config"));
        expect((await client.getConfig(NODE, 2020)).memory).toBe(768);
      });
      it("gives up on persistent lock timeouts with pve.lock-timeout (retry kind)", async () => {
        await client.cloneContainer(NODE, 9000, { newid: 2021 });
        sim.setFaults({ lockTimeoutRate: 1 });
        const err = await caught(client.startContainer(NODE, 2021));
        expect(err).toMatchObject({ code: "pve.lock-timeout", kind: "retry" });
        expect(err.message).toContain("can't lock file '/run/lock/lxc/pve-config-2021.lock' - got timeout");
      });
      it("injected 500s surface as pve.server after the retries", async () => {
        sim.setFaults({ errorRate: 1 });
        const err = await caught(client.nodes());
        expect(err).toMatchObject({ code: "pve.server", kind: "retry", status: 500 });
      });
      it("a stuck task times out; a failing task carries its log and leaves no half-made container or lock", async () => {
        await client.cloneContainer(NODE, 9000, { newid: 2022 });
        sim.setFaults({ stuckTasks: true });
        const quick = connect(sim, { taskTimeoutMs: 100 });
        const err = await caught(quick.startContainer(NODE, 2022));
        expect(err).toMatchObject({ code: "pve.task-timeout", kind: "retry" });
        sim.setFaults({ failTasks: "storage 'local-lvm' is full" });
        const clone = await caught(client.cloneContainer(NODE, 9000, { newid: 2023 }));
        expect(clone).toBeInstanceOf(PveTaskError);
        expect((clone as PveTaskError).log).toContain("TASK ERROR: storage 'local-lvm' is full");
        expect(await client.isVmidFree(2023)).toBe(true);
        expect((await caught(client.createSnapshot(NODE, 2022, "nightly"))).code).toBe("pve.task-failed");
        sim.setFaults({});
        expect((await client.getConfig(NODE, 2022)).lock).toBeUndefined();
        await client.cloneContainer(NODE, 9000, { newid: 2023 });
      });
      it("added latency still answers", async () => {
        sim.setFaults({ latencyMs: 30 });
        expect((await client.version()).release).toBe(version);
      });
    });

    it("keeps containers, snapshots and tasks across a restart, and finishes tasks left running", async () => {
      await client.cloneContainer(NODE, 9000, { newid: 2030, hostname: "durable" });
      await client.createSnapshot(NODE, 2030, "keep");
      const upid = await client.request<string>("POST", "/nodes/pve1/lxc/2030/status/start");
      await sim.close();
      sim = await startProxmoxSimulator(options({ token: sim.token }));
      client = connect(sim);
      expect((await client.getConfig(NODE, 2030)).hostname).toBe("durable");
      expect((await client.listSnapshots(NODE, 2030)).map((s) => s.name)).toContain("keep");
      const done = await client.waitForTask(NODE, upid);
      expect(done.exitstatus).toBe("OK");
      expect((await client.containerStatus(NODE, 2030)).status).toBe("running");
    });

    it("fails the start task and keeps the container stopped when its backing cannot start", async () => {
      await sim.close();
      const backing: ContainerBacking = {
        start: async () => {
          throw new Error("netns: no free veth pair");
        },
        stop: async () => undefined,
        destroy: async () => undefined,
      };
      sim = await startProxmoxSimulator(options({ backing }));
      client = connect(sim);
      await client.cloneContainer(NODE, 9000, { newid: 2041 });
      await client.updateConfig(NODE, 2041, { net0: "name=eth0,bridge=vmbr0,ip=10.10.0.41/24" });
      const err = await caught(client.startContainer(NODE, 2041));
      expect((err as PveTaskError).log.at(-1)).toBe("TASK ERROR: netns: no free veth pair");
      expect((await client.containerStatus(NODE, 2041)).status).toBe("stopped");
    });

    it("calls the container backing on start, stop and delete, and around a simulator restart", async () => {
      await sim.close();
      const calls: string[] = [];
      const backing: ContainerBacking = {
        start: async (c) => void calls.push(`start ${c.vmid} ${c.ip} ${c.hostname}`),
        stop: async (v) => void calls.push(`stop ${v}`),
        destroy: async (v) => void calls.push(`destroy ${v}`),
      };
      sim = await startProxmoxSimulator(options({ backing }));
      client = connect(sim);
      await client.cloneContainer(NODE, 9000, { newid: 2040, hostname: "backed" });
      await client.updateConfig(NODE, 2040, { net0: "name=eth0,bridge=vmbr0,ip=10.10.0.40/24" });
      const started = await client.startContainer(NODE, 2040);
      expect(started.log.join("\n")).toContain("backed by a test host at 10.10.0.40");
      await sim.close();
      sim = await startProxmoxSimulator(options({ backing, token: sim.token }));
      client = connect(sim);
      await client.stopContainer(NODE, 2040);
      await client.deleteContainer(NODE, 2040);
      expect(calls).toEqual(["start 2040 10.10.0.40 backed", "stop 2040", "start 2040 10.10.0.40 backed", "stop 2040", "destroy 2040"]);
    });
  });
}
