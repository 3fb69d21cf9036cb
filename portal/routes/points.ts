// /api/points: balance, burn per day and runway; the ledger, paginated (billing writes it; the portal reads it).
import { Router } from "express";
import { LedgerOut, PageQuery, PointsOut } from "../api-schemas.js";
import { caller, requireUser } from "../auth-guard.js";
import type { PortalContext } from "../context.js";
import { ownStack } from "../ownership.js";
import { MICRO } from "../points-ledger.js";
import { route, type RouteRegistry } from "../routing.js";
import { costOf } from "../../stackfiles/cost.js";

export function pointsRoutes(ctx: PortalContext, registry: RouteRegistry): Router {
  const r = Router();
  const user = requireUser(ctx);
  route(
    r,
    registry,
    {
      method: "get",
      path: "/",
      tag: "points",
      auth: "user",
      summary: "Balance, burn per day and runway",
      response: { status: 200, schema: PointsOut },
      errors: [401],
    },
    [user],
    async (req, res) => {
      const a = caller(req).account;
      const balanceMicro = a.stack ? ctx.ledger.balanceMicro(a.stack) : 0;
      // An invalid stack file must not hide the balance: burn is then unknown (0).
      const own = await ownStack(ctx, a).catch(() => undefined);
      const burnPerDay = own && a.role !== "admin" && !own.spec.suspension ? costOf(own.spec, own.platform).perDay : 0;
      const runwaySeconds = burnPerDay > 0 ? Math.max(0, Math.floor((balanceMicro / MICRO / burnPerDay) * 86_400)) : null;
      res.json({ balance: balanceMicro / MICRO, balanceMicro, burnPerDay, runwaySeconds });
    },
  );
  route(
    r,
    registry,
    {
      method: "get",
      path: "/ledger",
      tag: "points",
      auth: "user",
      summary: "Ledger entries, newest first",
      query: PageQuery,
      response: { status: 200, schema: LedgerOut },
      errors: [400, 401],
    },
    [user],
    (req, res, { query }) => {
      const a = caller(req).account;
      const { items, total } = a.stack ? ctx.ledger.entries(a.stack, { offset: (query.page - 1) * query.limit, limit: query.limit }) : { items: [], total: 0 };
      res.json({
        items: items.map((e) => ({
          id: e.id,
          amount: e.amountMicro / MICRO,
          amountMicro: e.amountMicro,
          reason: e.reason,
          note: e.note ?? null,
          balance: e.balanceMicro / MICRO,
          at: e.at,
        })),
        page: query.page,
        limit: query.limit,
        total,
      });
    },
  );
  return r;
}
