// Starts the simulators a configuration needs from a seed: the only way `proxstack sim` and the composition root (app/) start them.
import { mkdirSync } from "node:fs";
import path from "node:path";
import type { Logger } from "../lib/logger.js";
import type { ContainerBacking } from "./backing.js";
import { faultsLabel } from "./faults.js";
import { startCloudflareSimulator, type CloudflareFaults, type CloudflareSimulator } from "./cloudflare/server.js";
import { startProxmoxSimulator, type PveFaults, type ProxmoxSimulator } from "./proxmox/server.js";
import type { PveVersion } from "./proxmox/schema.js";
import type { SimulatorSeed } from "./seed.js";

export interface Simulators {
  pve: ProxmoxSimulator | undefined;
  cloudflare: CloudflareSimulator | undefined;
  close(): Promise<void>;
}

/** Faults each simulator starts with (sim/faults.ts parses them from `--faults`). */
export interface SimulatorFaults {
  pve?: PveFaults;
  cloudflare?: CloudflareFaults;
}

export interface StartSimulatorsOptions {
  /** State goes to `<stateDir>/proxmox.db` and `<stateDir>/cloudflare.db`, reused across restarts. */
  stateDir: string;
  seed: SimulatorSeed;
  /** Which to start: shouldSimulate(config) (sim/should-simulate.ts). */
  which: { pve: boolean; cloudflare: boolean };
  host?: string;
  pvePort?: number;
  cfPort?: number;
  schemaVersion?: PveVersion;
  taskDelayMs?: number;
  backing?: ContainerBacking;
  faults?: SimulatorFaults;
  logger: Logger;
}

export async function startSimulators(opts: StartSimulatorsOptions): Promise<Simulators> {
  mkdirSync(opts.stateDir, { recursive: true, mode: 0o700 });
  const host = opts.host ?? "127.0.0.1";
  const pve = opts.which.pve
    ? await startProxmoxSimulator({
        dbPath: path.join(opts.stateDir, "proxmox.db"),
        host,
        port: opts.pvePort ?? 0,
        ...opts.seed.proxmox,
        logger: opts.logger,
        ...(opts.schemaVersion ? { schemaVersion: opts.schemaVersion } : {}),
        ...(opts.taskDelayMs !== undefined ? { taskDelayMs: opts.taskDelayMs } : {}),
        ...(opts.backing ? { backing: opts.backing } : {}),
        ...(opts.faults?.pve ? { faults: opts.faults.pve } : {}),
      })
    : undefined;
  let cloudflare: CloudflareSimulator | undefined;
  try {
    cloudflare = opts.which.cloudflare
      ? await startCloudflareSimulator({
          dbPath: path.join(opts.stateDir, "cloudflare.db"),
          host,
          port: opts.cfPort ?? 0,
          ...opts.seed.cloudflare,
          logger: opts.logger,
          ...(opts.faults?.cloudflare ? { faults: opts.faults.cloudflare } : {}),
        })
      : undefined;
  } catch (err) {
    await pve?.close();
    throw err;
  }
  const simulated = [pve ? "Proxmox VE" : undefined, cloudflare ? "Cloudflare" : undefined].filter((s) => s !== undefined);
  const faults = faultsLabel(opts.faults ?? {});
  if (simulated.length > 0) {
    opts.logger.warn(
      { pve: pve?.url, cloudflare: cloudflare?.url, faults: opts.faults ?? {} },
      `simulation: ${simulated.join(" and ")} ${simulated.length > 1 ? "are" : "is"} simulated, nothing real is changed there${faults ? `; FAULTS injected: ${faults}` : ""}`,
    );
  }
  return {
    pve,
    cloudflare,
    close: async () => {
      await Promise.all([pve?.close(), cloudflare?.close()]);
    },
  };
}
