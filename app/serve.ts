// What `proxstack serve` (npm start) runs: the extras the host allows, the composed engine started, and a summary of what runs where.
import path from "node:path";
import type { Logger } from "../lib/logger.js";
import type { Config } from "../schemas/config.js";
import type { SimulatorFaults } from "../sim/start.js";
import { openBilling, type OpenedBilling } from "./billing.js";
import { composeEngine, type ComposedEngine, type ComposeDeps, type Providers } from "./compose.js";
import { startPortal, type RunningPortal } from "./portal.js";
import { portalLedger } from "./portal-ledger.js";
import { serveExtras } from "./serve-extras.js";

export interface ServeOptions {
  log: Logger;
  repoRoot: string;
  /** Back simulated containers with network-namespace hosts where the host allows. */
  realContainers: boolean;
  /** Start the VPN service in-process where the host allows (when VPN_URL is unset). */
  vpn: boolean;
  faults?: SimulatorFaults;
  /** Start the portal (API and web portal) on config.port. @default true */
  portal?: boolean;
  /** Engine options and runner factories, for tests. */
  compose?: Pick<ComposeDeps, "options" | "runners" | "clock">;
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
  /** The portal's URL (also in <data dir>/serve.json); absent when the portal is off. */
  portal?: { url: string };
}

export interface RunningServe {
  composed: ComposedEngine;
  portal: RunningPortal | undefined;
  summary: ServeSummary;
  /** Lines for people: what runs, and why something does not. */
  notes: string[];
  close(): Promise<void>;
}

/** Starts everything serve runs; the caller waits for a signal and calls close(). */
export async function startServe(config: Config, opts: ServeOptions): Promise<RunningServe> {
  const extras = await serveExtras(config, opts.log, opts.repoRoot, { realContainers: opts.realContainers, vpn: opts.vpn });
  let composed: ComposedEngine;
  try {
    composed = await composeEngine(config, {
      log: opts.log, repoRoot: opts.repoRoot, ...extras.deps, ...opts.compose,
      ...(opts.faults ? { faults: opts.faults } : {}),
    });
    await composed.engine.start();
  } catch (err) {
    await extras.close();
    throw err;
  }
  // The portal beside the engine, its points on billing's ledger (<data dir>/billing.db).
  let billing: OpenedBilling | undefined;
  let portal: RunningPortal | undefined;
  if (opts.portal !== false) {
    try {
      billing = openBilling(config, { log: opts.log, status: composed.engine.store });
      portal = await startPortal(config, { composed, log: opts.log, ledger: portalLedger(billing.repo), ...(extras.deps.vpn ? { vpn: extras.deps.vpn } : {}) });
    } catch (err) {
      billing?.close();
      await composed.close();
      await extras.close();
      throw err;
    }
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
    ...(portal ? { portal: { url: portal.url } } : {}),
  };
  return {
    composed,
    portal,
    summary,
    notes: portal ? [...extras.notes, `portal: ${portal.url} (web portal and API; ${path.join(config.dataDir, "serve.json")})`] : extras.notes,
    async close() {
      await portal?.close();
      billing?.close();
      await composed.close();
      await extras.close();
    },
  };
}
