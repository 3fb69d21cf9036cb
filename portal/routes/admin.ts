// /api/admin (role admin): users (search, ban, role, point grants through the ledger), stacks with conditions, retry, node capacity,
// the stacks repository's sync status and a stack file's rollback (check report first, commit on confirm).
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
import { SyncStatusSchema } from "../../schemas/sync-status.js";
import { ProxstackError } from "../../lib/errors.js";
import { commitRollback, planRollback, type RollbackPlan } from "../../stackrepo/rollback.js";
import { syncStatus } from "../../stackrepo/sync.js";

const AdminUserOut = UserOut.extend({ banned: z.boolean(), banReason: z.string().nullable(), banExpiresAt: z.string().nullable(), balance: z.number() });

const RollbackBody = z
  .object({
    to: z.string().trim().min(1).max(200).describe("The revision to restore the stack file from: a commit id, a branch or HEAD~N. @example HEAD~1"),
    confirm: z.boolean().optional().describe("Commit the restoration; without it only the check report is answered."),
    allowReplace: z.boolean().optional().describe("Allow a restoration that replaces containers."),
    allowDestroy: z.boolean().optional().describe("Allow a restoration that destroys containers."),
  })
  .strict();
/** As `proxstack rollback --json`: the plan without the file texts, and the new commit once committed. */
const RollbackOut = z.object({
  stack: z.string(),
  file: z.string().describe("@example alice.yaml"),
  to: z.string(),
  commit: z.string().describe("The revision resolved to a commit id."),
  allocations: z.array(
    z.object({
      instance: z.string(),
      field: z.enum(["vmid", "ip"]),
      value: z.string(),
      outcome: z.enum(["kept-current", "kept", "dropped"]),
      reason: z.string(),
    }),
  ),
  report: z
    .looseObject({ ok: z.boolean(), failures: z.array(z.string()), replacements: z.number(), destroys: z.number() })
    .describe("The check report of today → restored (as `proxstack check --json`)."),
  changes: z.boolean().describe("False when the file is already as it was at the revision."),
  committed: z.string().optional().describe("The rollback commit, when confirmed."),
});

