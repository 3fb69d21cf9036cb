// The `vpn-peer` hook: after a user stack applies, that user's VPN peer reaches exactly their current containers.
import { z } from "zod";
import type { VpnClient } from "../vpn/client.js";
import type { HookHandler } from "./hook.js";

export const VpnPeerParamsSchema = z.object({}).strict().describe("The vpn-peer hook takes no parameters: targets come from the applied instances.");
export type VpnPeerParams = z.infer<typeof VpnPeerParamsSchema>;

export interface VpnPeerHookDeps {
  vpn: Pick<VpnClient, "getPeer" | "putPeer" | "deletePeer">;
  /** @default 30000 */
  timeoutMs?: number;
}

/**
 * Converges the owner's peer (owner = stack name) on `ctx.instances`' addresses; removes it when
 * there are none. A new peer gets a generated key whose private half is dropped here: users get a
 * working config from the portal, which rotates the key (or takes their own public key).
 */
export function createVpnPeerHook(deps: VpnPeerHookDeps): HookHandler<VpnPeerParams> {
  return {
    type: "vpn-peer",
    params: VpnPeerParamsSchema,
    timeoutMs: deps.timeoutMs ?? 30_000,
    async run(ctx) {
      const owner = ctx.stack;
      const targets = [...new Set(ctx.instances.map((i) => i.ip))].sort();
      if (targets.length === 0) {
        const removed = await deps.vpn.deletePeer(owner, ctx.signal);
        return { changed: removed, output: removed ? `removed the VPN peer of ${owner} (no containers)` : `${owner} has no containers and no VPN peer` };
      }
      const current = await deps.vpn.getPeer(owner, ctx.signal);
      if (current && sameList([...current.targets].sort(), targets)) {
        return { changed: false, output: `VPN peer ${current.address} already reaches ${targets.join(", ")}` };
      }
      const peer = await deps.vpn.putPeer(owner, { targets }, ctx.signal);
      ctx.log.info({ owner, address: peer.address, targets }, current ? "vpn peer targets updated" : "vpn peer created");
      return { changed: true, output: `VPN peer ${peer.address} ${current ? "now reaches" : "created for"} ${targets.join(", ")}` };
    },
    // The peer's nftables allowances name the stack's container addresses, which go to other tenants next.
    async destroyed(ctx) {
      const removed = await deps.vpn.deletePeer(ctx.stack, ctx.signal);
      return { changed: removed, output: removed ? `removed the VPN peer of ${ctx.stack} (stack destroyed)` : `${ctx.stack} had no VPN peer` };
    },
  };
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
