// The portal API in-process: accounts and sessions, catalog, instances, points, live events, VPN, admin, OpenAPI, metrics and headers.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Ajv2020 } from "ajv/dist/2020.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { manualClock } from "../lib/clock.js";
import { silentLogger } from "../lib/logger.js";
import { createVpnClient } from "../vpn/client.js";
import { generateKeyPair } from "../vpn/keys.js";
import { startVpnService, type VpnServer } from "../vpn/server.js";
import { createMemoryDevice, createMemoryFirewall } from "../vpn/testing/memory-device.js";
import { MICRO } from "./points-ledger.js";
import { codeFromOutbox } from "./testing/http.js";
import { startHarness, type Harness } from "./testing/harness.js";

let h: Harness;
let vpnServer: VpnServer;
let vpnDir: string;
let alice: Awaited<ReturnType<Harness["signUp"]>>;
let admin: Awaited<ReturnType<Harness["signUp"]>>;

beforeAll(async () => {
  vpnDir = fs.mkdtempSync(path.join(os.tmpdir(), "portal-vpn-"));
  vpnServer = await startVpnService({
    dataDir: vpnDir,
    token: "test-token-0123456789abcdef",
    endpoint: "vpn.example.test:51820",
    subnet: "10.99.0.0/24",
    pool: "10.10.0.0/24",
    dns: ["10.10.0.1"],
    device: createMemoryDevice(),
    firewall: createMemoryFirewall(),
    log: silentLogger(),
    clock: manualClock(new Date("2026-11-30T10:00:00Z")),
  });
  h = await startHarness({}, { vpn: createVpnClient({ url: vpnServer.url, token: "test-token-0123456789abcdef" }) });
  alice = await h.signUp("alice@example.com", "Alice");
  admin = await h.signUp("root@example.com", "Root");
  h.db.prepare("UPDATE accounts SET role = 'admin' WHERE id = ?").run(admin.id);
}, 60_000);

afterAll(async () => {
  await h?.close();
  await vpnServer?.close();
  fs.rmSync(vpnDir, { recursive: true, force: true });
});

