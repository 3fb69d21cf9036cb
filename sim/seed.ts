// What the simulators start with, derived from stacks/platform.yaml: node, template containers, OS templates, Cloudflare ids.
import type { PlatformSpec } from "../schemas/index.js";

export interface SimulatorSeed {
  proxmox: {
    nodes: string[];
    storages: string[];
    bridge: string;
    templates: { vmid: number; node?: string }[];
    osTemplates: string[];
  };
  cloudflare: {
    accounts: string[];
    zones: { id: string; name: string; accountId: string }[];
    tunnels: { id: string; accountId: string; name: string }[];
  };
}

/**
 * Seed options for startProxmoxSimulator / startCloudflareSimulator from the platform file:
 * every clone template becomes a template container on its node, every osTemplate a volume
 * create accepts, and the account, zone (baseDomain) and tunnel ids exist in Cloudflare.
 */
export function simulatorSeedFromPlatform(platform: PlatformSpec): SimulatorSeed {
  const templates: { vmid: number; node?: string }[] = [];
  const osTemplates: string[] = [];
  for (const t of Object.values(platform.templates)) {
    if ("clone" in t) templates.push({ vmid: t.clone.vmid, ...(t.clone.node ? { node: t.clone.node } : {}) });
    else osTemplates.push(t.osTemplate);
  }
  const storages = ["local", ...new Set([platform.proxmox.datastore, ...osTemplates.map((v) => v.split(":")[0] ?? "local")])].filter(
    (s, i, a) => a.indexOf(s) === i,
  );
  const { accountId, zoneId, tunnelId } = platform.cloudflare;
  return {
    proxmox: { nodes: [...platform.proxmox.nodes], storages, bridge: platform.proxmox.bridge, templates, osTemplates },
    cloudflare: {
      accounts: [accountId],
      zones: [{ id: zoneId, name: platform.baseDomain, accountId }],
      tunnels: [{ id: tunnelId, accountId, name: "proxstack" }],
    },
  };
}