const rollbackOut = (plan: RollbackPlan, committed?: string) => {
  const { current: _c, restored: _r, ...rest } = plan;
  return { ...rest, ...(committed ? { committed } : {}) };
};

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
    return {
      ...userOut(a),
      banned: ban !== undefined,
      banReason: ban?.reason ?? null,
      banExpiresAt: ban?.expiresAt ?? null,
      balance: a.stack ? ctx.ledger.balanceMicro(a.stack) / MICRO : 0,
    };
  };

  route(
    r,
    registry,
    {
      method: "get",
      path: "/users",
      tag: "admin",
      auth: "admin",
      summary: "Users, searched by e-mail or name",
      query: AdminUsersQuery,
      response: { status: 200, schema: z.object({ items: z.array(AdminUserOut), page: z.number(), limit: z.number(), total: z.number() }) },
      errors: [401, 403],
    },
    [admin],
    (_req, res, { query }) => {
      const { items, total } = ctx.accounts.search(query.search, { offset: (query.page - 1) * query.limit, limit: query.limit });
      res.json({ items: items.map(view), page: query.page, limit: query.limit, total });
    },
  );

  route(
    r,
    registry,
    {
      method: "put",
      path: "/users/:id/ban",
      tag: "admin",
      auth: "admin",
      summary: "Ban (with reason and optional expiry) or unban; a ban ends every session at once",
      body: BanBody,
      response: { status: 200, schema: AdminUserOut },
      errors: [400, 401, 403, 404],
    },
    [admin],
    (req, res, { body }) => {
      const me = caller(req).account;
      const a = target(req);
      if (a.id === me.id) throw httpError(409, "self", "you cannot ban yourself");
      const now = ctx.clock.now();
      if (body.banned && body.expiresAt && Date.parse(body.expiresAt) <= now.getTime())
        throw httpError(400, "invalid-request", "expiresAt is in the past", { expiresAt: "is in the past" });
      ctx.accounts.setBan(a.id, body.banned ? { reason: body.reason ?? "", expiresAt: body.expiresAt } : undefined, now);
      if (body.banned) ctx.sessions.revokeAccount(a.id, "banned", now);
      ctx.audit.record(
        { actorId: me.id, subjectId: a.id, action: body.banned ? "ban" : "unban", detail: { reason: body.reason ?? null, expiresAt: body.expiresAt ?? null } },
        now,
      );
      res.json(view(ctx.accounts.byId(a.id) ?? a));
    },
  );

  route(
    r,
    registry,
    {
      method: "put",
      path: "/users/:id/role",
      tag: "admin",
      auth: "admin",
      summary: "Set the role (user or admin)",
      body: RoleBody,
      response: { status: 200, schema: AdminUserOut },
      errors: [400, 401, 403, 404],
    },
    [admin],
    (req, res, { body }) => {
      const me = caller(req).account;
      const a = target(req);
      if (a.id === me.id && body.role !== "admin") throw httpError(409, "self", "you cannot take your own administrator role");
      ctx.accounts.setRole(a.id, body.role, ctx.clock.now());
      ctx.audit.record({ actorId: me.id, subjectId: a.id, action: "role", detail: { role: body.role } }, ctx.clock.now());
      res.json(view(ctx.accounts.byId(a.id) ?? a));
    },
  );

  route(
    r,
    registry,
    {
      method: "post",
      path: "/users/:id/points",
      tag: "admin",
      auth: "admin",
      summary: "Grant (or, negative, take) points: one ledger entry with the reason",
      body: GrantBody,
      response: { status: 201, schema: z.object({ balance: z.number(), entry: z.object({ id: z.number(), amount: z.number(), reason: z.string() }) }) },
      errors: [400, 401, 403, 404, 409],
    },
    [admin],
    (req, res, { body }) => {
      const me = caller(req).account;
      const a = target(req);
      if (!a.stack) throw httpError(409, "no-stack", "this account has no stack yet (its e-mail is not verified)");
      const micro = Math.round(body.amount * MICRO);
      if (micro < 0 && ctx.ledger.balanceMicro(a.stack) + micro < 0)
        throw httpError(409, "insufficient-points", "taking this many points would make the balance negative");
      const e = ctx.ledger.credit(a.stack, micro, "admin-grant", { note: `${body.reason} (by ${me.email})`, at: ctx.clock.now() });
      ctx.audit.record({ actorId: me.id, subjectId: a.id, action: "points", detail: { amountMicro: micro, reason: body.reason } }, ctx.clock.now());
      res.status(201).json({ balance: e.balanceMicro / MICRO, entry: { id: e.id, amount: e.amountMicro / MICRO, reason: body.reason } });
    },
  );

  route(
    r,
    registry,
    {
      method: "get",
      path: "/stacks",
      tag: "admin",
      auth: "admin",
      summary: "Every stack with its condition and last error",
      response: {
        status: 200,
        schema: z.object({
          items: z.array(
            z.object({
              name: z.string(),
              condition: z.string(),
              reason: z.string(),
              message: z.string(),
              owner: z.string().nullable(),
              lastError: z.string().nullable(),
              updatedAt: z.string(),
            }),
          ),
        }),
      },
      errors: [401, 403],
    },
    [admin],
    async (_req, res) => {
      const owners = new Map((await ctx.specs.list()).map((f) => [f.stack, f.spec?.owner.email ?? null]));
      res.json({
        items: ctx.engine.listStacks().map((s) => {
          const failed = ctx.engine.listRuns(s.name, 20).find((run) => run.state === "failed");
          return {
            name: s.name,
            condition: s.condition,
            reason: s.reason,
            message: s.message,
            owner: owners.get(s.name) ?? null,
            lastError: failed?.errorMessage ?? null,
            updatedAt: s.updatedAt,
          };
        }),
      });
    },
  );

  route(
    r,
    registry,
    {
      method: "post",
      path: "/stacks/:name/retry",
      tag: "admin",
      auth: "admin",
      summary: "Queue a stalled stack again now",
      response: { status: 202 },
      errors: [401, 403, 404],
    },
    [admin],
    (req, res) => {
      const name = String(req.params.name ?? "");
      if (!DNS_LABEL.test(name) || !ctx.engine.getStack(name)) throw notFound(`stack ${JSON.stringify(name.slice(0, 63))}`);
      ctx.engine.enqueue(name);
      ctx.audit.record({ actorId: caller(req).account.id, action: "retry-stack", detail: { stack: name } }, ctx.clock.now());
      res.status(202).json({ stack: name, queued: true });
    },
  );

  route(
    r,
    registry,
    {
      method: "get",
      path: "/nodes",
      tag: "admin",
      auth: "admin",
      summary: "Proxmox node capacity (CPU, memory, uptime)",
      response: { status: 200, schema: z.object({ items: z.array(z.record(z.string(), z.unknown())) }) },
      errors: [401, 403, 503],
    },
    [admin],
    async (_req, res) => {
      const nodes = await pveCall("nodes", () => proxmoxOf(ctx).nodes());
      res.json({ items: nodes });
    },
  );
  const repoPaths = () => {
    if (!ctx.stackRepo)
      throw httpError(503, "not-configured", "this portal was started without the stacks repository; sync status and rollback are not available");
    return ctx.stackRepo;
  };

  route(
    r,
    registry,
    {
      method: "get",
      path: "/sync",
      tag: "admin",
      auth: "admin",
      summary: "The last sync of the stacks repository with its remote (null: none yet)",
      response: { status: 200, schema: z.object({ sync: SyncStatusSchema.nullable() }) },
      errors: [401, 403, 503],
    },
    [admin],
    (_req, res) => {
      res.json({ sync: syncStatus(repoPaths().dataDir) ?? null });
    },
  );

  route(
    r,
    registry,
    {
      method: "post",
      path: "/stacks/:stack/rollback",
      tag: "admin",
      auth: "admin",
      summary: "Restore a stack file as it was at a revision: the check report, and with confirm a new commit (422 with the report when the check refuses it)",
      body: RollbackBody,
      response: { status: 200, schema: RollbackOut },
      errors: [400, 401, 403, 404, 409, 422, 503],
    },
    [admin],
    async (req, res, { body }) => {
      const { stacksDir } = repoPaths();
      const stack = String(req.params.stack ?? "");
      if (!DNS_LABEL.test(stack)) throw notFound(`stack ${JSON.stringify(stack.slice(0, 63))}`);
      let plan: RollbackPlan;
      try {
        plan = await planRollback(stacksDir, stack, body.to, { allowReplace: body.allowReplace ?? false, allowDestroy: body.allowDestroy ?? false });
      } catch (err) {
        if (!(err instanceof ProxstackError)) throw err;
        if (err.code === "no-such-stack") throw notFound(`stack ${JSON.stringify(stack)} (no ${stack}.yaml now or at ${body.to})`);
        if (err.code === "unknown-revision") {
          throw httpError(400, "unknown-revision", `git does not know the revision ${JSON.stringify(body.to)}; give a commit id, a branch or HEAD~N`, {
            to: "is not a known revision",
          });
        }
        if (err.code === "not-a-repository") throw httpError(503, "not-configured", "the stacks directory is not a git repository; rollback is not available");
        throw err;
      }
      if (!body.confirm) {
        res.json(rollbackOut(plan));
        return;
      }
      if (!plan.changes) throw httpError(409, "nothing-to-roll-back", `${plan.file} is already as it was at ${body.to}; nothing to commit`);
      if (!plan.report.ok) {
        res.status(422).json({
          error: { code: "rollback-refused", message: `restoring ${plan.file} as of ${body.to} is refused: ${plan.report.failures.join("; ")}` },
          rollback: rollbackOut(plan),
        });
        return;
      }
      const me = caller(req).account;
      let committed: string;
      try {
        committed = await commitRollback(stacksDir, plan, { name: me.name || me.email, email: me.email });
      } catch (err) {
        if (err instanceof ProxstackError && err.code === "changed-meanwhile")
          throw httpError(409, "changed-meanwhile", `${plan.file} changed while the rollback was prepared; check again`);
        throw err;
      }
      ctx.audit.record({ actorId: me.id, action: "rollback-stack", detail: { stack, to: body.to, commit: plan.commit, committed } }, ctx.clock.now());
      res.json(rollbackOut(plan, committed));
    },
  );
  return r;
}
