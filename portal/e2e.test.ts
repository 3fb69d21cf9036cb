// End to end: the portal beside the composed engine in simulation — register, verify, create, domain in the tunnel, snapshot, rollback, stop, delete.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { composeEngine, type ComposedEngine } from "../app/compose.js";
import { startPortal, type RunningPortal } from "../app/portal.js";
import { createProxmoxClient } from "../clients/proxmox/client.js";
import { waitFor } from "../engine/testing/engine-test-support.js";
import { silentLogger } from "../lib/logger.js";
import { loadConfig, type Config } from "../schemas/config.js";
import { client, codeFromOutbox } from "./testing/http.js";
import { createSqliteLedger } from "./testing/sqlite-ledger.js";

const REPO = resolve(import.meta.dirname, "..");
const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKInZte4N4jzWW5jRTjyVW2dB3e0ryh5PFdf4g4KQ/Pn dana@laptop";
let root: string;
let config: Config;
let composed: ComposedEngine;
let portal: RunningPortal;
let api: ReturnType<typeof client>;

const git = (...args: string[]) => execFileSync("git", ["-C", config.stacksDir, ...args], { encoding: "utf8" });

/** Ingress rules of the simulated tunnel, read from the simulator's own database. */
function ingress(): { hostname?: string; service: string }[] {
  const db = new Database(join(config.dataDir, "simulation", "cloudflare.db"), { readonly: true });
  try {
    const row = db.prepare("SELECT doc FROM tunnel_configs").get() as { doc: string } | undefined;
    const doc = row ? (JSON.parse(row.doc) as { config?: { ingress?: { hostname?: string; service: string }[] } }) : undefined;
    return doc?.config?.ingress ?? [];
  } finally {
    db.close();
  }
}

async function signUp(email: string, name: string): Promise<{ token: string; stack: string }> {
  expect((await api("POST", "/api/auth/register", { body: { email, password: "correct horse battery", name } })).status).toBe(201);
  const verified = await api("POST", "/api/auth/verify-email", { body: { email, code: codeFromOutbox(config.mail.outboxDir, email) } });
  expect(verified.status).toBe(200);
  const login = await api("POST", "/api/auth/login", { body: { email, password: "correct horse battery" } });
  expect(login.status).toBe(200);
  return { token: login.body.accessToken as string, stack: verified.body.user.stack as string };
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "portal-e2e-"));
  config = loadConfig({ PROXSTACK_DATA_DIR: join(root, "data") }, root);
  composed = await composeEngine(config, { log: silentLogger(), repoRoot: REPO, options: { debounceMs: 30, platformQuietMs: 100 } });
  await composed.engine.start();
  await waitFor(() => ["alice", "bob", "carol", "platform"].every((s) => composed.engine.store.getStack(s)?.reason === "Applied"), "first convergence", 90_000);
  portal = await startPortal(config, { composed, log: silentLogger(), ledger: createSqliteLedger(), port: 0, host: "127.0.0.1" });
  api = client(portal.url);
}, 120_000);

afterAll(async () => {
  await portal?.close();
  await composed?.close();
  rmSync(root, { recursive: true, force: true });
});

