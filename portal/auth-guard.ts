// Who is calling: the bearer token verified, the account loaded and its ban and session checked on every request, not only at login.
import type { NextFunction, Request, Response } from "express";
import { ProxstackError } from "../lib/errors.js";
import type { PortalContext } from "./context.js";
import { httpError } from "./http-errors.js";
import type { Account } from "./repos/accounts.js";

const CALLER = Symbol("caller");

export interface Caller {
  account: Account;
  session: string;
}

/** The caller a guard attached; throws if a route forgot its guard (a bug, not a 401). */
export function caller(req: Request): Caller {
  const c = (req as Request & { [CALLER]?: Caller })[CALLER];
  if (!c) throw new ProxstackError("no-caller", "route used without its auth guard", { kind: "bug" });
  return c;
}

/** The ban in force at `now`, if any (an expired ban no longer counts). */
export function activeBan(a: Account, now: Date): { reason: string; expiresAt: string | undefined } | undefined {
  if (!a.banned) return undefined;
  if (a.banExpiresAt !== undefined && Date.parse(a.banExpiresAt) <= now.getTime()) return undefined;
  return { reason: a.banReason ?? "", expiresAt: a.banExpiresAt };
}

export function bannedError(ban: { reason: string; expiresAt: string | undefined }): ProxstackError {
  return httpError(403, "banned", `this account is banned${ban.expiresAt ? ` until ${ban.expiresAt}` : ""}: ${ban.reason}`);
}

/** Resolves the caller from `Authorization: Bearer <jwt>`; 401 without a valid token or live session, 403 when banned. */
export async function authenticate(ctx: PortalContext, header: string | undefined): Promise<Caller> {
  const m = /^Bearer ([A-Za-z0-9._~+/=-]{1,4096})$/.exec(header ?? "");
  if (!m?.[1]) throw httpError(401, "unauthenticated", "send Authorization: Bearer <accessToken> (from POST /api/auth/login)");
  const claims = await ctx.tokens.verify(m[1]);
  const account = ctx.accounts.byLiveSession(claims.accountId, claims.session);
  if (!account) throw httpError(401, "invalid-token", "the session has ended; log in again");
  const ban = activeBan(account, ctx.clock.now());
  if (ban) throw bannedError(ban);
  return { account, session: claims.session };
}

export function requireUser(ctx: PortalContext) {
  return async (req: Request, _res: Response, next: NextFunction) => {
    (req as Request & { [CALLER]?: Caller })[CALLER] = await authenticate(ctx, req.headers.authorization);
    next();
  };
}

export function requireAdmin(ctx: PortalContext) {
  const user = requireUser(ctx);
  return async (req: Request, res: Response, next: NextFunction) => {
    await user(req, res, () => undefined);
    if (caller(req).account.role !== "admin") throw httpError(403, "forbidden", "this needs an administrator");
    next();
  };
}
