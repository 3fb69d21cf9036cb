import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { silentLogger } from "../lib/logger.js";
import type { PlatformSpec, UserStackSpec } from "../schemas/index.js";
import { createVpnClient } from "../vpn/client.js";
import { createMemoryDevice, createMemoryFirewall, type MemoryDevice, type MemoryFirewall } from "../vpn/testing/memory-device.js";
import { startVpnService, type VpnServer } from "../vpn/server.js";
import type { AppliedInstance, HookContext } from "./hook.js";
import { createVpnPeerHook } from "./vpn-peer.js";

const TOKEN = "hook-test-token-0123456789";

const instance = (name: string, ip: string): AppliedInstance => ({ name, vmid: 2001, ip, power: "running", changed: true });

function ctx(stack: string, instances: AppliedInstance[]): HookContext {
  return {
    stack,
    spec: { name: stack } as UserStackSpec,
    platform: {} as PlatformSpec,
    instances,
    signal: new AbortController().signal,
    log: silentLogger(),
  };
}

describe("vpn-peer hook (against the real service in-process, in-memory device and firewall)", () => {
  let dir: string;
  let server: VpnServer;
  let device: MemoryDevice;
  let firewall: MemoryFirewall;

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "pxs-vpnhook-"));
    device = createMemoryDevice();
    firewall = createMemoryFirewall();
    server = await startVpnService({
      dataDir: dir,
      token: TOKEN,
      endpoint: "vpn.example.test:51820",
      pool: "10.10.0.0/24",
      device,
      firewall,
      log: silentLogger(),
    });
  });
  afterEach(async () => {
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("converges the owner's peer on exactly the current container addresses, idempotently, and removes it with no containers", async () => {
    const vpn = createVpnClient({ url: server.url, token: TOKEN });
    const hook = createVpnPeerHook({ vpn });
    expect(hook.type).toBe("vpn-peer");
    expect(hook.params.safeParse({}).success).toBe(true);
    expect(hook.params.safeParse({ extra: 1 }).success).toBe(false);

    const first = await hook.run(ctx("alice", [instance("web", "10.10.0.21"), instance("db", "10.10.0.22")]), {});
    expect(first.changed).toBe(true);
    expect(first.output).not.toMatch(/PrivateKey|privateKey/);
    expect((await vpn.getPeer("alice"))?.targets).toEqual(["10.10.0.21", "10.10.0.22"]);
    const key = (await vpn.getPeer("alice"))?.publicKey;

    const again = await hook.run(ctx("alice", [instance("db", "10.10.0.22"), instance("web", "10.10.0.21")]), {});
    expect(again.changed).toBe(false);
    const syncs = device.syncs;

    const shrink = await hook.run(ctx("alice", [instance("web", "10.10.0.21")]), {});
    expect(shrink.changed).toBe(true);
    expect(device.syncs).toBe(syncs + 1);
    expect((await vpn.getPeer("alice"))?.publicKey).toBe(key);
    expect([...firewall.pairs]).toEqual(["10.99.0.2 . 10.10.0.21"]);

    const gone = await hook.run(ctx("alice", []), {});
    expect(gone.changed).toBe(true);
    expect(await vpn.getPeer("alice")).toBeUndefined();
    expect(device.peers.size).toBe(0);
    expect((await hook.run(ctx("alice", []), {})).changed).toBe(false);
  });

  it("fails with the service's code when a container address is outside the pool, leaving the old peer", async () => {
    const vpn = createVpnClient({ url: server.url, token: TOKEN });
    const hook = createVpnPeerHook({ vpn });
    await hook.run(ctx("bob", [instance("web", "10.10.0.30")]), {});
    await expect(hook.run(ctx("bob", [instance("web", "192.168.7.7")]), {})).rejects.toMatchObject({ code: "target-outside-pool", kind: "stall" });
    expect((await vpn.getPeer("bob"))?.targets).toEqual(["10.10.0.30"]);
  });

  it("removes the owner's peer once its stack is destroyed, freeing its addresses for the next tenant", async () => {
    const vpn = createVpnClient({ url: server.url, token: TOKEN });
    const hook = createVpnPeerHook({ vpn });
    await hook.run(ctx("alice", [instance("web", "10.10.0.21")]), {});
    // While alice's peer holds the address, another tenant's peer cannot reach it.
    await expect(hook.run(ctx("bob", [instance("web", "10.10.0.21")]), {})).rejects.toMatchObject({ code: "target-in-use", kind: "stall" });
    const done = { stack: "alice", signal: new AbortController().signal, log: silentLogger() };
    expect(await hook.destroyed!(done)).toEqual({ changed: true, output: "removed the VPN peer of alice (stack destroyed)" });
    expect(await vpn.getPeer("alice")).toBeUndefined();
    expect([...firewall.pairs]).toEqual([]);
    expect(await hook.destroyed!(done)).toEqual({ changed: false, output: "alice had no VPN peer" });
    expect((await hook.run(ctx("bob", [instance("web", "10.10.0.21")]), {})).changed).toBe(true);
  });

  it("reports an unreachable service as retryable", async () => {
    const hook = createVpnPeerHook({ vpn: createVpnClient({ url: "http://127.0.0.1:1", token: TOKEN }) });
    await expect(hook.run(ctx("carol", [instance("web", "10.10.0.40")]), {})).rejects.toMatchObject({ code: "vpn-unreachable", kind: "retry" });
  });
});
