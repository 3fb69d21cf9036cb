// What `proxstack serve` adds where the host allows: real containers behind the simulator, and the VPN service in-process.
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { ComposeDeps } from "./compose.js";
import { ensureProvisioningKey } from "../ssh/provisioning-key.js";
import type { Logger } from "../lib/logger.js";
import type { Config, PlatformSpec } from "../schemas/index.js";
import { shouldSimulate } from "../sim/should-simulate.js";
import { parseStackFile } from "../stackfiles/parse.js";
import { createSshHostBacking } from "../testhosts/backing.js";
import { canRunSshTestHosts } from "../testhosts/ssh-host.js";
import { createVpnClient } from "../vpn/client.js";
import { canRunVpnService } from "../vpn/host-support.js";
import { startVpnService } from "../vpn/server.js";

export interface ServeExtras {
  deps: Pick<ComposeDeps, "backing" | "vpn">;
  /** Lines for the start-up banner: what runs, and why something does not. */
  notes: string[];
  close(): Promise<void>;
}

/** The platform file the engine will read: the stacks repository's, or the checkout's before first start. */
function platformOf(config: Config, repoRoot: string): PlatformSpec | undefined {
  for (const dir of [config.stacksDir, path.join(repoRoot, "stacks")]) {
    const file = path.join(dir, "platform.yaml");
    if (!existsSync(file)) continue;
    const parsed = parseStackFile(file, readFileSync(file));
    return parsed.ok && parsed.kind === "Platform" ? (parsed.spec as PlatformSpec) : undefined;
  }
  return undefined;
}

/** The in-process VPN service's token: generated once into the data dir (0600), never printed. */
function vpnToken(dataDir: string): string {
  const file = path.join(dataDir, "vpn-token");
  if (existsSync(file)) return readFileSync(file, "utf8").trim();
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const token = randomBytes(24).toString("base64url");
  writeFileSync(file, token + "\n", { mode: 0o600 });
  return token;
}

export async function serveExtras(config: Config, log: Logger, repoRoot: string, opts: { realContainers: boolean; vpn: boolean }): Promise<ServeExtras> {
  const notes: string[] = [];
  const closers: (() => Promise<void>)[] = [];
  const deps: ServeExtras["deps"] = {};

  if (shouldSimulate(config).pve && opts.realContainers) {
    const can = await canRunSshTestHosts();
    if (can.ok) {
      const { publicKey } = await ensureProvisioningKey(config.dataDir);
      const backing = createSshHostBacking({ rootAuthorizedKeys: [publicKey], stateDir: path.join(config.dataDir, "simulation", "containers"), log });
      deps.backing = backing;
      closers.push(() => backing.close());
      notes.push("real containers: each running simulated container is a network-namespace host with OpenSSH (SSH hardening runs)");
    } else {
      notes.push(`real containers: off (${can.why}); simulated containers have addresses but no services, so SSH hardening is skipped`);
    }
  }

  if (config.vpn) {
    deps.vpn = createVpnClient({ url: config.vpn.url, token: config.vpn.token });
    notes.push(`vpn: ${config.vpn.url}`);
  } else if (opts.vpn) {
    const can = await canRunVpnService();
    const platform = platformOf(config, repoRoot);
    if (!can.ok) notes.push(`vpn: not started (${can.why}); set VPN_URL and VPN_TOKEN to use a VPN service elsewhere`);
    else if (!platform) notes.push("vpn: not started (platform.yaml is invalid; see 'npx proxstack validate')");
    else {
      const token = vpnToken(config.dataDir);
      const server = await startVpnService({
        dataDir: path.join(config.dataDir, "vpn"),
        token,
        endpoint: platform.vpn.endpoint,
        subnet: platform.vpn.subnet,
        pool: platform.network.pool,
        log,
      });
      deps.vpn = createVpnClient({ url: server.url, token });
      closers.push(() => server.close());
      notes.push(`vpn: in-process service at ${server.url} (WireGuard device wg-proxstack, nftables table proxstack_vpn)`);
    }
  }
  return {
    deps,
    notes,
    async close() {
      for (const c of closers.reverse()) await c();
    },
  };
}
