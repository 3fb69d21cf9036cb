// Benchmark: GET /api/instances for 1,000 users × 3 instances at 200 connections (autocannon) beside a bare express handler,
// and portal submit → instance running with the engine in simulation.
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { randomUUID } from "node:crypto";
import type autocannon from "autocannon";
import { fork } from "node:child_process";
import express from "express";
import { composeEngine } from "../app/compose.js";
import { startPortal } from "../app/portal.js";
import { systemClock } from "../lib/clock.js";
import { silentLogger } from "../lib/logger.js";
import { createApp } from "../portal/app.js";
import { openPortalDb } from "../portal/db.js";
import type { EngineView, InstanceStatus } from "../portal/engine-view.js";
import { createOutboxTransport } from "../portal/mail.js";
import { createPasswordHasher } from "../portal/passwords.js";
import { MICRO } from "../portal/points-ledger.js";
import { client, codeFromOutbox } from "../portal/testing/http.js";
import { createSqliteLedger } from "../portal/testing/sqlite-ledger.js";
import { loadConfig } from "../schemas/config.js";
import { createSpecStore } from "../stackfiles/spec-store.js";
import type { Bench, BenchFigure } from "./bench.js";
import type { LoadJob, LoadReply } from "./load-client.js";

const REPO = resolve(import.meta.dirname, "..");
const USERS = 1_000;
const CONNECTIONS = 200;
const DURATION_S = 10;
const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKInZte4N4jzWW5jRTjyVW2dB3e0ryh5PFdf4g4KQ/Pn bench@host";

function userFile(name: string): string {
  const inst = (n: string, plan: string) => `  - name: ${n}\n    template: debian-12\n    plan: ${plan}\n    domains:\n      - { subdomain: www, port: 80 }\n`;
  return (
    `# ${name}: generated for the portal benchmark\napiVersion: proxstack.dev/v1\nkind: UserStack\nname: ${name}\nowner:\n  email: ${name}@example.com\n` +
    `linuxUser: ${name}\nsshKeys:\n  - ${KEY}\ninstances:\n${inst("web", "small")}${inst("db", "medium")}${inst("dev", "small")}`
  );
}

async function listen(app: express.Express): Promise<{ url: string; server: Server }> {
  const server = createServer(app);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

/** Runs autocannon in a child process (bench/load-client.ts), so the load generator never shares the server's event loop. */
async function load(url: string, tokens: string[], durationS = DURATION_S): Promise<autocannon.Result> {
  const child = fork(join(import.meta.dirname, "load-client.ts"), [], {
    execArgv: ["--import", import.meta.resolve("tsx")],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const job: LoadJob = { url: `${url}/api/instances`, tokens, connections: CONNECTIONS, durationS };
  return new Promise((resolvePromise, reject) => {
    child.once("message", (reply: LoadReply) => (reply.ok ? resolvePromise(reply.result) : reject(new Error(`load generator: ${reply.error}`))));
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`load generator exited (${code}) without a result`)));
    child.send(job);
  });
}

