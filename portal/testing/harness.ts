// Test support: the portal in-process (createApp) over a temp stacks git repository, real SQLite, a fake engine view,
// a fake Proxmox, a fake terminal and an outbox in a temp dir.
import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { manualClock } from "../../lib/clock.js";
import { silentLogger } from "../../lib/logger.js";
import { createSpecStore } from "../../stackfiles/spec-store.js";
import type { VpnClient } from "../../vpn/client.js";
import { createApp, type PortalApp } from "../app.js";
import type { PortalOptions, PortalProxmox } from "../context.js";
import { openPortalDb, type PortalDb } from "../db.js";
import type { EngineView, InstanceStatus, RunRecord, StackStatus, StatusEvent } from "../engine-view.js";
import { createOutboxTransport } from "../mail.js";
import { createPasswordHasher } from "../passwords.js";
import { gitStackHistory } from "../stack-history.js";
import type { TerminalSession, TerminalSessions } from "../terminal-session.js";
import { client, codeFromOutbox } from "./http.js";
import { createSqliteLedger } from "./sqlite-ledger.js";

const REPO = resolve(import.meta.dirname, "../..");

export interface FakeEngine extends EngineView {
  /** Marks every instance of every valid stack file ready (vmid/ip from the file, else allocated here). */
  settle(): Promise<void>;
  emit(e: StatusEvent): void;
  enqueued: string[];
  /** Sets a stack's status row (what getStack/listStacks answer) and its runs. */
  setStack(s: StackStatus, runs?: RunRecord[]): void;
}

function fakeEngine(specs: ReturnType<typeof createSpecStore>): FakeEngine {
  const rows = new Map<string, InstanceStatus[]>();
  const listeners = new Set<(e: StatusEvent) => void>();
  let nextVmid = 2100;
  const enqueued: string[] = [];
  const stacks = new Map<string, StackStatus>();
  const runs = new Map<string, RunRecord[]>();
  return {
    enqueued,
    setStack(st, r = []) {
      stacks.set(st.name, st);
      runs.set(st.name, r);
    },
    getStack: (n) => stacks.get(n),
    listStacks: () => [...stacks.values()],
    listInstances: (s) => rows.get(s) ?? [],
    listRuns: (s) => runs.get(s) ?? [],
    subscribe(l) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    enqueue: (s) => void enqueued.push(s),
    queueStats: () => ({ queued: 0, running: 0, delayed: 0 }),
    emit: (e) => listeners.forEach((l) => l(e)),
    async settle() {
      for (const f of await specs.list()) {
        const old = rows.get(f.stack) ?? [];
        rows.set(
          f.stack,
          (f.spec?.instances ?? []).map((i) => {
            const prev = old.find((o) => o.name === i.name);
            const vmid = i.vmid ?? prev?.vmid ?? nextVmid++;
            return {
              stack: f.stack,
              name: i.name,
              vmid,
              ip: i.ip ?? prev?.ip ?? `10.10.0.${vmid - 2000}`,
              power: i.power,
              state: "ready",
              updatedAt: "2026-11-30T00:00:00.000Z",
            };
          }),
        );
      }
    },
  };
}

export interface FakePve extends PortalProxmox {
  snapshots: Map<number, { name: string; description: string }[]>;
  calls: string[];
}

function fakePve(): FakePve {
  const snapshots = new Map<number, { name: string; description: string }[]>();
  const calls: string[] = [];
  const task = { upid: "UPID:pve1:1:1:1:x:1:root@pam:", exitstatus: "OK", log: [] };
  return {
    snapshots,
    calls,
    containerStatus: async (_n, vmid) => (
      calls.push(`status ${vmid}`),
      { vmid, status: "running", cpu: 0.1, cpus: 1, mem: 100, maxmem: 512, disk: 10, maxdisk: 80, netin: 1, netout: 2, uptime: 60 }
    ),
    rrddata: async (_n, vmid) => (calls.push(`rrd ${vmid}`), [{ time: 1, cpu: 0.1 }]),
    listSnapshots: async (_n, vmid) => [...(snapshots.get(vmid) ?? []), { name: "current", description: "You are here!" }],
    createSnapshot: async (_n, vmid, name, description) => {
      calls.push(`snapshot ${vmid} ${name}`);
      snapshots.set(vmid, [...(snapshots.get(vmid) ?? []), { name, description: description ?? "" }]);
      return task;
    },
    deleteSnapshot: async (_n, vmid, name) => {
      calls.push(`delsnapshot ${vmid} ${name}`);
      snapshots.set(
        vmid,
        (snapshots.get(vmid) ?? []).filter((s) => s.name !== name),
      );
      return task;
    },
    rollbackSnapshot: async (_n, vmid, name) => (calls.push(`rollback ${vmid} ${name}`), task),
    backup: async (_n, vmid) => (calls.push(`backup ${vmid}`), { ...task, archive: `/var/lib/vz/dump/vzdump-lxc-${vmid}-2026_11_30-00_00_00.tar.zst` }),
    listBackups: async (_n, vmid) =>
      [{ upid: task.upid, vmid: vmid ?? 0, archive: `/var/lib/vz/dump/vzdump-lxc-${vmid}-2026_11_29-00_00_00.tar.zst`, starttime: 1_795_910_400 }].filter(
        (b) => !calls.includes(`delvolume local local:backup/${b.archive.split("/").at(-1) ?? ""}`),
      ),
    deleteVolume: async (_n, storage, volid) => (calls.push(`delvolume ${storage} ${volid}`), task),
    rebootContainer: async (_n, vmid) => (calls.push(`reboot ${vmid}`), task),
    nodes: async () => [{ node: "pve1", status: "online", cpu: 0.1, maxcpu: 8, mem: 1, maxmem: 2 }],
  };
}

