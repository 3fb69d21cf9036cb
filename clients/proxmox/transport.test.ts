// TLS to a self-signed Proxmox: pinned fingerprint accepted, wrong pin and unpinned refused, explicit insecure accepted.
import { spawnSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rejection as fail } from "../../sim/rejection.js";
import { startProxmoxSimulator, type ProxmoxSimulator } from "../../sim/proxmox/server.js";
import { skipUnless } from "../../test/loud-skip.js";
import { createProxmoxClient } from "./client.js";

const hasOpenssl = spawnSync("openssl", ["version"]).status === 0;
const skip = skipUnless(
  hasOpenssl ? { ok: true } : { ok: false, why: "openssl is not installed (needed to make a self-signed certificate)" },
  "Proxmox client TLS",
);

describe.skipIf(skip)("Proxmox client TLS", () => {
  let dir: string;
  let sim: ProxmoxSimulator;
  let fingerprint: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "pve-tls-"));
    const key = path.join(dir, "key.pem");
    const cert = path.join(dir, "cert.pem");
    const r = spawnSync("openssl", [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      key,
      "-out",
      cert,
      "-days",
      "1",
      "-subj",
      "/CN=pve1",
      "-addext",
      "subjectAltName=IP:127.0.0.1",
    ]);
    expect(r.status).toBe(0);
    fingerprint = new X509Certificate(readFileSync(cert)).fingerprint256;
    sim = await startProxmoxSimulator({
      dbPath: path.join(dir, "pve.db"),
      nodes: ["pve1"],
      tls: { key: readFileSync(key, "utf8"), cert: readFileSync(cert, "utf8") },
      authFailureDelayMs: 0,
    });
  });
  afterAll(async () => {
    await sim.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("serves HTTPS", () => {
    expect(sim.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
  });
  it("accepts the pinned fingerprint", async () => {
    const c = createProxmoxClient({ endpoint: sim.url, token: sim.token, tls: { fingerprint } });
    expect((await c.version()).release).toBe("9.1");
  });
  it("refuses a different fingerprint without retrying", async () => {
    const c = createProxmoxClient({ endpoint: sim.url, token: sim.token, tls: { fingerprint: "AA:".repeat(31) + "AA" } });
    const err = await fail(c.version());
    expect(err).toMatchObject({ code: "pve.tls", kind: "stall" });
    expect(err.message).toContain("does not match the pinned PROXMOX_VE_FINGERPRINT");
  });
  it("refuses a self-signed certificate when neither pinned nor insecure", async () => {
    const err = await fail(createProxmoxClient({ endpoint: sim.url, token: sim.token }).version());
    expect(err).toMatchObject({ code: "pve.tls", kind: "stall" });
  });
  it("accepts it with the explicit insecure flag", async () => {
    const c = createProxmoxClient({ endpoint: `${sim.url}/api2/json`, token: sim.token, tls: { insecure: true } });
    expect((await c.nodes()).map((n) => n.node)).toEqual(["pve1"]);
  });
});
