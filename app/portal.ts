// Starts the portal beside a composed engine: its database, spec store, mail, Proxmox client, terminal, HTTP server and <data dir>/serve.json.
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import type { Router } from "express";
import { createProxmoxClient } from "../clients/proxmox/client.js";
import type { Engine } from "../engine/engine.js";
import { systemClock, type Clock } from "../lib/clock.js";
import { ProxstackError } from "../lib/errors.js";
import type { Logger } from "../lib/logger.js";
import { createApp, type PortalApp } from "../portal/app.js";
import type { PortalOptions, PortalProxmox } from "../portal/context.js";
import { openPortalDb } from "../portal/db.js";
import type { EngineView } from "../portal/engine-view.js";
import { createOutboxTransport, createSmtpTransport, type MailTransport } from "../portal/mail.js";
import type { PointsLedger } from "../portal/points-ledger.js";
import { createTerminalSessions } from "../portal/terminal-session.js";
import type { Config } from "../schemas/config.js";
import { createHostKeyStore } from "../ssh/host-keys.js";
import { loadProvisioningIdentity } from "../ssh/provisioning-key.js";
import { createSpecStore } from "../stackfiles/spec-store.js";
import { gitStackHistory } from "../portal/stack-history.js";
import type { VpnClient } from "../vpn/client.js";
import type { ComposedEngine } from "./compose.js";

export interface StartPortalDeps {
  composed: ComposedEngine;
  log: Logger;
  /** The points ledger (billing's). */
  ledger: PointsLedger;
  vpn?: VpnClient;
  clock?: Clock;
  /** Port to listen on; default config.port (0 picks a free one). */
  port?: number;
  /** @default 0.0.0.0 */
  host?: string;
  options?: Partial<PortalOptions>;
  mail?: MailTransport;
  /** Routers that read the raw body themselves (the git push webhook), mounted before the JSON parser. */
  rawBodyRouters?: Router[];
  /** The built web portal; default portal/web/dist beside this checkout (served when it exists). */
  webDist?: string;
}

/** Where `npm run build:web` writes the web portal. */
export const WEB_DIST = path.resolve(import.meta.dirname, "../portal/web/dist");

export interface RunningPortal {
  url: string;
  server: Server;
  portal: PortalApp;
  close(): Promise<void>;
}

/** The engine as the portal sees it: reads and "look at this stack now". */
export function engineView(engine: Engine): EngineView {
  return {
    getStack: (n) => engine.store.getStack(n),
    listStacks: () => engine.store.listStacks(),
    listInstances: (s) => engine.store.listInstances(s),
    listRuns: (s, limit) => engine.store.listRuns(s, limit),
    subscribe: (l) => engine.store.subscribe(l),
    enqueue: (s) => engine.enqueue(s, "portal"),
    queueStats: () => engine.queue.stats(),
  };
}

/** The token signing secret: read from its file, or generated there (0600) on first start. */
export function loadJwtSecret(file: string): Uint8Array {
  if (existsSync(file)) {
    const s = Buffer.from(readFileSync(file, "utf8").trim(), "base64url");
    if (s.length < 32)
      throw new ProxstackError("jwt-secret-short", `PORTAL_JWT_SECRET_FILE ${file}: the secret must be at least 32 bytes (base64url)`, { kind: "stall" });
    return s;
  }
  mkdirSync(path.dirname(file), { recursive: true });
  const s = randomBytes(48);
  writeFileSync(file, s.toString("base64url") + "\n", { mode: 0o600 });
  return s;
}

