// The one rule deciding when simulators run: only for a service with no real endpoint configured.
import type { Config } from "../schemas/config.js";

/** Which simulators may start. A configured real endpoint always wins; simulation is never mixed into it. */
export function shouldSimulate(config: Pick<Config, "proxmox" | "cloudflare">): { pve: boolean; cloudflare: boolean } {
  return { pve: config.proxmox === undefined, cloudflare: config.cloudflare === undefined };
}