describe("portal end to end (engine in simulation)", () => {
  it("serve.json names the portal (0600)", () => {
    const file = join(config.dataDir, "serve.json");
    const doc = JSON.parse(readFileSync(file, "utf8")) as { mode: string; portal: { url: string }; pve: { url: string } };
    expect(doc.mode).toBe("simulation");
    expect(doc.portal.url).toBe(portal.url);
    expect(doc.pve.url).toBe(composed.simulators.pve!.url);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it("register → verify → create → running → domain in the tunnel (catch-all last) → snapshot → rollback → stop → delete", async () => {
    const { token, stack } = await signUp("dana@example.com", "Dana Scully");
    expect(stack).toBe("dana-scully");
    const points = await api("GET", "/api/points", { token });
    expect(points.body).toEqual({ balance: 100, balanceMicro: 100_000_000, burnPerDay: 0, runwaySeconds: null });

    const created = await api("POST", "/api/instances", { token, body: { name: "web", template: "debian-12", plan: "small", sshKeys: [KEY] } });
    expect(created.status).toBe(202);
    expect(created.body).toMatchObject({ id: "dana-scully.web", state: "provisioning", plan: "small", pointsPerDay: 24 });
    const file = join(config.stacksDir, "dana-scully.yaml");
    // After every step: the header comment is intact and the working tree is committed. The engine may be writing
    // its allocation back into the file (and committing it) right after a change: the tree settles committed.
    const intact = async () => {
      expect(readFileSync(file, "utf8")).toMatch(
        /^# Stack of dana@example\.com, created by the proxstack portal\. Edit freely: comments and layout are kept\.\n/,
      );
      await expect.poll(() => git("status", "--porcelain", "--", "dana-scully.yaml"), { timeout: 10_000 }).toBe("");
    };
    await intact();

    await waitFor(async () => (await api("GET", "/api/instances/dana-scully.web", { token })).body?.state === "running", "web running", 60_000);
    const running = (await api("GET", "/api/instances/dana-scully.web", { token })).body;
    expect(running.vmid).toBe(2004);
    expect(running.ip).toMatch(/^10\.10\.0\.\d+$/);
    await intact();

    const domain = await api("POST", "/api/instances/dana-scully.web/domains", { token, body: { subdomain: "www", port: 80 } });
    expect(domain.status).toBe(201);
    expect(domain.body).toEqual({ subdomain: "www", port: 80, hostname: "dana-scully-web-www.example.com", pointsPerDay: 0 });
    await waitFor(() => ingress().some((r) => r.hostname === "dana-scully-web-www.example.com"), "hostname in the tunnel", 60_000);
    const rules = ingress();
    expect(rules.at(-1)).toEqual({ service: "http_status:404" });
    expect(rules.find((r) => r.hostname === "dana-scully-web-www.example.com")?.service).toBe(`http://${running.ip}:80`);
    await intact();

    expect((await api("POST", "/api/instances/dana-scully.web/snapshots", { token, body: { name: "before", description: "first" } })).status).toBe(201);
    const snaps = await api("GET", "/api/instances/dana-scully.web/snapshots", { token });
    expect(snaps.body.items.map((s: { name: string }) => s.name)).toEqual(["before"]);
    const rolled = await api("POST", "/api/instances/dana-scully.web/snapshots/before/rollback", { token });
    expect(rolled.status).toBe(200);
    const stats = await api("GET", "/api/instances/dana-scully.web/stats", { token });
    expect(stats.status).toBe(200);
    expect(stats.body.state).toBe("running");
    const history = await api("GET", "/api/instances/dana-scully.web/stats/history?timeframe=hour", { token });
    expect(history.status).toBe(200);
    expect(history.body.points.length).toBeGreaterThan(0);

    expect((await api("POST", "/api/instances/dana-scully.web/stop", { token })).status).toBe(202);
    await waitFor(async () => (await api("GET", "/api/instances/dana-scully.web", { token })).body?.state === "stopped", "web stopped", 60_000);
    const pve = createProxmoxClient({ endpoint: composed.simulators.pve!.url, token: composed.simulators.pve!.token, taskPollMs: 10 });
    expect((await pve.containerStatus("pve1", 2004)).status).toBe("stopped");
    await intact();

    expect((await api("DELETE", "/api/instances/dana-scully.web", { token })).status).toBe(202);
    await waitFor(async () => !(await pve.listContainers("pve1")).some((c) => c.vmid === 2004), "container destroyed", 60_000);
    await waitFor(() => !ingress().some((r) => r.hostname === "dana-scully-web-www.example.com"), "hostname gone from the tunnel", 60_000);
    expect((await api("GET", "/api/instances/dana-scully.web", { token })).status).toBe(404);

    // One commit per change, authored by Dana; the engine's allocation write-backs are its own.
    const log = git("log", "--reverse", "--format=%an <%ae>|%s", "--", "dana-scully.yaml").trim().split("\n");
    expect(log.filter((l) => l.startsWith("Dana Scully <dana@example.com>|"))).toEqual([
      "Dana Scully <dana@example.com>|portal: dana-scully adds instance web (debian-12, small)",
      "Dana Scully <dana@example.com>|portal: dana-scully adds domain dana-scully-web-www.example.com → web:80",
      "Dana Scully <dana@example.com>|portal: dana-scully stops web",
      "Dana Scully <dana@example.com>|portal: dana-scully deletes instance web",
    ]);
    expect(log.filter((l) => !l.startsWith("Dana Scully"))).toEqual([
      expect.stringMatching(/^proxstack engine <engine@proxstack\.invalid>\|engine: allocate dana-scully/),
    ]);
    const text = readFileSync(file, "utf8");
    expect(text).toMatch(/^# Stack of dana@example\.com, created by the proxstack portal/);
    expect(text).not.toContain("name: web");
    expect(git("status", "--porcelain")).toBe("");
  }, 240_000);

  it("alice (an existing owner) registers, claims her stack and edits it: every comment survives, the diff is only the change", async () => {
    const before = readFileSync(join(config.stacksDir, "alice.yaml"), "utf8");
    const { token, stack } = await signUp("alice@example.com", "Alice");
    expect(stack).toBe("alice");
    const list = await api("GET", "/api/instances", { token });
    expect(list.body.items.map((i: { id: string }) => i.id)).toEqual(["alice.web", "alice.dev"]);
    expect(list.body.items[0]).toMatchObject({
      state: "running",
      vmid: 2001,
      ip: "10.10.0.21",
      protected: true,
      hostnames: ["alice-web-www.example.com", "alice-web-api.example.com"],
    });

    const added = await api("POST", "/api/instances/alice.dev/domains", { token, body: { subdomain: "docs", port: 3000 } });
    expect(added.status).toBe(201);
    const after = readFileSync(join(config.stacksDir, "alice.yaml"), "utf8");
    for (const line of before.split("\n").filter((l) => l.includes("#"))) expect(after).toContain(line);
    const diff = git("diff", "HEAD~1", "HEAD", "--unified=0", "--", "alice.yaml")
      .split("\n")
      .filter((l) => /^[+-][^+-]/.test(l));
    expect(diff).toEqual(["+    domains:", "+      - subdomain: docs", "+        port: 3000"]);
    expect(git("log", "-1", "--format=%an <%ae>|%s")).toBe("Alice <alice@example.com>|portal: alice adds domain alice-dev-docs.example.com → dev:3000\n");

    // The protected web instance refuses deletion, and nothing is written.
    const head = git("rev-parse", "HEAD");
    const refused = await api("DELETE", "/api/instances/alice.web", { token });
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe("protected");
    expect(git("rev-parse", "HEAD")).toBe(head);
  }, 120_000);
});
