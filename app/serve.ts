// What `proxstack serve` (npm start) runs: the extras the host allows, the composed engine started, and a summary of what runs where.
import path from "node:path";
import type { Logger } from "../lib/logger.js";
import type { Config } from "../schemas/config.js";
import type { SimulatorFaults } from "../sim/start.js";
import { composeEngine, type ComposedEngine, type ComposeDeps, type Providers } from "./compose.js";
import { ensureDataDir } from "./data-dir.js";
import { serveExtras } from "./serve-extras.js";
import { createProxmoxClient, type ProxmoxClient } from "../clients/proxmox/client.js";
import { systemTimers } from "../engine/timers.js";
import { createGitHookRouter } from "../stackrepo/git-hook.js";
import { startSyncTimer, syncStackRepo } from "../stackrepo/sync.js";
import { systemClock } from "../lib/clock.js";
import { startBilling, type StartedBilling } from "./billing.js";
import { pointsLedgerOf } from "./points-ledger.js";
import { startPortal, type RunningPortal } from "./portal.js";

export interface ServeOptions {
  log: Logger;
  repoRoot: string;
  /** Back simulated containers with network-namespace hosts where the host allows. */
  realContainers: boolean;
  /** Start the VPN service in-process where the host allows (when VPN_URL is unset). */
  vpn: boolean;
  faults?: SimulatorFaults;
  /** Engine options and runner factories, for tests. */
  compose?: Pick<ComposeDeps, "options" | "runners" | "clock">;
  /** Portal port; default config.port (0 picks a free one). */
  port?: number;
}

/** The one JSON line `proxstack serve` prints on stdout: what runs and where. */
export interface ServeSummary {
  mode: ComposedEngine["mode"];
  providers: Providers;
  /** URL and token of each simulator that runs (simulated providers only). */
  simulators: { pve?: { url: string; token: string }; cloudflare?: { url: string; token: string } };
  /** Faults the simulators were started with; empty when none. */
  faults: SimulatorFaults;
  stacksDir: string;
  dataDir: string;
  statusDb: string;
  /** The web portal and its API. */
  portal: { url: string };
}

export interface RunningServe {
  composed: ComposedEngine;
  portal: RunningPortal;
  summary: ServeSummary;
  /** Lines for people: what runs, and why something does not. */
  notes: string[];
  close(): Promise<void>;
}

/** Starts everything serve runs; the caller waits for a signal and calls close(). */
export async function startServe(config: Config, opts: ServeOptions): Promise<RunningServe> {
  ensureDataDir(config.dataDir, opts.log);
  const extras = await serveExtras(config, opts.log, opts.repoRoot, { realContainers: opts.realContainers, vpn: opts.vpn });
  let composed: ComposedEngine;
  try {
    composed = await composeEngine(config, {
      log: opts.log,
      repoRoot: opts.repoRoot,
      ...extras.deps,
      ...opts.compose,
      options: {
        removalGraceMs: config.removal.graceMs,
        removalHoldAboveStacks: config.removal.holdAboveStacks,
        removalHoldAboveShare: config.removal.holdAboveShare,
        ...opts.compose?.options,
      },
      ...(opts.faults ? { faults: opts.faults } : {}),
    });
    await composed.engine.start();
  } catch (err) {
    await extras.close();
    throw err;
  }
  // After the engine: the stacks repository's sync, billing and the portal, each closed in reverse.
  const closers: (() => Promise<void>)[] = [];
  let portal: RunningPortal;
  try {
    const clock = opts.compose?.clock ?? systemClock;
    const sync = startSyncTimer({
      sync: () => syncStackRepo({ dir: config.stacksDir, dataDir: config.dataDir, clock, log: opts.log }),
      timers: systemTimers,
      intervalMs: config.git.syncIntervalMs,
      log: opts.log,
    });
    closers.push(() => sync.stop());
    const proxmox = proxmoxClientOf(config, composed);
    // Administrators are never billed; the portal's accounts say who they are (read when billing asks).
    let portalRef: RunningPortal | undefined;
    const billing: StartedBilling = await startBilling(config, {
      log: opts.log,
      clock,
      status: composed.engine.store,
      // The engine's index, kept current by its watcher: billing reads the files without a second resync each minute.
      index: composed.engine.index,
      ...(proxmox ? { proxmox } : {}),
      isExempt: (stack) => portalRef?.portal.ctx.accounts.byStack(stack)?.role === "admin",
    });
    closers.push(() => billing.stop());
    const platform = composed.engine.index.platform().spec;
    portal = await startPortal(config, {
      composed,
      log: opts.log,
      clock,
      ledger: pointsLedgerOf(billing.repo, clock),
      ...(extras.deps.vpn ? { vpn: extras.deps.vpn } : {}),
      ...(opts.port !== undefined ? { port: opts.port } : {}),
      // The signup bonus is the platform file's (billing's), credited once when the e-mail is verified.
      options: { signupBonusPoints: platform?.billing.signupBonusPoints ?? 100 },
      ...(config.git.webhookSecret
        ? { rawBodyRouters: [createGitHookRouter({ secret: config.git.webhookSecret, onPush: () => sync.trigger(), log: opts.log })] }
        : {}),
    });
    portalRef = portal;
    closers.push(() => portal.close());
  } catch (err) {
    for (const c of closers.reverse()) await c();
    await composed.close();
    await extras.close();
    throw err;
  }
  const { pve, cloudflare } = composed.simulators;
  const summary: ServeSummary = {
    mode: composed.mode,
    providers: composed.providers,
    simulators: {
      ...(pve ? { pve: { url: pve.url, token: pve.token } } : {}),
      ...(cloudflare ? { cloudflare: { url: cloudflare.url, token: cloudflare.token } } : {}),
    },
    faults: opts.faults ?? {},
    stacksDir: config.stacksDir,
    dataDir: config.dataDir,
    statusDb: path.join(config.dataDir, "engine.db"),
    portal: { url: portal.url },
  };
  return {
    composed,
    portal,
    summary,
    notes: [...extras.notes, `portal: ${portal.url} (web portal and API; ${path.join(config.dataDir, "serve.json")})`],
    async close() {
      for (const c of closers.reverse()) await c();
      await composed.close();
      await extras.close();
    },
  };
}

/** The Proxmox client runtime actions use (snapshots, backups, stats): the real endpoint, or the simulator. */
function proxmoxClientOf(config: Config, composed: ComposedEngine): ProxmoxClient | undefined {
  if (config.proxmox) {
    const { endpoint, token, insecure, fingerprint } = config.proxmox;
    return createProxmoxClient({ endpoint, token, tls: { insecure, ...(fingerprint ? { fingerprint } : {}) } });
  }
  const sim = composed.simulators.pve;
  return sim ? createProxmoxClient({ endpoint: sim.url, token: sim.token, taskPollMs: 20 }) : undefined;
}