describe("accounts", () => {
  it("registering an address that exists answers exactly like a new one, and mails the owner instead of creating anything", async () => {
    const count = () => (h.db.prepare("SELECT count(*) AS n FROM accounts").get() as { n: number }).n;
    const n = count();
    const again = await h.api("POST", "/api/auth/register", { body: { email: "ALICE@example.com", password: "another long password" } });
    const fresh = await h.api("POST", "/api/auth/register", { body: { email: "newbie@example.com", password: "another long password" } });
    expect([again.status, again.body]).toEqual([201, { status: "verification-sent", email: "alice@example.com" }]);
    expect([fresh.status, fresh.body]).toEqual([201, { status: "verification-sent", email: "newbie@example.com" }]);
    expect(count()).toBe(n + 1);
    const mails = fs.readdirSync(h.outbox).map((f) => fs.readFileSync(path.join(h.outbox, f), "utf8"));
    expect(mails.filter((m) => m.includes("To: alice@example.com\r\n") && m.includes("Subject: Sign-up attempt on proxstack"))).toHaveLength(1);
  });

  it("login needs a verified e-mail; a wrong code counts, five make the code void, a new code works", async () => {
    const login = () => h.api("POST", "/api/auth/login", { body: { email: "newbie@example.com", password: "another long password" } });
    expect((await login()).body.error.code).toBe("email-not-verified");
    const code = codeFromOutbox(h.outbox, "newbie@example.com");
    const wrong = code === "000000" ? "111111" : "000000";
    for (let i = 0; i < 5; i++)
      expect((await h.api("POST", "/api/auth/verify-email", { body: { email: "newbie@example.com", code: wrong } })).status).toBe(400);
    expect((await h.api("POST", "/api/auth/verify-email", { body: { email: "newbie@example.com", code } })).body.error.code).toBe("invalid-code");
    expect((await h.api("POST", "/api/auth/resend-verification", { body: { email: "newbie@example.com" } })).status).toBe(202);
    const fresh = codeFromOutbox(h.outbox, "newbie@example.com");
    const v = await h.api("POST", "/api/auth/verify-email", { body: { email: "newbie@example.com", code: fresh } });
    expect(v.status).toBe(200);
    expect(v.body.user).toMatchObject({ email: "newbie@example.com", name: "newbie", verified: true, stack: "newbie", role: "user" });
    expect((await login()).status).toBe(200);
  });

  it("thirty sign-ups from one address (an office behind NAT) are all accepted", async () => {
    const answers = [];
    for (let i = 0; i < 30; i++)
      answers.push((await h.api("POST", "/api/auth/register", { body: { email: `staff${i}@example.com`, password: "correct horse battery" } })).status);
    expect(new Set(answers)).toEqual(new Set([201]));
  });

  it("refresh rotates; logout ends the session; changing the password ends the other sessions only", async () => {
    const a = await h.api("POST", "/api/auth/login", { body: { email: "alice@example.com", password: "correct horse battery" } });
    const b = await h.api("POST", "/api/auth/login", { body: { email: "alice@example.com", password: "correct horse battery" } });
    const r1 = await h.api("POST", "/api/auth/refresh", { body: { refreshToken: a.body.refreshToken } });
    expect(r1.status).toBe(200);
    expect(r1.body.refreshToken).not.toBe(a.body.refreshToken);
    const r2 = await h.api("POST", "/api/auth/refresh", { body: { refreshToken: r1.body.refreshToken } });
    expect(r2.status).toBe(200);
    expect((await h.api("GET", "/api/auth/me", { token: r2.body.accessToken })).body).toMatchObject({ email: "alice@example.com", stack: "alice" });

    const changed = await h.api("PUT", "/api/auth/password", {
      token: r2.body.accessToken,
      body: { currentPassword: "correct horse battery", newPassword: "an even better passphrase" },
    });
    expect(changed.status).toBe(204);
    expect((await h.api("GET", "/api/auth/me", { token: r2.body.accessToken })).status).toBe(200);
    expect((await h.api("GET", "/api/auth/me", { token: b.body.accessToken })).status).toBe(401);
    expect((await h.api("POST", "/api/auth/refresh", { body: { refreshToken: b.body.refreshToken } })).status).toBe(401);
    expect((await h.api("POST", "/api/auth/login", { body: { email: "alice@example.com", password: "correct horse battery" } })).status).toBe(401);

    expect((await h.api("POST", "/api/auth/logout", { token: r2.body.accessToken })).status).toBe(204);
    expect((await h.api("GET", "/api/auth/me", { token: r2.body.accessToken })).status).toBe(401);
    expect((await h.api("POST", "/api/auth/refresh", { body: { refreshToken: r2.body.refreshToken } })).status).toBe(401);
    const back = await h.api("POST", "/api/auth/login", { body: { email: "alice@example.com", password: "an even better passphrase" } });
    alice = { ...alice, token: back.body.accessToken, refresh: back.body.refreshToken };
  });
});

describe("request validation", () => {
  it("answers bad fields in plain words, naming what is expected and what came", async () => {
    const fieldsOf = async (method: "GET" | "POST", url: string, body?: unknown) => {
      const r = await h.api(method, url, { token: alice.token, ...(body === undefined ? {} : { body }) });
      expect(r.status).toBe(400);
      expect(r.body.error.code).toBe("invalid-request");
      return r.body.error.fields as Record<string, string>;
    };
    expect(await fieldsOf("GET", "/api/instances?page=0&limit=abc")).toEqual({
      page: "must be at least 1, not 0",
      limit: 'must be a number, not the text "abc"',
    });
    expect(await fieldsOf("GET", "/api/instances?page=1&page=2")).toEqual({ page: "must be a number, not a list" });
    expect(await fieldsOf("GET", "/api/instances?limit=2.5")).toEqual({ limit: "must be a whole number, not 2.5" });
    expect(await fieldsOf("POST", "/api/instances", { name: "web" })).toEqual({ template: "is required", plan: "is required" });
    expect(await fieldsOf("POST", "/api/instances", { name: "web", template: 5, plan: "small", sshKeys: [] })).toEqual({
      template: "must be text, not 5",
      sshKeys: "must list at least 1 item",
    });
    expect(await fieldsOf("GET", "/api/instances/alice.web/stats/history?timeframe=year")).toEqual({
      timeframe: 'must be one of "hour", "day", "week", not the text "year"',
    });
    const whole = await h.api("POST", "/api/auth/register", { body: [] });
    expect(whole.body.error).toEqual({
      code: "invalid-request",
      message: "the request body is invalid: (body) must be a mapping of keys to values, not a list",
      fields: { "(body)": "must be a mapping of keys to values, not a list" },
    });
  });
});