export async function listInstances(): Promise<BenchFigure[]> {
  const root = mkdtempSync(join(tmpdir(), "portal-bench-"));
  try {
    const stacks = join(root, "stacks");
    mkdirSync(stacks);
    writeFileSync(join(stacks, "platform.yaml"), readFileSync(join(REPO, "stacks", "platform.yaml")));
    const rows = new Map<string, InstanceStatus[]>();
    const names = Array.from({ length: USERS }, (_, i) => `u${String(i).padStart(4, "0")}`);
    names.forEach((n, i) => {
      writeFileSync(join(stacks, `${n}.yaml`), userFile(n));
      rows.set(
        n,
        ["web", "db", "dev"].map((inst, j) => ({
          stack: n,
          name: inst,
          vmid: 10_000 + i * 3 + j,
          ip: `10.${10 + (i >> 8)}.${i & 255}.${20 + j}`,
          power: "running",
          state: "ready",
          updatedAt: "2026-11-30T00:00:00Z",
        })),
      );
    });
    const engine: EngineView = {
      getStack: () => undefined,
      listStacks: () => [],
      listInstances: (s) => rows.get(s) ?? [],
      listRuns: () => [],
      subscribe: () => () => undefined,
      enqueue: () => undefined,
      queueStats: () => ({ queued: 0, running: 0, delayed: 0 }),
    };
    const db = openPortalDb(join(root, "portal.db"));
    const portal = createApp({
      db,
      specs: createSpecStore(stacks),
      engine,
      ledger: createSqliteLedger(),
      mail: createOutboxTransport(join(root, "outbox"), "b@example.com", systemClock),
      clock: systemClock,
      log: silentLogger(),
      jwtSecret: new Uint8Array(48).fill(3),
      options: { authRequestsPerIp: 1_000_000 },
    });
    const hash = await createPasswordHasher().hash("bench password 123");
    const tokens: string[] = [];
    for (const n of names) {
      const a = portal.ctx.accounts.create({ email: `${n}@example.com`, name: n, passwordHash: hash, verified: true }, new Date());
      portal.ctx.accounts.verify(a.id, n, new Date());
      const family = randomUUID();
      portal.ctx.sessions.createSession(family, a.id, new Date());
      tokens.push(await portal.ctx.tokens.sign({ accountId: a.id, session: family }));
    }
    const api = await listen(portal.app);
    const sample = await (await fetch(`${api.url}/api/instances`, { headers: { authorization: `Bearer ${tokens[0]}` } })).text();
    if (!sample.includes('"total":3')) throw new Error(`unexpected answer: ${sample.slice(0, 200)}`);

    const bareApp = express();
    bareApp.get("/api/instances", (_req, res) => {
      res.json(JSON.parse(sample));
    });
    const bare = await listen(bareApp);
    // The machine's ceiling: node:http with no framework and no work, the same bytes written at once.
    const raw = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(sample) });
      res.end(sample);
    });
    await new Promise<void>((r) => raw.listen(0, "127.0.0.1", () => r()));
    const rawUrl = `http://127.0.0.1:${(raw.address() as AddressInfo).port}`;

    // Warm-up: every user once (each token verified and each file read, as a running portal would have), then JIT under load.
    for (let k = 0; k < tokens.length; k += 20) {
      await Promise.all(
        tokens.slice(k, k + 20).map(async (t) => (await fetch(`${api.url}/api/instances`, { headers: { authorization: `Bearer ${t}` } })).text()),
      );
    }
    await load(api.url, tokens, 3);
    const real = await load(api.url, tokens);
    await load(bare.url, tokens, 3);
    const base = await load(bare.url, tokens);
    await load(rawUrl, tokens, 3);
    const ceiling = await load(rawUrl, tokens);
    for (const s of [api.server, bare.server, raw]) {
      s.closeAllConnections();
      await new Promise<void>((r) => s.close(() => r()));
    }
    portal.close();
    db.close();
    if (real.non2xx > 0) throw new Error(`${real.non2xx} non-2xx answers in the portal run: ${JSON.stringify(real.statusCodeStats)}`);
    const ratio = real.requests.average / base.requests.average;
    const timeouts = {
      name: "requests that timed out or failed (portal / bare)",
      value: real.errors + real.timeouts,
      unit: "requests",
      baseline: { name: "bare", value: base.errors + base.timeouts },
    };
    return [
      {
        name: `GET /api/instances, ${USERS} users × 3 instances, ${CONNECTIONS} connections: requests/s`,
        value: real.requests.average,
        unit: "req/s",
        baseline: { name: "bare express handler, same answer", value: base.requests.average },
        goal: "≥ 50% of bare",
        met: ratio >= 0.5,
      },
      {
        name: "GET /api/instances p99 latency",
        value: real.latency.p99,
        unit: "ms",
        baseline: { name: "bare express handler p99", value: base.latency.p99 },
        goal: "< 50 ms",
        met: real.latency.p99 < 50,
      },
      {
        name: "raw node:http handler, same answer, no work (this machine's ceiling): p99 latency",
        value: ceiling.latency.p99,
        unit: "ms",
        baseline: { name: "bare express handler p99", value: base.latency.p99 },
      },
      {
        name: "raw node:http handler: requests/s",
        value: ceiling.requests.average,
        unit: "req/s",
        baseline: { name: "bare express handler", value: base.requests.average },
      },
      timeouts,
    ];
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/**
 * The user's live progress stream (GET /api/events): `changed(since)` resolves once an event arrived after `since`
 * (at once if one already did), or after `fallbackMs`; the bench asks GET again only then, instead of polling.
 */
