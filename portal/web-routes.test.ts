// What the web portal needs from the API: the mode, an instance's YAML and history, and the built files at / without shadowing the API.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { instanceText } from "./routes/about.js";
import { startHarness, type Harness } from "./testing/harness.js";
import { WEB_CSP } from "./web-static.js";

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKInZte4N4jzWW5jRTjyVW2dB3e0ryh5PFdf4g4KQ/Pn dana@laptop";
let h: Harness;
let dist: string;
let dana: Awaited<ReturnType<Harness["signUp"]>>;

beforeAll(async () => {
  dist = fs.mkdtempSync(path.join(os.tmpdir(), "portal-dist-"));
  fs.mkdirSync(path.join(dist, "assets"));
  fs.writeFileSync(path.join(dist, "index.html"), "<!doctype html><title>proxstack</title><div id=root></div>");
  fs.writeFileSync(path.join(dist, "assets", "app-1234.js"), "console.log(1)");
  h = await startHarness({}, { webDist: dist });
  dana = await h.signUp("dana@example.com", "Dana Scully");
}, 60_000);

afterAll(async () => {
  await h?.close();
  fs.rmSync(dist, { recursive: true, force: true });
});

describe("GET /api/mode", () => {
  it("says simulation when a provider is simulated (the harness passes no mode), with the base domain, domain pricing and runway", async () => {
    const r = await h.api("GET", "/api/mode");
    expect([r.status, r.body]).toEqual([
      200,
      {
        mode: "simulation",
        providers: { proxmox: "simulated", cloudflare: "simulated" },
        simulation: true,
        baseDomain: "example.com",
        domains: { freePerInstance: 1, extraPointsPerDay: 2 },
        runwayHours: 24,
      },
    ]);
  });
});

describe("GET /api/instances/:id/source", () => {
  it("answers the instance's entry as written and the file's commits by the user, newest first", async () => {
    const created = await h.api("POST", "/api/instances", { token: dana.token, body: { name: "web", template: "debian-12", plan: "small", sshKeys: [KEY] } });
    expect(created.status).toBe(202);
    expect((await h.api("POST", "/api/instances/dana-scully.web/stop", { token: dana.token })).status).toBe(202);
    const r = await h.api("GET", "/api/instances/dana-scully.web/source", { token: dana.token });
    expect(r.status).toBe(200);
    expect(r.body.file).toBe("dana-scully.yaml");
    expect(r.body.yaml).toMatch(/^- name: web\n  template: debian-12\n/);
    expect(r.body.yaml).toContain("\n  power: stopped\n");
    expect(r.body.commits.map((c: { author: string; email: string }) => `${c.author} <${c.email}>`)).toEqual([
      "Dana Scully <dana@example.com>",
      "Dana Scully <dana@example.com>",
    ]);
    expect(r.body.commits[0].sha).toMatch(/^[0-9a-f]{40}$/);
  });

  it("answers 404 for someone else's instance and 401 without a token", async () => {
    expect((await h.api("GET", "/api/instances/alice.web/source", { token: dana.token })).status).toBe(404);
    expect((await h.api("GET", "/api/instances/dana-scully.web/source")).status).toBe(401);
  });
});

describe("instanceText", () => {
  it("keeps comments and layout of one item and dedents it", () => {
    const text = "kind: UserStack\ninstances:\n  - name: a\n    plan: small # cheap\n  - name: b\n    # big one\n    plan: large\nsshKeys: []\n";
    expect(instanceText(text, "b")).toBe("- name: b\n  # big one\n  plan: large\n");
    expect(instanceText(text, "a")).toBe("- name: a\n  plan: small # cheap\n");
    expect(instanceText(text, "c")).toBeUndefined();
  });
});

describe("the web portal at /", () => {
  it("serves index.html for / and client routes, with a policy that allows its own scripts", async () => {
    for (const p of ["/", "/instances/dana-scully.web", "/admin"]) {
      const r = await h.api("GET", p, { headers: { accept: "text/html" } });
      expect([p, r.status, r.text]).toEqual([p, 200, "<!doctype html><title>proxstack</title><div id=root></div>"]);
      expect(r.headers.get("content-security-policy")).toBe(WEB_CSP);
    }
    const asset = await h.api("GET", "/assets/app-1234.js");
    expect([asset.status, asset.text, asset.headers.get("cache-control")]).toEqual([200, "console.log(1)", "public, max-age=31536000, immutable"]);
  });

  it("never shadows /api, /ws, /metrics or /healthz, and a missing asset is a 404", async () => {
    const html = { headers: { accept: "text/html" } };
    expect((await h.api("GET", "/api/nope", html)).body.error.code).toBe("route-not-found");
    expect((await h.api("GET", "/ws/terminal", html)).status).toBe(404);
    expect((await h.api("GET", "/api", html)).status).toBe(404);
    expect((await h.api("GET", "/healthz", html)).body).toEqual({ ok: true });
    expect((await h.api("GET", "/metrics", html)).text).toContain("# HELP");
    expect((await h.api("GET", "/assets/missing.js", html)).status).toBe(404);
    expect((await h.api("GET", "/missing.png", { headers: { accept: "image/*" } })).status).toBe(404);
    expect((await h.api("GET", "/api/openapi.json", html)).headers.get("content-security-policy")).toBe(
      "default-src 'none'; frame-ancestors 'none'; base-uri 'none'",
    );
  });
});