describe("catalog, instances and points", () => {
  it("templates and plans come from the platform file (public)", async () => {
    expect((await h.api("GET", "/api/templates")).body).toEqual({
      items: [
        { name: "debian-12", description: "Debian 12 (bookworm), prepared with OpenSSH and sudo" },
        { name: "ubuntu-24", description: "Ubuntu 24.04 LTS from the Proxmox template" },
      ],
    });
    const plans = (await h.api("GET", "/api/plans")).body.items;
    expect(plans.map((p: { name: string; pointsPerDay: number }) => [p.name, p.pointsPerDay])).toEqual([
      ["small", 24],
      ["medium", 72],
      ["large", 240],
    ]);
    expect(plans[0]).toEqual({ name: "small", description: "1 core, 512 MiB, 8 GiB", cores: 1, memoryMiB: 512, swapMiB: 512, diskGiB: 8, pointsPerDay: 24 });
  });

  it("instances are paginated and carry id, state, vmid, ip, hostnames and cost", async () => {
    const page2 = await h.api("GET", "/api/instances?page=2&limit=1", { token: alice.token });
    expect(page2.body).toEqual({
      items: [
        {
          id: "alice.dev",
          stack: "alice",
          name: "dev",
          template: "ubuntu-24",
          plan: "small",
          power: "stopped",
          state: "stopped",
          reason: null,
          vmid: 2002,
          ip: "10.10.0.22",
          hostnames: [],
          protected: false,
          pointsPerDay: 24,
        },
      ],
      page: 2,
      limit: 1,
      total: 2,
    });
  });

  it("points: the signup bonus, burn and runway; an admin grant is a ledger entry with its reason", async () => {
    expect((await h.api("GET", "/api/points", { token: alice.token })).body).toEqual({
      balance: 100,
      balanceMicro: 100 * MICRO,
      burnPerDay: 98,
      runwaySeconds: 88163,
    });
    const grant = await h.api("POST", `/api/admin/users/${alice.id}/points`, { token: admin.token, body: { amount: 12.5, reason: "refund for the outage" } });
    expect(grant.status).toBe(201);
    expect(grant.body.balance).toBe(112.5);
    const ledger = await h.api("GET", "/api/points/ledger?limit=10", { token: alice.token });
    expect(ledger.body.items.map((e: { amount: number; reason: string; note: string }) => [e.amount, e.reason, e.note])).toEqual([
      [12.5, "admin-grant", "refund for the outage (by root@example.com)"],
      [100, "signup-bonus", "welcome bonus"],
    ]);
  });

  it("resizing to a plan with a smaller disk is refused before anything is written (it would replace the container)", async () => {
    const head = h.git("rev-parse", "HEAD");
    const r = await h.api("PATCH", "/api/instances/alice.web", { token: alice.token, body: { plan: "small" } });
    expect([r.status, r.body.error.code]).toEqual([409, "disk-shrink"]);
    expect(h.git("rev-parse", "HEAD")).toBe(head);
  });

  it("a suspended stack cannot be started from the portal", async () => {
    const bob = await h.signUp("bob@example.com", "Bob");
    const r = await h.api("POST", "/api/instances/bob.app/start", { token: bob.token });
    expect([r.status, r.body.error.code]).toEqual([409, "suspended"]);
    expect(r.body.error.message).toBe("your stack is suspended (points-exhausted); Top up your points to start your containers again.");
  });

  it("a stack file broken by hand answers 409 stack-invalid with file:line:col, and edits are refused until it is fixed", async () => {
    const file = path.join(h.stacksDir, "alice.yaml");
    const good = fs.readFileSync(file, "utf8");
    fs.writeFileSync(file, good.replace("plan: medium", "plan: gigantic"));
    try {
      const r = await h.api("GET", "/api/instances", { token: alice.token });
      expect([r.status, r.body.error.code]).toEqual([409, "stack-invalid"]);
      expect(r.body.error.fields).toEqual({ 0: expect.stringMatching(/^alice\.yaml:\d+:\d+: .*plan "gigantic" is not in the platform's catalog/) });
      expect((await h.api("POST", "/api/instances/alice.dev/start", { token: alice.token })).body.error.code).toBe("stack-invalid");
      expect((await h.api("GET", "/api/points", { token: alice.token })).status).toBe(200);
    } finally {
      fs.writeFileSync(file, good);
    }
    expect((await h.api("GET", "/api/instances", { token: alice.token })).status).toBe(200);
  });

  it("runtime actions on one's own instance go to Proxmox with the engine's vmid", async () => {
    expect((await h.api("POST", "/api/instances/alice.web/reboot", { token: alice.token })).status).toBe(202);
    expect(
      (await h.api("POST", "/api/instances/alice.web/snapshots", { token: alice.token, body: { name: "pre", description: "before upgrade" } })).status,
    ).toBe(201);
    expect((await h.api("GET", "/api/instances/alice.web/snapshots", { token: alice.token })).body.items.map((s: { name: string }) => s.name)).toEqual(["pre"]);
    expect((await h.api("POST", "/api/instances/alice.web/snapshots/pre/rollback", { token: alice.token })).status).toBe(200);
    expect((await h.api("DELETE", "/api/instances/alice.web/snapshots/pre", { token: alice.token })).status).toBe(204);
    const backup = await h.api("POST", "/api/instances/alice.web/backups", { token: alice.token });
    expect(backup.body.volid).toBe("local:backup/vzdump-lxc-2001-2026_11_30-00_00_00.tar.zst");
    const own = "local:backup/vzdump-lxc-2001-2026_11_29-00_00_00.tar.zst";
    expect((await h.api("GET", "/api/instances/alice.web/backups", { token: alice.token })).body.items).toEqual([
      { volid: own, createdAt: "2026-11-29T00:00:00.000Z" },
    ]);
    const head = h.git("rev-parse", "HEAD");
    const notOwn = "local:backup/vzdump-lxc-2999-2026_11_29-00_00_00.tar.zst";
    expect((await h.api("DELETE", `/api/instances/alice.web/backups/${encodeURIComponent(notOwn)}`, { token: alice.token })).body.error.code).toBe("not-found");
    const del = await h.api("DELETE", `/api/instances/alice.web/backups/${encodeURIComponent(own)}`, { token: alice.token });
    expect(h.git("rev-parse", "HEAD")).toBe(head);
    expect(del.status).toBe(204);
    expect((await h.api("GET", "/api/instances/alice.web/backups", { token: alice.token })).body.items).toEqual([]);
    expect((await h.api("GET", "/api/instances/alice.web/stats", { token: alice.token })).body).toEqual({
      state: "running",
      cpu: 0.1,
      cores: 1,
      memory: { used: 100, total: 512 },
      disk: { used: 10, total: 80 },
      network: { in: 1, out: 2 },
      uptime: 60,
    });
    expect(h.pve.calls).toEqual([
      "reboot 2001",
      "snapshot 2001 pre",
      "rollback 2001 pre",
      "delsnapshot 2001 pre",
      "backup 2001",
      `delvolume local ${own}`,
      "status 2001",
    ]);
  });
});

describe("live events (SSE)", () => {
  it("streams the caller's stack only, in plain words", async () => {
    const ctl = new AbortController();
    const res = await fetch(`${h.url}/api/events`, { headers: { authorization: `Bearer ${alice.token}` }, signal: ctl.signal });
    expect(res.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    const reader = res.body!.getReader();
    let text = "";
    const until = async (pred: () => boolean) => {
      while (!pred()) text += new TextDecoder().decode((await reader.read()).value);
    };
    await until(() => text.includes(": proxstack events"));
    const stack = (name: string) =>
      ({
        name,
        condition: "Reconciling",
        reason: "Applying",
        message: "",
        appliedHash: undefined,
        appliedSpec: undefined,
        appliedPlatform: undefined,
        hasResources: true,
        lastRunId: 1,
        failures: 0,
        nextAttemptAt: undefined,
        stoppedFor: undefined,
        removalAt: undefined,
        removalHeld: false,
        updatedAt: "x",
      }) as const;
    h.engine.emit({ type: "stack", stack: stack("bob") });
    h.engine.emit({ type: "stack", stack: stack("alice") });
    h.engine.emit({
      type: "run-event",
      runId: 7,
      stack: "alice",
      event: { at: "x", type: "resource-pre", op: "create", urn: "urn:pulumi:alice::proxstack::proxstack:user:Instance$proxmoxve:CT/Container::web" },
    });
    h.engine.emit({
      type: "instance",
      instance: { stack: "bob", name: "app", vmid: 2003, ip: "10.10.0.23", power: "running", state: "ready", updatedAt: "x" },
    });
    h.engine.emit({
      type: "instance",
      instance: { stack: "alice", name: "web", vmid: 2001, ip: "10.10.0.21", power: "running", state: "ready", updatedAt: "x" },
    });
    await until(() => text.includes("event: instance"));
    ctl.abort();
    const events = text
      .split("\n\n")
      .filter((b) => b.startsWith("id:"))
      .map((b) => {
        const lines = b.split("\n");
        return [lines[1]?.slice(7), JSON.parse(lines[2]?.slice(6) ?? "{}") as unknown];
      });
    expect(events).toEqual([
      ["stack", { stack: "alice", condition: "Reconciling", reason: "Applying", text: "A run (preview, then up or destroy) is in progress.", message: "" }],
      ["step", { stack: "alice", run: 7, type: "resource-pre", text: "create web" }],
      ["instance", { id: "alice.web", state: "ready", power: "running", vmid: 2001, ip: "10.10.0.21" }],
    ]);
  });
});

describe("VPN", () => {
  it("a fresh config with a QR code reaching exactly the caller's containers; rotating; the user's own key", async () => {
    expect((await h.api("GET", "/api/vpn", { token: alice.token })).body).toEqual({ peer: null });
    const cfg = await h.api("POST", "/api/vpn/config", { token: alice.token, body: {} });
    expect(cfg.status).toBe(201);
    expect(cfg.body.config).toMatch(/\[Interface\]\nPrivateKey = [A-Za-z0-9+/]{43}=\n/);
    expect(cfg.body.qr.data).toMatch(/^<svg/);
    const peer = (await h.api("GET", "/api/vpn", { token: alice.token })).body.peer;
    expect(peer.targets).toEqual(["10.10.0.21", "10.10.0.22"]);
    const png = await h.api("POST", "/api/vpn/config", { token: alice.token, body: { format: "png" } });
    expect(Buffer.from(png.body.qr.data, "base64").subarray(1, 4).toString()).toBe("PNG");
    expect((await h.api("GET", "/api/vpn", { token: alice.token })).body.peer.publicKey).not.toBe(peer.publicKey);
    const mine = generateKeyPair().publicKey;
    const put = await h.api("PUT", "/api/vpn/key", { token: alice.token, body: { publicKey: mine } });
    expect(put.body.peer).toEqual({ address: peer.address, publicKey: mine, targets: ["10.10.0.21", "10.10.0.22"] });
  });
});

describe("admin", () => {
  it("search, a ban with an expiry that lifts by itself, roles", async () => {
    const found = await h.api("GET", "/api/admin/users?search=ALICE", { token: admin.token });
    expect(found.body.items.map((u: { email: string }) => u.email)).toEqual(["alice@example.com"]);
    const until = new Date(h.clock.now().getTime() + 3_600_000).toISOString();
    const ban = await h.api("PUT", `/api/admin/users/${alice.id}/ban`, { token: admin.token, body: { banned: true, reason: "spam", expiresAt: until } });
    expect(ban.body).toMatchObject({ banned: true, banReason: "spam", banExpiresAt: until });
    const refused = await h.api("POST", "/api/auth/login", { body: { email: "alice@example.com", password: "an even better passphrase" } });
    expect(refused.body.error).toEqual({ code: "banned", message: `this account is banned until ${until}: spam` });
    h.clock.advance(3_600_001);
    const back = await h.api("POST", "/api/auth/login", { body: { email: "alice@example.com", password: "an even better passphrase" } });
    expect(back.status).toBe(200);
    alice = { ...alice, token: back.body.accessToken };
    const relogin = await h.api("POST", "/api/auth/login", { body: { email: "root@example.com", password: "correct horse battery" } });
    admin = { ...admin, token: relogin.body.accessToken };
    expect((await h.api("PUT", `/api/admin/users/${alice.id}/role`, { token: admin.token, body: { role: "admin" } })).body.role).toBe("admin");
    expect((await h.api("GET", "/api/admin/users?limit=1", { token: alice.token })).status).toBe(200);
    expect((await h.api("PUT", `/api/admin/users/${alice.id}/role`, { token: admin.token, body: { role: "user" } })).body.role).toBe("user");
    expect((await h.api("GET", "/api/admin/users?limit=1", { token: alice.token })).status).toBe(403);
    expect((await h.api("GET", "/api/admin/nodes", { token: admin.token })).body.items[0]).toMatchObject({ node: "pve1", maxcpu: 8 });
  });

  it("every stack with its condition and last error; a stalled stack is queued again on request", async () => {
    const base = {
      appliedHash: undefined,
      appliedSpec: undefined,
      appliedPlatform: undefined,
      stoppedFor: undefined,
      removalAt: undefined,
      removalHeld: false,
      hasResources: true,
      lastRunId: 3,
      failures: 3,
      nextAttemptAt: undefined,
      updatedAt: "2026-11-30T09:00:00Z",
    };
    const run = {
      id: 3,
      stack: "carol",
      action: "up",
      state: "failed",
      specHash: "h",
      mode: "simulation",
      queuedAt: "t",
      startedAt: "t",
      finishedAt: "t",
      outputs: undefined,
      errorCode: "pve.server",
      errorMessage: "proxmox: clone 9000 → 2000: storage full",
    } as const;
    h.engine.setStack({ ...base, name: "carol", condition: "Stalled", reason: "RepeatedFailures", message: "storage full" }, [run]);
    h.engine.setStack({ ...base, name: "alice", condition: "Ready", reason: "Applied", message: "", failures: 0 });
    const list = await h.api("GET", "/api/admin/stacks", { token: admin.token });
    expect(list.body.items).toEqual([
      {
        name: "carol",
        condition: "Stalled",
        reason: "RepeatedFailures",
        message: "storage full",
        owner: "carol@example.com",
        lastError: "proxmox: clone 9000 → 2000: storage full",
        updatedAt: "2026-11-30T09:00:00Z",
      },
      { name: "alice", condition: "Ready", reason: "Applied", message: "", owner: "alice@example.com", lastError: null, updatedAt: "2026-11-30T09:00:00Z" },
    ]);
    const before = h.engine.enqueued.length;
    expect((await h.api("POST", "/api/admin/stacks/carol/retry", { token: admin.token })).status).toBe(202);
    expect(h.engine.enqueued.slice(before)).toEqual(["carol"]);
    expect((await h.api("POST", "/api/admin/stacks/nobody/retry", { token: admin.token })).status).toBe(404);
  });
});

describe("server", () => {
  it("OpenAPI 3.1 lists every route with schemas that compile", async () => {
    const doc = (await h.api("GET", "/api/openapi.json")).body;
    expect(doc.openapi).toBe("3.1.0");
    const routes = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([p, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`),
    );
    for (const r of [
      "POST /api/auth/register",
      "POST /api/auth/verify-email",
      "POST /api/auth/login",
      "POST /api/auth/refresh",
      "POST /api/auth/logout",
      "GET /api/auth/me",
      "PUT /api/auth/password",
      "GET /api/templates",
      "GET /api/plans",
      "GET /api/instances",
      "POST /api/instances",
      "GET /api/instances/{id}",
      "DELETE /api/instances/{id}",
      "PATCH /api/instances/{id}",
      "POST /api/instances/{id}/start",
      "POST /api/instances/{id}/stop",
      "POST /api/instances/{id}/reboot",
      "GET /api/instances/{id}/domains",
      "POST /api/instances/{id}/domains",
      "DELETE /api/instances/{id}/domains/{subdomain}",
      "GET /api/instances/{id}/snapshots",
      "POST /api/instances/{id}/snapshots",
      "POST /api/instances/{id}/snapshots/{name}/rollback",
      "DELETE /api/instances/{id}/snapshots/{name}",
      "GET /api/instances/{id}/backups",
      "POST /api/instances/{id}/backups",
      "DELETE /api/instances/{id}/backups/{volid}",
      "GET /api/instances/{id}/stats",
      "GET /api/instances/{id}/stats/history",
      "POST /api/instances/{id}/terminal",
      "GET /api/vpn",
      "POST /api/vpn/config",
      "PUT /api/vpn/key",
      "GET /api/events",
      "GET /api/points",
      "GET /api/points/ledger",
      "GET /api/admin/users",
      "PUT /api/admin/users/{id}/ban",
      "PUT /api/admin/users/{id}/role",
      "POST /api/admin/users/{id}/points",
      "GET /api/admin/stacks",
      "POST /api/admin/stacks/{name}/retry",
      "GET /api/admin/nodes",
    ])
      expect(routes).toContain(r);
    const ajv = new Ajv2020({ strict: false });
    let compiled = 0;
    for (const ops of Object.values(doc.paths as Record<string, Record<string, { requestBody?: { content: Record<string, { schema: object }> } }>>)) {
      for (const op of Object.values(ops)) {
        const s = op.requestBody?.content["application/json"]?.schema;
        if (s) {
          ajv.compile(s);
          compiled++;
        }
      }
    }
    expect(compiled).toBeGreaterThan(15);
    const register = doc.paths["/api/auth/register"].post.requestBody.content["application/json"].schema;
    expect(register.additionalProperties).toBe(false);
    expect(register.required).toEqual(["email", "password"]);
  });

  it("security headers, no CORS by default, /healthz and /metrics with route patterns and engine gauges", async () => {
    const r = await h.api("GET", "/healthz", { headers: { origin: "https://evil.example" } });
    expect(r.body).toEqual({ ok: true });
    expect(r.headers.get("access-control-allow-origin")).toBeNull();
    expect(r.headers.get("x-powered-by")).toBeNull();
    expect(r.headers.get("x-content-type-options")).toBe("nosniff");
    expect(r.headers.get("x-frame-options")).toBe("DENY");
    expect(r.headers.get("content-security-policy")).toBe("default-src 'none'; frame-ancestors 'none'; base-uri 'none'");
    const m = await h.api("GET", "/metrics");
    expect(m.text).toMatch(/proxstack_http_requests_total\{method="GET",route="\/api\/instances\/:id\/stats",status="200"\} 1/);
    expect(m.text).toContain('proxstack_engine_queue_depth{state="queued"} 0');
    expect(m.text).toContain("proxstack_engine_runs_total");
  });

  it("CORS only for configured origins; trust proxy only when configured", async () => {
    const other = await startHarness({ corsOrigins: ["https://app.example"], trustProxy: "loopback", authRequestsPerIp: 2 });
    try {
      const pre = await other.api("OPTIONS", "/api/instances", { headers: { origin: "https://app.example", "access-control-request-method": "POST" } });
      expect([pre.status, pre.headers.get("access-control-allow-origin")]).toEqual([204, "https://app.example"]);
      expect((await other.api("GET", "/healthz", { headers: { origin: "https://evil.example" } })).headers.get("access-control-allow-origin")).toBeNull();
      const from = (ip: string) => other.api("POST", "/api/auth/resend-verification", { body: { email: "x@example.com" }, headers: { "x-forwarded-for": ip } });
      expect([(await from("198.51.100.1")).status, (await from("198.51.100.1")).status, (await from("198.51.100.1")).status]).toEqual([202, 202, 429]);
      expect((await from("198.51.100.2")).status).toBe(202);
    } finally {
      await other.close();
    }
  });
});
