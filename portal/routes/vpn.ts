// /api/vpn: the caller's WireGuard peer (one per user, reaching exactly their containers), a fresh config with a QR code, or their own key.
import { Router } from "express";
import { z } from "zod";
import { VpnConfigBody, VpnKeyBody } from "../api-schemas.js";
import { caller, requireUser } from "../auth-guard.js";
import type { PortalContext } from "../context.js";
import { httpError } from "../http-errors.js";
import { route, type RouteRegistry } from "../routing.js";
import { configDownloads } from "../../vpn/qr.js";
import { isWgKey } from "../../vpn/keys.js";
import type { Account } from "../repos/accounts.js";
import type { VpnClient } from "../../vpn/client.js";

const PeerOut = z.object({ peer: z.object({ address: z.string(), publicKey: z.string(), targets: z.array(z.string()) }).nullable() });

export function vpnRoutes(ctx: PortalContext, registry: RouteRegistry): Router {
  const r = Router();
  const user = requireUser(ctx);
  const vpn = (): VpnClient => {
    if (!ctx.vpn) throw httpError(503, "vpn-unavailable", "the VPN service is not available on this installation");
    return ctx.vpn;
  };
  const stackOf = (a: Account) => {
    if (!a.stack) throw httpError(403, "email-not-verified", "verify your e-mail first");
    return a.stack;
  };
  /** The caller's containers' addresses as the engine recorded them: exactly what the peer may reach. */
  const targets = (stack: string) => ctx.engine.listInstances(stack).flatMap((i) => (i.ip && i.state !== "destroyed" ? [i.ip] : []));

  route(
    r,
    registry,
    {
      method: "get",
      path: "/",
      tag: "vpn",
      auth: "user",
      summary: "Your VPN peer: address, public key and reachable containers",
      response: { status: 200, schema: PeerOut },
      errors: [401, 503],
    },
    [user],
    async (req, res) => {
      const p = await vpn().getPeer(stackOf(caller(req).account));
      res.json({ peer: p ? { address: p.address, publicKey: p.publicKey, targets: p.targets } : null });
    },
  );

  route(
    r,
    registry,
    {
      method: "post",
      path: "/config",
      tag: "vpn",
      auth: "user",
      summary: "A fresh client config (the key is rotated; the private key is shown once) and its QR code",
      body: VpnConfigBody,
      response: { status: 201, schema: z.object({ config: z.string(), filename: z.string(), qr: z.object({ format: z.string(), data: z.string() }) }) },
      errors: [401, 422, 503],
    },
    [user],
    async (req, res, { body }) => {
      const stack = stackOf(caller(req).account);
      const client = vpn();
      const existing = await client.getPeer(stack);
      const peer = existing ? await client.rotateKey(stack, {}) : await client.putPeer(stack, { targets: targets(stack) });
      const dl = await configDownloads(stack, peer.config);
      res.setHeader("Cache-Control", "no-store");
      res.status(201).json({
        config: dl.text,
        filename: dl.filename,
        qr: body.format === "png" ? { format: "png", data: dl.png.toString("base64") } : { format: "svg", data: dl.svg },
      });
    },
  );

  route(
    r,
    registry,
    {
      method: "put",
      path: "/key",
      tag: "vpn",
      auth: "user",
      summary: "Use your own WireGuard public key (the server never sees a private key)",
      body: VpnKeyBody,
      response: { status: 200, schema: PeerOut },
      errors: [400, 401, 503],
    },
    [user],
    async (req, res, { body }) => {
      if (!isWgKey(body.publicKey))
        throw httpError(400, "invalid-request", "publicKey must be a WireGuard public key (44 characters of base64, as `wg pubkey` prints)", {
          publicKey: "is not a WireGuard public key",
        });
      const stack = stackOf(caller(req).account);
      const client = vpn();
      const existing = await client.getPeer(stack);
      const p = existing
        ? await client.rotateKey(stack, { publicKey: body.publicKey })
        : await client.putPeer(stack, { targets: targets(stack), publicKey: body.publicKey });
      res.json({ peer: { address: p.address, publicKey: p.publicKey, targets: p.targets } });
    },
  );
  return r;
}
