// Cloudflare client against the simulator over real HTTP: tunnels, ingress, DNS, pagination, bad input, rate limits, durability.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { rejection as caught } from "../../sim/rejection.js";
import { createCfConformance, type CfConformance } from "../../sim/cloudflare/conformance.js";
import { startCloudflareSimulator, type CloudflareSimulator, type CloudflareSimulatorOptions } from "../../sim/cloudflare/server.js";
import { createCloudflareClient, type CloudflareClient } from "./client.js";

const ACCOUNT = "0123456789abcdef0123456789abcdef";
const ZONE = "fedcba9876543210fedcba9876543210";
const OTHER_ZONE = "11111111111111111111111111111111";
const TUNNEL = "7c1d2e3f-0a1b-4c2d-8e3f-405162738495";
const CATCH_ALL = { service: "http_status:404" };

describe("Cloudflare client ↔ simulator", () => {
  let dir: string;
  let sim: CloudflareSimulator;
  let client: CloudflareClient;
  let conformance: CfConformance;
  let allowed: RegExp[];
  const sleeps: number[] = [];
  const options = (extra: Partial<CloudflareSimulatorOptions> = {}): CloudflareSimulatorOptions => ({
    dbPath: path.join(dir, "cf.db"),
    accounts: [ACCOUNT],
    zones: [
      { id: ZONE, name: "example.com", accountId: ACCOUNT },
      { id: OTHER_ZONE, name: "other.org", accountId: "ffffffffffffffffffffffffffffffff" },
    ],
    tunnels: [{ id: TUNNEL, accountId: ACCOUNT, name: "proxstack" }],
    ...extra,
  });
  const connect = (s: CloudflareSimulator, token = s.token) =>
    createCloudflareClient({ apiUrl: s.url, token, onRequest: (r) => conformance.onRequest(r), sleep: async (ms) => void sleeps.push(ms) });

  beforeEach(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "cf-client-"));
    conformance = createCfConformance();
    allowed = [];
    sleeps.length = 0;
    sim = await startCloudflareSimulator(options());
    client = connect(sim);
  });
  afterEach(async () => {
    expect(sim.responseViolations()).toEqual([]);
    await sim.close();
    rmSync(dir, { recursive: true, force: true });
    expect(conformance.problems().filter((p) => !allowed.some((a) => a.test(p)))).toEqual([]);
  });

  it("reads the tunnel and puts an ingress configuration ending in the catch-all", async () => {
    expect((await client.verifyToken()).status).toBe("active");
    expect((await client.listTunnels(ACCOUNT)).map((t) => t.id)).toEqual([TUNNEL]);
    expect(await client.listTunnels(ACCOUNT, { name: "nope" })).toEqual([]);
    expect((await client.getTunnel(ACCOUNT, TUNNEL)).name).toBe("proxstack");
    expect((await client.getTunnelConfig(ACCOUNT, TUNNEL)).config).toBeNull();
    const put = await client.putTunnelConfig(ACCOUNT, TUNNEL, {
      ingress: [{ hostname: "alice-web.example.com", service: "http://10.10.0.21:80", originRequest: { noTLSVerify: true } }, CATCH_ALL],
    });
    expect(put.version).toBe(1);
    const got = await client.getTunnelConfig(ACCOUNT, TUNNEL);
    expect(got.config?.ingress.map((r) => r.hostname ?? "*")).toEqual(["alice-web.example.com", "*"]);
    expect(got.version).toBe(1);
  });

  it("creates, lists (across pages), updates and deletes DNS records", async () => {
    const cname = await client.createDnsRecord(ZONE, { type: "CNAME", name: "alice-web", content: `${TUNNEL}.cfargotunnel.com`, proxied: true });
    expect(cname).toMatchObject({ name: "alice-web.example.com", type: "CNAME", proxied: true, ttl: 1 });
    for (let i = 0; i < 120; i++) await client.createDnsRecord(ZONE, { type: "TXT", name: `t${i}.example.com`, content: `v=${i}` });
    const all = await client.listDnsRecords(ZONE);
    expect(all).toHaveLength(121);
    expect(new Set(all.map((r) => r.id)).size).toBe(121);
    expect(conformance.seen().filter((s) => s === `GET /zones/${ZONE}/dns_records`)).toHaveLength(2);
    const found = await client.listDnsRecords(ZONE, { name: "alice-web.example.com", type: "CNAME" });
    expect(found.map((r) => r.id)).toEqual([cname.id]);
    const moved = await client.updateDnsRecord(ZONE, cname.id, {
      type: "CNAME",
      name: "alice-www.example.com",
      content: `${TUNNEL}.cfargotunnel.com`,
      proxied: true,
    });
    expect(moved.name).toBe("alice-www.example.com");
    await client.deleteDnsRecord(ZONE, cname.id);
    expect(await client.listDnsRecords(ZONE, { name: "alice-www.example.com" })).toEqual([]);
  });

  describe("bad input: typed errors with the API's message", () => {
    it("wrong token → cf.auth", async () => {
      const err = await caught(connect(sim, "wrong-token-000000000000").listTunnels(ACCOUNT));
      expect(err).toMatchObject({ code: "cf.auth", kind: "stall", status: 403 });
      expect(err.message).toContain("Authentication error (10000)");
    });
    it("ingress without a catch-all → cf.invalid, the old configuration stays", async () => {
      await client.putTunnelConfig(ACCOUNT, TUNNEL, { ingress: [CATCH_ALL] });
      const err = await caught(client.putTunnelConfig(ACCOUNT, TUNNEL, { ingress: [{ hostname: "a.example.com", service: "http://10.10.0.21:80" }] }));
      expect(err).toMatchObject({ code: "cf.invalid", status: 400 });
      expect(err.message).toContain("The last ingress rule must match all URLs (i.e. it should not have a hostname or path filter) (1056)");
      const bad = await caught(client.putTunnelConfig(ACCOUNT, TUNNEL, { ingress: [{ hostname: "a.example.com", service: "10.10.0.21:80" }, CATCH_ALL] }));
      expect(bad.message).toContain("10.10.0.21:80 is an invalid address");
      expect((await client.getTunnelConfig(ACCOUNT, TUNNEL)).config?.ingress).toEqual([CATCH_ALL]);
    });
    it("DNS conflicts → cf.conflict", async () => {
      await client.createDnsRecord(ZONE, { type: "A", name: "host", content: "192.0.2.1" });
      const same = await caught(client.createDnsRecord(ZONE, { type: "A", name: "host.example.com", content: "192.0.2.1" }));
      expect(same.code).toBe("cf.conflict");
      expect(same.message).toContain("Record already exists. (81057)");
      const cname = await caught(client.createDnsRecord(ZONE, { type: "CNAME", name: "host", content: "x.example.net" }));
      expect(cname.message).toContain("An A, AAAA, or CNAME record with that host already exists. (81053)");
    });
    it("unknown record, tunnel, or a zone the account does not own → cf.not-found", async () => {
      expect((await caught(client.deleteDnsRecord(ZONE, "0".repeat(32)))).message).toContain("Record does not exist. (81044)");
      expect((await caught(client.getTunnel(ACCOUNT, "00000000-0000-0000-0000-000000000000"))).code).toBe("cf.not-found");
      const foreign = await caught(client.createDnsRecord(OTHER_ZONE, { type: "A", name: "x", content: "192.0.2.9" }));
      expect(foreign.code).toBe("cf.not-found");
    });
    it("a record body the spec rejects → cf.invalid naming the field", async () => {
      const err = await caught(client.createDnsRecord(ZONE, { type: "A", name: "bad", content: "192.0.2" }));
      expect(err.code).toBe("cf.invalid");
      expect(err.message).toContain('/content must match format "ipv4"');
      allowed.push(/content must match format "ipv4"/); // the rejected body was sent on purpose
    });
  });

  it("backs off on 429 using Retry-After, then gives up with cf.rate-limited", async () => {
    sim.setFaults({ rateLimitNext: 2 });
    expect((await client.listTunnels(ACCOUNT)).length).toBe(1);
    expect(sleeps).toEqual([1000, 1000]);
    sim.setFaults({ rateLimitNext: 10 });
    const err = await caught(client.getTunnel(ACCOUNT, TUNNEL));
    expect(err).toMatchObject({ code: "cf.rate-limited", kind: "retry", status: 429 });
  });

  it("keeps the tunnel configuration and records across a restart", async () => {
    await client.putTunnelConfig(ACCOUNT, TUNNEL, { ingress: [{ hostname: "k.example.com", service: "http://10.10.0.5:8080" }, CATCH_ALL] });
    await client.createDnsRecord(ZONE, { type: "CNAME", name: "k", content: `${TUNNEL}.cfargotunnel.com`, proxied: true });
    await sim.close();
    sim = await startCloudflareSimulator(options({ token: sim.token }));
    client = connect(sim);
    expect((await client.getTunnelConfig(ACCOUNT, TUNNEL)).config?.ingress[0]?.hostname).toBe("k.example.com");
    expect((await client.listDnsRecords(ZONE)).map((r) => r.name)).toEqual(["k.example.com"]);
  });
});