/** A terminal that echoes input back, so WebSocket plumbing is tested without sshd. */
function echoTerminal(): TerminalSessions & { opened: string[] } {
  const opened: string[] = [];
  return {
    opened,
    async open(req) {
      opened.push(`${req.stack}.${req.instance}`);
      const listeners = new Set<(b: Buffer) => void>();
      let done!: (v: { exitCode: number | null }) => void;
      const closed = new Promise<{ exitCode: number | null }>((r) => (done = r));
      const s: TerminalSession = {
        write: (d) => listeners.forEach((l) => l(Buffer.from(String(d)))),
        onData: (l) => (listeners.add(l), () => listeners.delete(l)),
        resize: () => undefined,
        close: () => done({ exitCode: 0 }),
        closed,
      };
      return s;
    },
  };
}

export interface Harness {
  root: string;
  stacksDir: string;
  outbox: string;
  url: string;
  api: ReturnType<typeof client>;
  clock: ReturnType<typeof manualClock>;
  engine: FakeEngine;
  pve: FakePve;
  terminal: ReturnType<typeof echoTerminal>;
  db: PortalDb;
  portal: PortalApp;
  ledger: ReturnType<typeof createSqliteLedger>;
  secret: Uint8Array;
  git(...args: string[]): string;
  /** Registers, verifies and logs in; returns the tokens and the account's stack. */
  signUp(email: string, name: string, password?: string): Promise<{ token: string; refresh: string; stack: string; id: number }>;
  /** Every stack file's bytes, the git HEAD, and the accounts and ledger tables: what a refused request must leave as it was. */
  snapshot(): string;
  close(): Promise<void>;
}

export async function startHarness(
  options: Partial<PortalOptions> = {},
  extra: { vpn?: VpnClient; terminal?: TerminalSessions; webDist?: string } = {},
): Promise<Harness> {
  const root = mkdtempSync(join(tmpdir(), "portal-test-"));
  const stacksDir = join(root, "stacks");
  cpSync(join(REPO, "stacks"), stacksDir, { recursive: true });
  const git = (...args: string[]) =>
    execFileSync("git", ["-C", stacksDir, "-c", "user.name=seed", "-c", "user.email=seed@example.invalid", ...args], { encoding: "utf8" });
  git("init", "-q", "-b", "main");
  git("add", "-A");
  git("commit", "-q", "-m", "seed");
  const clock = manualClock(new Date("2026-11-30T10:00:00Z"));
  const specs = createSpecStore(stacksDir);
  const engine = fakeEngine(specs);
  await engine.settle();
  const pve = fakePve();
  const terminal = echoTerminal();
  const db = openPortalDb(join(root, "portal.db"));
  const ledger = createSqliteLedger();
  const outbox = join(root, "outbox");
  const secret = new Uint8Array(Buffer.from("0123456789abcdef0123456789abcdef-test-secret"));
  const portal = createApp({
    db,
    specs,
    engine,
    ledger,
    mail: createOutboxTransport(outbox, "portal@example.invalid", clock),
    clock,
    log: silentLogger(),
    jwtSecret: secret,
    pve,
    stackRepo: { stacksDir, dataDir: root },
    terminal: extra.terminal ?? terminal,
    ...(extra.vpn ? { vpn: extra.vpn } : {}),
    ...(extra.webDist ? { webDist: extra.webDist } : {}),
    history: gitStackHistory(stacksDir),
    hasher: createPasswordHasher({ N: 1 << 10, r: 8, p: 1 }),
    options: { heartbeatMs: 50, ...options },
  });
  const server: Server = createServer(portal.app);
  portal.attach(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const api = client(url);
  return {
    root,
    stacksDir,
    outbox,
    url,
    api,
    clock,
    engine,
    pve,
    terminal,
    db,
    portal,
    ledger,
    secret,
    git,
    async signUp(email, name, password = "correct horse battery") {
      const reg = await api("POST", "/api/auth/register", { body: { email, password, name } });
      if (reg.status !== 201) throw new Error(`register ${email}: ${reg.status} ${reg.text}`);
      const v = await api("POST", "/api/auth/verify-email", { body: { email, code: codeFromOutbox(outbox, email) } });
      if (v.status !== 200) throw new Error(`verify ${email}: ${v.status} ${v.text}`);
      const login = await api("POST", "/api/auth/login", { body: { email, password } });
      if (login.status !== 200) throw new Error(`login ${email}: ${login.status} ${login.text}`);
      return { token: login.body.accessToken, refresh: login.body.refreshToken, stack: v.body.user.stack, id: v.body.user.id };
    },
    snapshot() {
      const files = readdirSync(stacksDir)
        .filter((f) => f.endsWith(".yaml"))
        .sort()
        .map((f) => `${f}:${readFileSync(join(stacksDir, f), "utf8")}`);
      const head = git("rev-parse", "HEAD").trim();
      const accounts = JSON.stringify(
        db.prepare("SELECT id, email, name, password_hash, role, verified_at, stack, banned, ban_reason, ban_expires_at FROM accounts ORDER BY id").all(),
      );
      const balances = JSON.stringify(
        db
          .prepare("SELECT stack FROM accounts WHERE stack IS NOT NULL ORDER BY id")
          .all()
          .map((r) => {
            const s = (r as { stack: string }).stack;
            return [s, ledger.balanceMicro(s), ledger.entries(s, { offset: 0, limit: 1 }).total];
          }),
      );
      return [head, accounts, balances, ...files].join("\n---\n");
    },
    async close() {
      portal.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      db.close();
      ledger.close();
      rmSync(root, { recursive: true, force: true });
    },
  };
}
