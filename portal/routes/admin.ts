// /api/admin (role admin): users (search, ban, role, point grants through the ledger), stacks with conditions, retry, node capacity.
import { Router, type Request } from "express";
import { z } from "zod";
import { AdminUsersQuery, BanBody, GrantBody, RoleBody, UserOut } from "../api-schemas.js";
import { userOut } from "../account-view.js";
import { activeBan, caller, requireAdmin } from "../auth-guard.js";
import type { PortalContext } from "../context.js";
import { httpError, notFound } from "../http-errors.js";
import { MICRO } from "../points-ledger.js";
import { proxmoxOf, pveCall } from "../proxmox-calls.js";
import { route, type RouteRegistry } from "../routing.js";
import { DNS_LABEL } from "../../schemas/common.js";

const AdminUserOut = UserOut.extend({ banned: z.boolean(), banReason: z.string().nullable(), banExpiresAt: z.string().nullable(), balance: z.number() });

export function adminRoutes(ctx: PortalContext, registry: RouteRegistry): Router {
  const r = Router();
  const admin = requireAdmin(ctx);
  const target = (req: Request) => {
    const n = Number(req.params.id);
    const a = Number.isSafeInteger(n) && n > 0 ? ctx.accounts.byId(n) : undefined;
    if (!a) throw notFound(`user ${JSON.stringify(String(req.params.id ?? "").slice(0, 20))}`);
    return a;
  };
  const view = (a: NonNullable<ReturnType<typeof ctx.accounts.byId>>) => {
    const ban = activeBan(a, ctx.clock.now());
    return { ...userOut(a), banned: ban !== undefined, banReason: ban?.reason ?? null, banExpiresAt: ban?.expiresAt ?? null, balance: a.stack ? ctx.ledger.balanceMicro(a.stack) / MICRO : 0 };
  };

  route(r, registry, { method: "get", path: "/users", tag: "admin", auth: "admin", summary: "Users, searched by e-mail or name", query: AdminUsersQuery,
    response: { status: 200, schema: z.object({ items: z.array(AdminUserOut), page: z.number(), limit: z.number(), total: z.number() }) }, errors: [401, 403] },
    [admin], (_req, res, { query }) => {
      const { items, total } = ctx.accounts.search(query.search, { offset: (query.page - 1) * query.limit, limit: query.limit });
      res.json({ items: items.map(view), page: query.page, limit: query.limit, total });
    });

  route(r, registry, { method: "put", path: "/users/:id/ban", tag: "admin", auth: "admin", summary: "Ban (with reason and optional expiry) or unban; a ban ends every session at once",
    body: BanBody, response: { status: 200, schema: AdminUserOut }, errors: [400, 401, 403, 404] }, [admin], (req, res, { body }) => {
    const me = caller(req).account;
    const a = target(req);
    if (a.id === me.id) throw httpError(409, "self", "you cannot ban yourself");
    const now = ctx.clock.now();
    if (body.banned && body.expiresAt && Date.parse(body.expiresAt) <= now.getTime()) throw httpError(400, "invalid-request", "expiresAt is in the past", { expiresAt: "is in the past" });
    ctx.accounts.setBan(a.id, body.banned ? { reason: body.reason ?? "", expiresAt: body.expiresAt } : undefined, now);
    if (body.banned) ctx.sessions.revokeAccount(a.id, "banned", now);
    ctx.audit.record({ actorId: me.id, subjectId: a.id, action: body.banned ? "ban" : "unban", detail: { reason: body.reason ?? null, expiresAt: body.expiresAt ?? null } }, now);
    res.json(view(ctx.accounts.byId(a.id) ?? a));
  });

  route(r, registry, { method: "put", path: "/users/:id/role", tag: "admin", auth: "admin", summary: "Set the role (user or admin)", body: RoleBody,
    response: { status: 200, schema: AdminUserOut }, errors: [400, 401, 403, 404] }, [admin], (req, res, { body }) => {
    const me = caller(req).account;
    const a = target(req);
    if (a.id === me.id && body.role !== "admin") throw httpError(409, "self", "you cannot take your own administrator role");
    ctx.accounts.setRole(a.id, body.role, ctx.clock.now());
    ctx.audit.record({ actorId: me.id, subjectId: a.id, action: "role", detail: { role: body.role } }, ctx.clock.now());
    res.json(view(ctx.accounts.byId(a.id) ?? a));
  });

  route(r, registry, { method: "post", path: "/users/:id/points", tag: "admin", auth: "admin", summary: "Grant (or, negative, take) points: one ledger entry with the reason",
    body: GrantBody, response: { status: 201, schema: z.object({ balance: z.number(), entry: z.object({ id: z.number(), amount: z.number(), reason: z.string() }) }) },
    errors: [400, 401, 403, 404, 409] }, [admin], (req, res, { body }) => {
    const me = caller(req).account;
    const a = target(req);
    if (!a.stack) throw httpError(409, "no-stack", "this account has no stack yet (its e-mail is not verified)");
    const micro = Math.round(body.amount * MICRO);
    if (micro < 0 && ctx.ledger.balanceMicro(a.stack) + micro < 0) throw httpError(409, "insufficient-points", "taking this many points would make the balance negative");
    const e = ctx.ledger.credit(a.stack, micro, "admin-grant", { note: `${body.reason} (by ${me.email})`, at: ctx.clock.now() });
    ctx.audit.record({ actorId: me.id, subjectId: a.id, action: "points", detail: { amountMicro: micro, reason: body.reason } }, ctx.clock.now());
    res.status(201).json({ balance: e.balanceMicro / MICRO, entry: { id: e.id, amount: e.amountMicro / MICRO, reason: body.reason } });
  });

  route(r, registry, { method: "get", path: "/stacks", tag: "admin", auth: "admin", summary: "Every stack with its condition and last error",
    response: { status: 200, schema: z.object({ items: z.array(z.object({ name: z.string(), condition: z.string(), reason: z.string(), message: z.string(), owner: z.string().nullable(), lastError: z.string().nullable(), updatedAt: z.string() })) }) },
    errors: [401, 403] }, [admin], async (_req, res) => {
    const owners = new Map((await ctx.specs.list()).map((f) => [f.stack, f.spec?.owner.email ?? null]));
    res.json({
      items: ctx.engine.listStacks().map((s) => {
        const failed = ctx.engine.listRuns(s.name, 20).find((run) => run.state === "failed");
        return { name: s.name, condition: s.condition, reason: s.reason, message: s.message, owner: owners.get(s.name) ?? null, lastError: failed?.errorMessage ?? null, updatedAt: s.updatedAt };
      }),
    });
  });

  route(r, registry, { method: "post", path: "/stacks/:name/retry", tag: "admin", auth: "admin", summary: "Queue a stalled stack again now", response: { status: 202 },
    errors: [401, 403, 404] }, [admin], (req, res) => {
    const name = String(req.params.name ?? "");
    if (!DNS_LABEL.test(name) || !ctx.engine.getStack(name)) throw notFound(`stack ${JSON.stringify(name.slice(0, 63))}`);
    ctx.engine.enqueue(name);
    ctx.audit.record({ actorId: caller(req).account.id, action: "retry-stack", detail: { stack: name } }, ctx.clock.now());
    res.status(202).json({ stack: name, queued: true });
  });

  route(r, registry, { method: "get", path: "/nodes", tag: "admin", auth: "admin", summary: "Proxmox node capacity (CPU, memory, uptime)",
    response: { status: 200, schema: z.object({ items: z.array(z.record(z.string(), z.unknown())) }) }, errors: [401, 403, 503] }, [admin], async (_req, res) => {
    const nodes = await pveCall("nodes", () => proxmoxOf(ctx).nodes());
    res.json({ items: nodes });
  });
  return r;
}
