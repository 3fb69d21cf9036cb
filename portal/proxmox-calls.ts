// Runtime actions on Proxmox from the portal: the client's errors translated once into answers a user can act on (no internal URLs).
import { ProxstackError } from "../lib/errors.js";
import type { PortalContext, PortalProxmox } from "./context.js";
import { httpError } from "./http-errors.js";

export function proxmoxOf(ctx: PortalContext): PortalProxmox {
  if (!ctx.pve) throw httpError(503, "proxmox-unavailable", "runtime actions (snapshots, backups, stats, reboot) are not available on this installation");
  return ctx.pve;
}

/** Runs a Proxmox call; `what` names the action in plain words. */
export async function pveCall<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (!(err instanceof ProxstackError) || !err.code.startsWith("pve.")) throw err;
    const detail = err.message.replace(/^proxmox: [A-Z]+ \S+: /, "");
    switch (err.code) {
      case "pve.not-found":
        throw httpError(404, "not-found", `${what}: not found`);
      case "pve.conflict":
        throw httpError(409, "already-exists", `${what}: already exists`);
      case "pve.locked":
      case "pve.lock-timeout":
        throw httpError(409, "busy", `${what}: the container is busy with another operation; try again in a moment`);
      case "pve.refused":
      case "pve.param":
      case "pve.task-failed":
        throw httpError(409, "refused", `${what}: Proxmox refused: ${detail.slice(0, 300)}`);
      default:
        throw new ProxstackError("proxmox-error", `${what}: Proxmox did not answer as expected; try again later`, { kind: "retry", status: 502, cause: err });
    }
  }
}