async function progressEvents(url: string, token: string, fallbackMs = 250) {
  const abort = new AbortController();
  const res = await fetch(`${url}/api/events`, { headers: { authorization: `Bearer ${token}` }, signal: abort.signal });
  if (res.status !== 200 || !res.body) throw new Error(`GET /api/events: ${res.status}`);
  const reader = res.body.getReader();
  let seen = 0;
  let wake: (() => void) | undefined;
  void (async () => {
    for (;;) {
      const { done } = await reader.read().catch(() => ({ done: true }));
      if (done) return;
      seen++;
      wake?.();
    }
  })();
  return {
    get seen() {
      return seen;
    },
    changed: (since: number) =>
      new Promise<void>((resolvePromise) => {
        if (seen !== since) return resolvePromise();
        const timer = setTimeout(resolvePromise, fallbackMs);
        wake = () => {
          clearTimeout(timer);
          wake = undefined;
          resolvePromise();
        };
      }),
    close: () => abort.abort(),
  };
}

export async function submitToRunning(): Promise<BenchFigure[]> {
  const root = mkdtempSync(join(tmpdir(), "portal-bench-e2e-"));
  const config = loadConfig({ PROXSTACK_DATA_DIR: join(root, "data") }, root);
  const composed = await composeEngine(config, { log: silentLogger(), repoRoot: REPO, options: { debounceMs: 30, platformQuietMs: 100 } });
  await composed.engine.start();
  // The example stacks' first apply is not part of any submit: measure from a settled engine.
  await composed.engine.idle();
  const ledger = createSqliteLedger();
  const portal = await startPortal(config, { composed, log: silentLogger(), ledger, port: 0, host: "127.0.0.1" });
  try {
    const api = client(portal.url);
    const samples: number[] = [];
    const enqueue: number[] = [];
    for (const user of ["bench-a", "bench-b"]) {
      const email = `${user}@example.com`;
      await api("POST", "/api/auth/register", { body: { email, password: "correct horse battery", name: user } });
      const v = await api("POST", "/api/auth/verify-email", { body: { email, code: codeFromOutbox(config.mail.outboxDir, email) } });
      ledger.credit(v.body.user.stack, 1000 * MICRO, "admin-grant");
      const token = (await api("POST", "/api/auth/login", { body: { email, password: "correct horse battery" } })).body.accessToken as string;
      const events = await progressEvents(portal.url, token);
      for (let i = 0; i < 5; i++) {
        const t0 = performance.now();
        const r = await api("POST", "/api/instances", {
          token,
          body: { name: `i${i}`, template: "debian-12", plan: "small", ...(i === 0 ? { sshKeys: [KEY] } : {}) },
        });
        enqueue.push(performance.now() - t0);
        if (r.status !== 202) throw new Error(`create: ${r.status} ${r.text}`);
        for (;;) {
          const since = events.seen;
          if ((await api("GET", `/api/instances/${r.body.id}`, { token })).body.state === "running") break;
          await events.changed(since);
        }
        samples.push(performance.now() - t0);
      }
      events.close();
    }
    const p = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil(q * xs.length) - 1)] ?? NaN;
    return [
      {
        name: "portal submit → instance running (simulation), p95 of 10",
        value: p(samples, 0.95),
        unit: "ms",
        baseline: { name: "submit answered (202: edit, validate, commit), p95", value: p(enqueue, 0.95) },
        goal: "< 1000 ms",
        met: p(samples, 0.95) < 1000,
      },
      {
        name: "portal submit → instance running (simulation), p50",
        value: p(samples, 0.5),
        unit: "ms",
        baseline: { name: "submit answered, p50", value: p(enqueue, 0.5) },
      },
    ];
  } finally {
    await portal.close();
    await composed.close();
    rmSync(root, { recursive: true, force: true });
  }
}

export const bench: Bench = {
  title: "Portal API: instance listing under load, submit → running",
  description:
    `GET /api/instances with ${USERS} users of 3 instances each (one stack file per user, real SQLite sessions, JWT verified and the account and ban checked on every request), ` +
    `${CONNECTIONS} connections for ${DURATION_S} s with autocannon run in a child process (bench/load-client.ts), so the server's event loop is measured alone, ` +
    "after every user has asked once (tokens verified, files read: a running portal's state) and a 3 s warm-up; beside a bare express handler returning the same JSON in the same run, loaded the same way. " +
    "Then the portal beside the composed engine in simulation (default simulator task delay, 200 ms per Proxmox task; engine debounce 30 ms, platform quiet time 100 ms), once the example stacks are applied: POST /api/instances (edit, whole-set validation, git commit) until GET shows the instance running, 10 times; GET is asked again on each event of the user's GET /api/events stream (no fixed poll); baseline: the POST's own answer time. " +
    "On a shared machine the absolute figures follow its load (compare with the bare handler's rate in the same run); the ratio is the figure to read.",
  async run() {
    return [...(await listInstances()), ...(await submitToRunning())];
  },
};
