// The one rule deciding when simulators run: per provider, only for a service with no real endpoint configured.
import type { Config } from "../schemas/config.js";

/**
 * Which simulators start. Each provider is decided alone: Proxmox is real exactly when
 * PROXMOX_VE_ENDPOINT and PROXMOX_VE_API_TOKEN are set, Cloudflare exactly when CLOUDFLARE_API_TOKEN is
 * set. A configured real endpoint always wins; a simulator never stands in for it.
 */
export function shouldSimulate(config: Pick<Config, "proxmox" | "cloudflare">): { pve: boolean; cloudflare: boolean } {
  return { pve: config.proxmox === undefined, cloudflare: config.cloudflare === undefined };
}

/** Whether each provider is the real service or its simulator, as people read it. */
export interface Providers {
  proxmox: "real" | "simulated";
  cloudflare: "real" | "simulated";
}

/** shouldSimulate, worded for status lines, banners and JSON. */
export function providersOf(config: Pick<Config, "proxmox" | "cloudflare">): Providers {
  const which = shouldSimulate(config);
  return { proxmox: which.pve ? "simulated" : "real", cloudflare: which.cloudflare ? "simulated" : "real" };
}