export async function startPortal(config: Config, deps: StartPortalDeps): Promise<RunningPortal> {
  const clock = deps.clock ?? systemClock;
  const log = deps.log.child({ component: "portal" });
  mkdirSync(config.dataDir, { recursive: true });
  const db = openPortalDb(path.join(config.dataDir, "portal.db"));
  const sim = deps.composed.simulators;
  const pve: PortalProxmox | undefined = config.proxmox
    ? createProxmoxClient({
        endpoint: config.proxmox.endpoint,
        token: config.proxmox.token,
        tls: { insecure: config.proxmox.insecure, ...(config.proxmox.fingerprint ? { fingerprint: config.proxmox.fingerprint } : {}) },
      })
    : sim?.pve
      ? createProxmoxClient({ endpoint: sim.pve.url, token: sim.pve.token, taskPollMs: 20 })
      : undefined;
  const mail =
    deps.mail ??
    (config.mail.smtpUrl ? createSmtpTransport(config.mail.smtpUrl, config.mail.from) : createOutboxTransport(config.mail.outboxDir, config.mail.from, clock));
  const identity = await loadProvisioningIdentity(config.dataDir).catch(() => undefined);
  const engine = engineView(deps.composed.engine);
  const specs = createSpecStore(config.stacksDir);
  // The same pins the ssh-harden hook records: the terminal refuses a host whose key changed.
  const hostKeys = identity ? createHostKeyStore(path.join(config.dataDir, "host-keys.db"), clock) : undefined;
  const terminal =
    identity && hostKeys
      ? createTerminalSessions({
          identity,
          hostKeys,
          log,
          // The host comes from the engine's state only; the Linux user from the stack file the engine applied.
          lookup: (stack, instance) => {
            const row = engine.listInstances(stack).find((i) => i.name === instance && i.state !== "destroyed" && i.power === "running");
            const applied = engine.getStack(stack)?.appliedSpec as { linuxUser?: unknown } | undefined;
            return row?.ip && typeof applied?.linuxUser === "string" ? { ip: row.ip, linuxUser: applied.linuxUser } : undefined;
          },
        })
      : undefined;
  const portal = createApp({
    db,
    specs,
    engine,
    ledger: deps.ledger,
    mail,
    clock,
    log,
    jwtSecret: loadJwtSecret(config.portal.jwtSecretFile),
    stackRepo: { stacksDir: config.stacksDir, dataDir: config.dataDir },
    ...(pve ? { pve } : {}),
    ...(deps.vpn ? { vpn: deps.vpn } : {}),
    ...(terminal ? { terminal } : {}),
    ...(deps.rawBodyRouters ? { rawBodyRouters: deps.rawBodyRouters } : {}),
    mode: { mode: deps.composed.mode, providers: deps.composed.providers },
    history: gitStackHistory(config.stacksDir),
    webDist: deps.webDist ?? WEB_DIST,
    options: {
      corsOrigins: config.portal.corsOrigins,
      trustProxy: config.portal.trustProxy,
      runwayHours: config.portal.runwayHours,
      ...deps.options,
    },
  });
  const server = createServer(portal.app);
  portal.attach(server);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(deps.port ?? config.port, deps.host ?? "0.0.0.0", () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const url = `http://${deps.host && deps.host !== "0.0.0.0" ? deps.host : "127.0.0.1"}:${addr.port}`;
  writeServeJson(config.dataDir, {
    mode: deps.composed.mode,
    portal: { url },
    ...(sim?.pve ? { pve: { url: sim.pve.url, token: sim.pve.token } } : {}),
    ...(sim?.cloudflare ? { cloudflare: { url: sim.cloudflare.url, token: sim.cloudflare.token } } : {}),
  });
  log.info({ url }, "portal listening");
  return {
    url,
    server,
    portal,
    async close() {
      portal.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      hostKeys?.close();
      db.close();
    },
  };
}

/** `<data dir>/serve.json` (0600): how scripts and tests find the running portal (and, in simulation, the simulators). */
export function writeServeJson(dataDir: string, doc: Record<string, unknown>): void {
  const file = path.join(dataDir, "serve.json");
  const tmp = `${file}.${randomBytes(4).toString("hex")}.tmp`;
  writeFileSync(tmp, JSON.stringify(doc, null, 2) + "\n", { mode: 0o600 });
  renameSync(tmp, file);
}
