// The Cloudflare simulator over raw HTTP: auth failures, routing, body checks, ingress rules and tunnel names refused like the API.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SIMULATION_HEADER } from "../http.js";
import { ingressProblems, startCloudflareSimulator, type CloudflareSimulator } from "./server.js";

const ACCOUNT = "0123456789abcdef0123456789abcdef";
const TUNNEL = "7c1d2e3f-0a1b-4c2d-8e3f-405162738495";
let dir: string;
let sim: CloudflareSimulator;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "cf-sim-"));
  sim = await startCloudflareSimulator({
    dbPath: path.join(dir, "cf.db"),
    accounts: [ACCOUNT],
    zones: [{ id: "fedcba9876543210fedcba9876543210", name: "example.com", accountId: ACCOUNT }],
    tunnels: [{ id: TUNNEL, accountId: ACCOUNT, name: "proxstack" }],
  });
});
afterAll(async () => {
  expect(sim.responseViolations()).toEqual([]);
  await sim.close();
  rmSync(dir, { recursive: true, force: true });
});

async function call(method: string, p: string, body?: unknown, auth: string | null = `Bearer ${sim.token}`) {
  const res = await fetch(`${sim.url}${p}`, {
    method,
    headers: { ...(auth ? { authorization: auth } : {}), ...(body !== undefined ? { "content-type": "application/json" } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return {
    status: res.status,
    label: res.headers.get(SIMULATION_HEADER),
    json: (await res.json()) as { success: boolean; errors: { code: number; message: string; error_chain?: unknown[] }[]; result: unknown },
  };
}

describe("Cloudflare simulator", () => {
  it("refuses missing, malformed and wrong credentials with Cloudflare's codes", async () => {
    const none = await call("GET", "/user/tokens/verify", undefined, null);
    expect([none.status, none.json.errors[0]?.code, none.label]).toEqual([400, 9106, "true"]);
    const malformed = await call("GET", "/user/tokens/verify", undefined, "Token abc");
    expect(malformed.json.errors[0]).toEqual({
      code: 6003,
      message: "Invalid request headers",
      error_chain: [{ code: 6111, message: "Invalid format for Authorization header" }],
    });
    const wrong = await call("GET", "/user/tokens/verify", undefined, "Bearer nope");
    expect([wrong.status, wrong.json.errors[0]?.code, wrong.json.success, wrong.json.result]).toEqual([403, 10000, false, null]);
  });
  it("answers unknown routes with 7003/7000", async () => {
    const r = await call("GET", "/zones/fedcba9876543210fedcba9876543210/firewall_rules");
    expect(r.status).toBe(404);
    expect(r.json.errors.map((e) => e.code)).toEqual([7003, 7000]);
  });
  it("checks request bodies against the spec", async () => {
    const r = await call("POST", "/zones/fedcba9876543210fedcba9876543210/dns_records", {
      type: "MX",
      name: "mail",
      content: "mx.example.com",
      priority: 70000,
    });
    expect(r.status).toBe(400);
    expect(r.json.errors[0]?.message).toContain("/priority must be <= 65535");
    const unknownType = await call("POST", "/zones/fedcba9876543210fedcba9876543210/dns_records", { type: "BOGUS", name: "x", content: "y" });
    expect(unknownType.json.errors[0]?.message).toContain("must be one of the DNS record types, got 'BOGUS'");
  });
  it("refuses DNS name conflicts and unknown records with Cloudflare's codes", async () => {
    const zone = "/zones/fedcba9876543210fedcba9876543210/dns_records";
    const first = await call("POST", zone, { type: "CNAME", name: "web", content: `${TUNNEL}.cfargotunnel.com`, proxied: true, ttl: 1 });
    expect(first.json.success).toBe(true);
    const again = await call("POST", zone, { type: "CNAME", name: "web.example.com", content: `${TUNNEL}.cfargotunnel.com`, proxied: true, ttl: 1 });
    expect([again.status, again.json.errors[0]?.code]).toEqual([400, 81057]);
    const a = await call("POST", zone, { type: "A", name: "web", content: "192.0.2.10", ttl: 1 });
    expect([a.status, a.json.errors[0]]).toEqual([400, { code: 81054, message: "A CNAME record with that host already exists." }]);
    const missing = await call("GET", `${zone}/${"0".repeat(32)}`);
    expect([missing.status, missing.json.errors[0]?.code]).toEqual([404, 81044]);
  });
  it("refuses a second tunnel with the same name (1013)", async () => {
    const r = await call("POST", `/accounts/${ACCOUNT}/cfd_tunnel`, { name: "proxstack", config_src: "cloudflare" });
    expect([r.status, r.json.errors[0]?.code]).toEqual([409, 1013]);
    const ok = await call("POST", `/accounts/${ACCOUNT}/cfd_tunnel`, { name: "second", config_src: "cloudflare" });
    expect(ok.json.success).toBe(true);
  });
  it("refuses configurations without ingress or without a catch-all", async () => {
    const empty = await call("PUT", `/accounts/${ACCOUNT}/cfd_tunnel/${TUNNEL}/configurations`, { config: { ingress: [] } });
    expect(empty.json.errors[0]).toEqual({ code: 1056, message: "Bad Configuration: Validation failed: The config file doesn't contain any ingress rules\n" });
    const ok = await call("PUT", `/accounts/${ACCOUNT}/cfd_tunnel/${TUNNEL}/configurations`, {
      config: { ingress: [{ hostname: "*.example.com", service: "https://10.10.0.3" }, { service: "http_status:404" }] },
    });
    expect(ok.json.success).toBe(true);
  });
});

describe("ingressProblems (cloudflared's rules)", () => {
  it.each([
    [[{ service: "http_status:404" }], []],
    [[{ hostname: "a.example.com", service: "http://10.0.0.1:80" }, { service: "http_status:404" }], []],
    [
      [{ hostname: "a.example.com", service: "http://10.0.0.1" }],
      ["The last ingress rule must match all URLs (i.e. it should not have a hostname or path filter)"],
    ],
    [[{ path: "/x", service: "http_status:404" }], ["The last ingress rule must match all URLs (i.e. it should not have a hostname or path filter)"]],
    [[{ hostname: "a.example.com:8080", service: "http://x" }, { service: "http_status:404" }], ["Hostname cannot contain a port"]],
    [
      [{ hostname: "a.*.example.com", service: "http://x" }, { service: "http_status:404" }],
      ['Hostname patterns can have at most one wildcard character ("*") and it can only be used for subdomains, e.g. "*.example.com"'],
    ],
    [[{ service: "ftp://x" }], ["ftp://x is an invalid address, please make sure it has a scheme and a hostname"]],
  ])("%j → %j", (ingress, problems) => {
    expect(ingressProblems({ ingress })).toEqual(problems);
  });
});
