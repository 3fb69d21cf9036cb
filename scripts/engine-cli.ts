// What the engine's commands share: config from the environment, the composed engine, and printing status.
import path from "node:path";
import { composeEngine, type ComposeDeps, type ComposedEngine, type Providers } from "../app/compose.js";
import type { EngineOptions } from "../engine/engine.js";
import { describePendingRemoval, pendingRemovalOf, type PendingRemovalView } from "../engine/status/removal.js";
import type { InstanceStatus, StackStatus, StatusStore } from "../engine/status/store.js";
import type { Logger } from "../lib/logger.js";
import { loadConfig, type Config } from "../schemas/config.js";
import { UserStackOutputsSchema, type UserStackSpec } from "../schemas/index.js";
import { cliLogger, type CliIo } from "./cli.js";

export const REPO_ROOT = path.resolve(import.meta.dirname, "..");

/**
 * The engine for one command. Without a VPN client (the VPN service runs inside `serve`), the firewall
 * keeps the VPN peer addresses of each stack's last recorded apply: applying with none would shut the
 * owner's VPN out of their containers.
 */
export async function engineFromEnv(
  io: CliIo,
  options: Partial<EngineOptions> = {},
  extras: (config: Config, log: Logger) => Promise<Pick<ComposeDeps, "backing" | "vpn" | "vpnPeerAddresses">> = async () => ({}),
): Promise<{ config: Config; composed: ComposedEngine }> {
  const config = loadConfig(io.env, io.cwd);
  const log = cliLogger(io, config.logLevel);
  let store: StatusStore | undefined;
  const lastApplied = (spec: UserStackSpec): Promise<string[]> => Promise.resolve(store ? recordedInputs(store, spec.name).vpnPeerAddresses : []);
  const given = await extras(config, log);
  const peers = given.vpn || given.vpnPeerAddresses ? {} : { vpnPeerAddresses: lastApplied };
  const composed = await composeEngine(config, { log, repoRoot: REPO_ROOT, options, ...peers, ...given });
  store = composed.engine.store;
  return { config, composed };
}

/** Where inputs from outside the files (VPN peer addresses) came from. */
export interface RecordedInputs {
  vpnPeerAddresses: string[];
  /** `last-recorded-apply`: from the run below; `not-recorded`: that run predates recording them; `no-apply`: never applied. */
  source: "last-recorded-apply" | "not-recorded" | "no-apply";
  runId?: number;
  at?: string;
}

/** The VPN peer addresses of the stack's last successful apply, parsed from the run's recorded outputs. */
export function recordedInputs(store: StatusStore, stack: string): RecordedInputs {
  const run = store.listRuns(stack, 100).find((r) => r.action === "up" && r.state === "succeeded");
  if (!run) return { vpnPeerAddresses: [], source: "no-apply" };
  const at = run.finishedAt ?? run.queuedAt;
  const parsed = UserStackOutputsSchema.safeParse(run.outputs);
  if (!parsed.success || parsed.data.vpnPeerAddresses === undefined) return { vpnPeerAddresses: [], source: "not-recorded", runId: run.id, at };
  return { vpnPeerAddresses: parsed.data.vpnPeerAddresses, source: "last-recorded-apply", runId: run.id, at };
}

/** The status as one JSON document: mode, which providers are simulated, stacks with conditions (and a pending removal's time left), instances. */
export function statusJson(
  store: StatusStore,
  providers: Providers,
  now: Date = new Date(),
): { mode: string; providers: Providers; stacks: (StackStatus & { pendingRemoval: PendingRemovalView | null; instances: InstanceStatus[] })[] } {
  return {
    mode: store.mode,
    providers,
    stacks: store.listStacks().map((s) => ({
      ...s,
      appliedSpec: undefined,
      appliedPlatform: undefined,
      pendingRemoval: pendingRemovalOf(s, now) ?? null,
      instances: store.listInstances(s.name),
    })),
  };
}

/** Prints the status on stdout: the table, or with `json` one JSON line (the shape of `proxstack status --json`). */
export function printStatus(io: CliIo, store: StatusStore, providers: Providers, json: boolean): void {
  io.stdout(json ? JSON.stringify(statusJson(store, providers)) + "\n" : statusText(store, providers));
}

/** Which providers are simulated, for people: `Proxmox simulated, Cloudflare real`. */
export function providersText(p: Providers): string {
  return `Proxmox ${p.proxmox}, Cloudflare ${p.cloudflare}`;
}

/** The status as a table people read: a line per stack, an indented line per instance. */
export function statusText(store: StatusStore, providers: Providers, now: Date = new Date()): string {
  const lines = [`mode: ${store.mode} (${providersText(providers)})`, ""];
  const stacks = store.listStacks();
  if (stacks.length === 0) lines.push("no stacks applied yet");
  for (const s of stacks) {
    lines.push(`${s.name.padEnd(16)} ${s.condition.padEnd(12)} ${s.reason}${s.failures > 0 ? ` (failures: ${s.failures})` : ""}`);
    if (s.message) for (const m of s.message.split("\n")) lines.push(`    ${m}`);
    const removal = describePendingRemoval(s, now);
    if (removal) lines.push(`    ${removal}`);
    for (const i of store.listInstances(s.name)) {
      lines.push(
        `    ${i.name.padEnd(12)} vmid ${String(i.vmid ?? "-").padEnd(6)} ip ${(i.ip ?? "-").padEnd(15)} ${i.power.padEnd(8)} ${i.state}${store.mode === "simulation" ? "  simulation" : ""}`,
      );
    }
  }
  return lines.join("\n") + "\n";
}
