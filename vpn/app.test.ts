import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ProxstackError } from "../lib/errors.js";
import { silentLogger } from "../lib/logger.js";
import { manualClock } from "../lib/clock.js";
import { createVpnClient, type VpnClient } from "./client.js";
import { generateKeyPair, publicKeyOf } from "./keys.js";
import { createMemoryDevice, createMemoryFirewall, type MemoryDevice, type MemoryFirewall } from "./testing/memory-device.js";
import { startVpnService, type VpnServer, type VpnServiceOptions } from "./server.js";

const TOKEN = "test-token-0123456789abcdef";

describe("VPN service API (in-process, real SQLite and HTTP, in-memory device and firewall)", () => {
  let dir: string;
  let server: VpnServer | undefined;
  let device: MemoryDevice;
  let firewall: MemoryFirewall;
  let vpn: VpnClient;

  async function start(extra: Partial<VpnServiceOptions> = {}) {
    server = await startVpnService({
      dataDir: dir,
      token: TOKEN,
      endpoint: "vpn.example.test:51820",
      subnet: "10.99.0.0/24",
      pool: "10.10.0.0/24",
      dns: ["10.10.0.1"],
      device,
      firewall,
      log: silentLogger(),
      clock: manualClock(new Date("2026-11-25T12:00:00Z")),
      ...extra,
    });
    vpn = createVpnClient({ url: server.url, token: TOKEN });
    return server;
  }

  const raw = (p: string, init: RequestInit = {}) => fetch(server!.url + p, init);
  const authed = (p: string, init: RequestInit = {}) =>
    raw(p, {
      ...init,
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json", ...(init.headers as Record<string, string> | undefined) },
    });

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "pxs-vpn-"));
    device = createMemoryDevice();
    firewall = createMemoryFirewall();
    await start();
  });
  afterEach(async () => {
    await server?.close();
    server = undefined;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("creates a peer with a generated key, a stable address and a config allowing exactly the server and the containers", async () => {
    const p = await vpn.putPeer("alice", { targets: ["10.10.0.22", "10.10.0.21"] });
    expect(p.address).toBe("10.99.0.2/32");
    expect(p.privateKey).toBeDefined();
    expect(publicKeyOf(p.privateKey!)).toBe(p.publicKey);
    expect(p.targets).toEqual(["10.10.0.21", "10.10.0.22"]);
    const health = (await (await raw("/healthz")).json()) as { publicKey: string };
    expect(p.config).toContain(`PrivateKey = ${p.privateKey}`);
    expect(p.config).toContain("Address = 10.99.0.2/32");
    expect(p.config).toContain("DNS = 10.10.0.1");
    expect(p.config).toContain(`PublicKey = ${health.publicKey}`);
    expect(p.config).toContain("Endpoint = vpn.example.test:51820");
    expect(p.config).toMatch(/^AllowedIPs = 10\.99\.0\.1\/32, 10\.10\.0\.21\/32, 10\.10\.0\.22\/32$/m);
    expect(p.config).toMatch(/^PersistentKeepalive = 25$/m);
    expect(device.peers.get(p.publicKey)).toBe("10.99.0.2");
    expect([...firewall.pairs].sort()).toEqual(["10.99.0.2 . 10.10.0.21", "10.99.0.2 . 10.10.0.22"]);

    // Updating keeps address and key and never returns a private key again.
    const again = await vpn.putPeer("alice", { targets: ["10.10.0.21"] });
    expect(again.address).toBe(p.address);
    expect(again.publicKey).toBe(p.publicKey);
    expect(again.privateKey).toBeUndefined();
    expect(again.config).not.toMatch(/^PrivateKey/m);
    expect([...firewall.pairs]).toEqual(["10.99.0.2 . 10.10.0.21"]);

    const bob = await vpn.putPeer("bob", { targets: ["10.10.0.30"] });
    expect(bob.address).toBe("10.99.0.3/32");
    expect((await vpn.listPeers()).map((x) => x.owner)).toEqual(["alice", "bob"]);
    expect((await vpn.getPeer("alice"))?.targets).toEqual(["10.10.0.21"]);
  });

  it("uses a client-supplied key and never stores a private key anywhere in the data dir", async () => {
    const own = generateKeyPair();
    const p = await vpn.putPeer("carol", { targets: ["10.10.0.40"], publicKey: own.publicKey });
    expect(p.publicKey).toBe(own.publicKey);
    expect(p.privateKey).toBeUndefined();
    expect(p.config).not.toMatch(/^PrivateKey/m);
    const gen = await vpn.putPeer("dave", { targets: ["10.10.0.41"] });
    const rotated = await vpn.rotateKey("carol");
    expect(rotated.publicKey).not.toBe(own.publicKey);
    expect(rotated.address).toBe(p.address);
    expect(device.peers.has(own.publicKey)).toBe(false);
    expect(device.peers.get(rotated.publicKey)).toBe("10.99.0.2");
    await server!.close();
    server = undefined;
    const secrets = [gen.privateKey!, rotated.privateKey!, own.privateKey];
    for (const f of fs.readdirSync(dir)) {
      const bytes = fs.readFileSync(path.join(dir, f)).toString("latin1");
      for (const s of secrets) expect(bytes.includes(s), `${f} holds a client private key`).toBe(false);
    }
    expect(fs.statSync(path.join(dir, "server.key")).mode & 0o777).toBe(0o600);
  });

  it("refuses bad input with 4xx envelopes and leaves no partial peer", async () => {
    await vpn.putPeer("alice", { targets: ["10.10.0.21"] });
    const before = { peers: new Map(device.peers), pairs: new Set(firewall.pairs), list: await vpn.listPeers() };

    const badKey = await authed("/peers/bob", { method: "PUT", body: JSON.stringify({ targets: ["10.10.0.30"], publicKey: "not-a-key" }) });
    expect(badKey.status).toBe(400);
    const badKeyBody = (await badKey.json()) as { error: { code: string; fields: Record<string, string> } };
    expect(badKeyBody.error.code).toBe("invalid-request");
    expect(badKeyBody.error.fields.publicKey).toMatch(/WireGuard public key/);

    for (const owner of ["..%2Fetc", "a.b", "Alice", "a%20b", "-x"]) {
      const r = await authed(`/peers/${owner}`, { method: "PUT", body: JSON.stringify({ targets: ["10.10.0.30"] }) });
      expect(r.status, owner).toBe(400);
      expect(((await r.json()) as { error: { fields: Record<string, string> } }).error.fields.owner).toMatch(/stack name/);
    }

    const outside = await vpn.putPeer("bob", { targets: ["10.10.0.30", "192.168.1.5"] }).catch((e: unknown) => e);
    expect(outside).toBeInstanceOf(ProxstackError);
    expect((outside as ProxstackError).code).toBe("target-outside-pool");
    expect((outside as ProxstackError).status).toBe(422);
    expect((outside as ProxstackError).fields?.["targets.1"]).toMatch(/outside the container pool 10\.10\.0\.0\/24/);

    const notIp = await authed("/peers/bob", { method: "PUT", body: JSON.stringify({ targets: ["10.10.0.300"] }) });
    expect(notIp.status).toBe(400);
    const notJson = await authed("/peers/bob", { method: "PUT", body: "{nope" });
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as { error: { code: string } }).error.code).toBe("invalid-request");
    const extra = await authed("/peers/bob", { method: "PUT", body: JSON.stringify({ targets: [], privateKey: "x" }) });
    expect(extra.status).toBe(400);

    const alice = (await vpn.getPeer("alice"))!;
    const dup = await vpn.putPeer("bob", { targets: ["10.10.0.30"], publicKey: alice.publicKey }).catch((e: unknown) => e);
    expect((dup as ProxstackError).code).toBe("public-key-in-use");

    expect(await vpn.listPeers()).toEqual(before.list);
    expect(device.peers).toEqual(before.peers);
    expect(firewall.pairs).toEqual(before.pairs);
  });

  it("refuses a wrong or missing token with 401 and serves /healthz without one", async () => {
    expect((await raw("/peers")).status).toBe(401);
    const wrong = await raw("/peers", { headers: { authorization: "Bearer wrong-token-0123456789" } });
    expect(wrong.status).toBe(401);
    expect(((await wrong.json()) as { error: { code: string } }).error.code).toBe("unauthorized");
    expect((await raw("/peers", { headers: { authorization: TOKEN } })).status).toBe(401);
    const bad = createVpnClient({ url: server!.url, token: "nope-nope-nope-nope" });
    await expect(bad.putPeer("alice", { targets: [] })).rejects.toMatchObject({ code: "unauthorized", status: 401 });
    expect(device.peers.size).toBe(0);
    const h = await raw("/healthz");
    expect(h.status).toBe(200);
    expect(await h.json()).toMatchObject({ ok: true, peers: 0 });
    expect((await authed("/nothing")).status).toBe(404);
  });

  it("refuses targets inside the VPN subnet even without a configured pool", async () => {
    await server!.close();
    await start({ pool: undefined });
    expect((await vpn.putPeer("alice", { targets: ["192.168.1.5"] })).targets).toEqual(["192.168.1.5"]);
    await expect(vpn.putPeer("bob", { targets: ["10.99.0.2"] })).rejects.toMatchObject({
      code: "target-outside-pool",
      fields: { "targets.0": expect.stringMatching(/inside the VPN subnet/) as unknown },
    });
  });

  it("answers 409 when the subnet is full, without a partial peer", async () => {
    await server!.close();
    fs.rmSync(dir, { recursive: true, force: true });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "pxs-vpn-"));
    await start({ subnet: "10.99.0.0/30" });
    expect((await vpn.putPeer("alice", { targets: [] })).address).toBe("10.99.0.2/32");
    await expect(vpn.putPeer("bob", { targets: ["10.10.0.30"] })).rejects.toMatchObject({ code: "subnet-full", status: 409 });
    expect((await vpn.listPeers()).map((p) => p.owner)).toEqual(["alice"]);
    expect(device.peers.size).toBe(1);
    // Removing a peer frees its address for the next owner.
    expect(await vpn.deletePeer("alice")).toBe(true);
    expect((await vpn.putPeer("bob", { targets: [] })).address).toBe("10.99.0.2/32");
  });

  it("rolls back the device when the firewall fails, and keeps the last good state when the device fails", async () => {
    const a = await vpn.putPeer("alice", { targets: ["10.10.0.21"] });
    firewall.failNext = "Could not process rule";
    await expect(vpn.putPeer("bob", { targets: ["10.10.0.30"] })).rejects.toMatchObject({ code: "apply-failed", status: 503 });
    expect([...device.peers.values()]).toEqual(["10.99.0.2"]);
    expect([...firewall.pairs]).toEqual(["10.99.0.2 . 10.10.0.21"]);
    expect(await vpn.getPeer("bob")).toBeUndefined();

    device.failNext = "Operation not permitted";
    await expect(vpn.putPeer("alice", { targets: ["10.10.0.22"] })).rejects.toMatchObject({ code: "apply-failed" });
    expect((await vpn.getPeer("alice"))?.targets).toEqual(["10.10.0.21"]);
    expect([...firewall.pairs]).toEqual(["10.99.0.2 . 10.10.0.21"]);

    device.failNext = "Operation not permitted";
    await expect(vpn.deletePeer("alice")).rejects.toMatchObject({ code: "apply-failed" });
    expect(device.peers.get(a.publicKey)).toBe("10.99.0.2");
    expect((await vpn.listPeers()).length).toBe(1);
  });

  it("answers 409 for a target another owner's peer holds, and accepts it once that peer is gone", async () => {
    await vpn.putPeer("alice", { targets: ["10.10.0.21", "10.10.0.22"] });
    const err = await vpn.putPeer("bob", { targets: ["10.10.0.30", "10.10.0.22"] }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ProxstackError);
    expect(err).toMatchObject({
      code: "target-in-use",
      kind: "stall",
      status: 409,
      fields: { "targets.1": "10.10.0.22 is a target of alice's peer" },
    });
    expect(await vpn.getPeer("bob")).toBeUndefined();
    expect([...firewall.pairs].sort()).toEqual(["10.99.0.2 . 10.10.0.21", "10.99.0.2 . 10.10.0.22"]);
    // The owner itself may keep or move its own targets.
    expect((await vpn.putPeer("alice", { targets: ["10.10.0.22"] })).targets).toEqual(["10.10.0.22"]);
    await vpn.deletePeer("alice");
    expect((await vpn.putPeer("bob", { targets: ["10.10.0.22"] })).targets).toEqual(["10.10.0.22"]);
  });

  it("deletes peers, reports missing ones, and re-applies the full state on restart", async () => {
    const a = await vpn.putPeer("alice", { targets: ["10.10.0.21"] });
    const b = await vpn.putPeer("bob", { targets: ["10.10.0.30", "10.10.0.31"] });
    expect(await vpn.deletePeer("alice")).toBe(true);
    expect(await vpn.deletePeer("alice")).toBe(false);
    expect(await vpn.getPeer("alice")).toBeUndefined();
    expect(device.peers.has(a.publicKey)).toBe(false);
    const del = await authed("/peers/alice", { method: "DELETE" });
    expect(del.status).toBe(404);
    expect(((await del.json()) as { error: { code: string } }).error.code).toBe("peer-not-found");

    const bobConfig = (await vpn.getPeer("bob"))?.config;
    await server!.close();
    device = createMemoryDevice();
    firewall = createMemoryFirewall();
    await start();
    expect(device.isUp).toBe(true);
    expect([...device.peers.entries()]).toEqual([[b.publicKey, "10.99.0.3"]]);
    expect([...firewall.pairs].sort()).toEqual(["10.99.0.3 . 10.10.0.30", "10.99.0.3 . 10.10.0.31"]);
    // Address and server key survive a restart, so existing client configs keep working.
    expect((await vpn.getPeer("bob"))?.config).toBe(bobConfig);
    expect(((await (await raw("/healthz")).json()) as { peers: number }).peers).toBe(1);
  });
});
