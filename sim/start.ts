// Starts both simulators together from a seed: what `proxstack sim` and `proxstack serve` call.
import path from "node:path";
import { mkdirSync } from "node:fs";
import type { Logger } from "../lib/logger.js";
import type { ContainerBacking } from "./backing.js";
import { startCloudflareSimulator, type CloudflareSimulator } from "./cloudflare/server.js";
import { startProxmoxSimulator, type ProxmoxSimulator } from "./proxmox/server.js";
import type { PveVersion } from "./proxmox/schema.js";
import type { SimulatorSeed } from "./seed.js";

export interface Simulators {
  pve: ProxmoxSimulator | undefined;
  cloudflare: CloudflareSimulator | undefined;
  close(): Promise<void>;
}

export interface StartSimulatorsOptions {
  /** State goes to `<dataDir>/sim/pve.db` and `<dataDir>/sim/cloudflare.db`. */
  dataDir: string;
  seed: SimulatorSeed;
  /** Which to start, e.g. from shouldSimulate(config). */
  which: { pve: boolean; cloudflare: boolean };
  host?: string;
  pvePort?: number;
  cfPort?: number;
  schemaVersion?: PveVersion;
  taskDelayMs?: number;
  backing?: ContainerBacking;
  logger: Logger;
}

export async function startSimulators(opts: StartSimulatorsOptions): Promise<Simulators> {
  const dir = path.join(opts.dataDir, "sim");
  mkdirSync(dir, { recursive: true });
  const host = opts.host ?? "127.0.0.1";
  const pve = opts.which.pve
    ? await startProxmoxSimulator({
      dbPath: path.join(dir, "pve.db"), host, port: opts.pvePort ?? 0, ...opts.seed.proxmox, logger: opts.logger,
      ...(opts.schemaVersion ? { schemaVersion: opts.schemaVersion } : {}),
      ...(opts.taskDelayMs !== undefined ? { taskDelayMs: opts.taskDelayMs } : {}),
      ...(opts.backing ? { backing: opts.backing } : {}),
    })
    : undefined;
  let cloudflare: CloudflareSimulator | undefined;
  try {
    cloudflare = opts.which.cloudflare
      ? await startCloudflareSimulator({ dbPath: path.join(dir, "cloudflare.db"), host, port: opts.cfPort ?? 0, ...opts.seed.cloudflare, logger: opts.logger })
      : undefined;
  } catch (err) {
    await pve?.close();
    throw err;
  }
  opts.logger.warn({ pve: pve?.url, cloudflare: cloudflare?.url }, "simulation: Proxmox VE and Cloudflare are simulated, nothing real is changed");
  return {
    pve,
    cloudflare,
    close: async () => {
      await Promise.all([pve?.close(), cloudflare?.close()]);
    },
  };
}
