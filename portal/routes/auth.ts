// /api/auth: register, verify-email, login, refresh (rotation with reuse detection), logout, me, password.
import { createHash, randomBytes, randomInt, randomUUID, timingSafeEqual } from "node:crypto";
import { Router, type Request } from "express";
import { z } from "zod";
import { LoginBody, LogoutBody, PasswordBody, RefreshBody, RegisterBody, ResendBody, TokensOut, UserOut, VerifyEmailBody } from "../api-schemas.js";
import { userOut } from "../account-view.js";
import { activeBan, bannedError, caller, requireUser } from "../auth-guard.js";
import type { PortalContext } from "../context.js";
import { httpError, tooMany } from "../http-errors.js";
import { MICRO } from "../points-ledger.js";
import type { Account } from "../repos/accounts.js";
import { route, type RouteRegistry } from "../routing.js";
import { sanitiseStackName, uniqueStackName } from "../stack-names.js";

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");

export function authRoutes(ctx: PortalContext, registry: RouteRegistry): Router {
  const r = Router();
  const { accounts, sessions, clock, options } = ctx;
  const user = requireUser(ctx);

  // Requests that guess (passwords, codes) or create accounts count against the caller's address; sized so a whole
  // office behind one NAT can sign up. Refresh, me, logout and password carry a secret already and are not counted.
  const perIp = (req: Request, _res: unknown, next: () => void) => {
    const v = ctx.limits.authPerIp.hit(`ip:${req.ip ?? "?"}`);
    if (!v.ok) throw tooMany(v.retryAfterSeconds, "too many sign-in requests from this address");
    next();
  };

  // A dummy hash so an unknown e-mail costs as much time as a wrong password (no account enumeration by timing).
  let dummyHash: Promise<string> | undefined;
  const dummy = () => (dummyHash ??= ctx.hasher.hash(randomBytes(16).toString("hex")));

  async function sendCode(a: Account): Promise<void> {
    const code = String(randomInt(0, 1_000_000)).padStart(6, "0");
    accounts.putCode(a.id, sha256(`${a.id}:${code}`), new Date(clock.now().getTime() + options.verifyCodeTtlMs).toISOString());
    await ctx.mail.send({
      to: a.email,
      subject: "Your proxstack verification code",
      text: `Your verification code is ${code}\n\nIt is valid for ${Math.round(options.verifyCodeTtlMs / 60_000)} minutes. If you did not sign up, ignore this message.\n`,
    });
  }

  async function issueTokens(a: Account, family: string): Promise<z.infer<typeof TokensOut>> {
    const refreshToken = randomBytes(32).toString("base64url");
    const now = clock.now();
    sessions.addRefresh(sha256(refreshToken), a.id, family, now, new Date(now.getTime() + options.refreshTtlSeconds * 1000));
    const accessToken = await ctx.tokens.sign({ accountId: a.id, session: family });
    return { accessToken, refreshToken, expiresIn: ctx.tokens.accessTtlSeconds, user: userOut(a) };
  }

  /** The stack a verified account owns: an existing file whose owner.email is theirs, else a new unique name. */
  async function stackFor(a: Account): Promise<string> {
    const taken = accounts.stacksTaken();
    const files = await ctx.specs.list();
    const mine = files.find((f) => f.spec?.owner.email.toLowerCase() === a.email && !taken.has(f.stack));
    if (mine) return mine.stack;
    const names = new Set([...taken, ...files.map((f) => f.stack)]);
    const exists = async (n: string) => names.has(n) || (await ctx.specs.read(n)) !== undefined;
    const base = sanitiseStackName(a.name || a.email.split("@")[0] || "");
    for (let i = 0; i < 100; i++) {
      const candidate = uniqueStackName(base, (n) => names.has(n));
      if (!(await exists(candidate))) return candidate;
      names.add(candidate);
    }
    throw httpError(409, "conflict", "could not find a free stack name; try again");
  }

  route(
    r,
    registry,
    {
      method: "post",
      path: "/register",
      tag: "auth",
      auth: "public",
      summary: "Create an account; a 6-digit code is mailed",
      body: RegisterBody,
      response: { status: 201, schema: z.object({ status: z.literal("verification-sent"), email: z.string() }) },
      errors: [400, 429],
    },
    [perIp],
    async (_req, res, { body }) => {
      const existing = accounts.byEmail(body.email);
      if (existing) {
        // Same answer as a new sign-up (no enumeration); the owner learns of the attempt by mail.
        await ctx.mail.send({
          to: existing.email,
          subject: "Sign-up attempt on proxstack",
          text: "Someone tried to create an account with this address. If it was you, log in instead, or ask for a new code.\n",
        });
      } else {
        const passwordHash = await ctx.hasher.hash(body.password);
        const a = accounts.create({ email: body.email, name: body.name ?? body.email.split("@")[0] ?? "", passwordHash }, clock.now());
        await sendCode(a);
        ctx.audit.record({ subjectId: a.id, action: "register" }, clock.now());
      }
      res.status(201).json({ status: "verification-sent", email: body.email });
    },
  );

  route(
    r,
    registry,
    {
      method: "post",
      path: "/resend-verification",
      tag: "auth",
      auth: "public",
      summary: "Mail a new verification code",
      body: ResendBody,
      response: { status: 202 },
      errors: [400, 429],
    },
    [perIp],
    async (_req, res, { body }) => {
      const a = accounts.byEmail(body.email);
      if (a && !a.verifiedAt) {
        const v = ctx.limits.loginPerAccount.hit(`resend:${a.id}`);
        if (!v.ok) throw tooMany(v.retryAfterSeconds, "too many codes requested for this account");
        await sendCode(a);
      }
      res.status(202).json({ status: "verification-sent", email: body.email });
    },
  );

  route(
    r,
    registry,
    {
      method: "post",
      path: "/verify-email",
      tag: "auth",
      auth: "public",
      summary: "Verify the e-mail with the mailed code; claims or names the account's stack",
      body: VerifyEmailBody,
      response: { status: 200, schema: z.object({ user: UserOut }) },
      errors: [400, 429],
    },
    [perIp],
    async (_req, res, { body }) => {
      const bad = () => httpError(400, "invalid-code", "the code is wrong or has expired; request a new one with POST /api/auth/resend-verification");
      const a = accounts.byEmail(body.email);
      if (!a || a.verifiedAt) throw bad();
      const stored = accounts.getCode(a.id);
      if (!stored || stored.attempts >= options.verifyAttempts || Date.parse(stored.expiresAt) <= clock.now().getTime()) throw bad();
      const want = Buffer.from(stored.codeHash, "hex");
      const got = Buffer.from(sha256(`${a.id}:${body.code}`), "hex");
      if (!timingSafeEqual(want, got)) {
        accounts.countAttempt(a.id);
        throw bad();
      }
      const stack = await stackFor(a);
      accounts.tx(() => {
        accounts.verify(a.id, stack, clock.now());
        accounts.deleteCode(a.id);
      });
      if (options.signupBonusPoints > 0) {
        ctx.ledger.credit(stack, options.signupBonusPoints * MICRO, "signup-bonus", {
          note: "welcome bonus",
          idempotencyKey: `signup-bonus:${a.id}`,
          at: clock.now(),
        });
      }
      ctx.audit.record({ subjectId: a.id, action: "verify-email", detail: { stack } }, clock.now());
      res.json({ user: userOut(accounts.byId(a.id) ?? a) });
    },
  );

  route(
    r,
    registry,
    {
      method: "post",
      path: "/login",
      tag: "auth",
      auth: "public",
      summary: "Log in: an access token and a refresh token",
      body: LoginBody,
      response: { status: 200, schema: TokensOut },
      errors: [400, 401, 403, 429],
    },
    [perIp],
    async (_req, res, { body }) => {
      const key = `login:${body.email}`;
      const blocked = ctx.limits.loginPerAccount.blocked(key);
      if (!blocked.ok) throw tooMany(blocked.retryAfterSeconds, "too many failed logins for this account");
      const a = accounts.byEmail(body.email);
      const ok = a ? await ctx.hasher.verify(body.password, a.passwordHash) : (await ctx.hasher.verify(body.password, await dummy()), false);
      if (!a || !ok) {
        ctx.limits.loginPerAccount.hit(key);
        throw httpError(401, "invalid-credentials", "the e-mail or password is wrong");
      }
      const ban = activeBan(a, clock.now());
      if (ban) throw bannedError(ban);
      if (!a.verifiedAt) throw httpError(403, "email-not-verified", "verify your e-mail first (POST /api/auth/verify-email with the mailed code)");
      ctx.limits.loginPerAccount.reset(key);
      const family = randomUUID();
      sessions.createSession(family, a.id, clock.now());
      res.json(await issueTokens(a, family));
    },
  );

  route(
    r,
    registry,
    {
      method: "post",
      path: "/refresh",
      tag: "auth",
      auth: "public",
      summary: "Trade a refresh token for new tokens; reusing a rotated one ends the whole session",
      body: RefreshBody,
      response: { status: 200, schema: TokensOut },
      errors: [400, 401, 403],
    },
    [],
    async (_req, res, { body }) => {
      const now = clock.now();
      const rec = sessions.getRefresh(sha256(body.refreshToken));
      const invalid = () => httpError(401, "invalid-refresh-token", "the refresh token is not valid; log in again");
      if (!rec) throw invalid();
      if (rec.rotatedAt || rec.revokedAt) {
        // A rotated token presented again means it leaked: end the whole session (both holders log in again).
        sessions.revokeFamily(rec.family, "refresh-token-reuse", now);
        ctx.audit.record({ subjectId: rec.accountId, action: "refresh-reuse", detail: { family: rec.family } }, now);
        throw httpError(401, "refresh-token-reused", "this refresh token was already used; the session has been ended, log in again");
      }
      if (Date.parse(rec.expiresAt) <= now.getTime() || !sessions.isLive(rec.family, rec.accountId)) throw invalid();
      const a = accounts.byId(rec.accountId);
      if (!a) throw invalid();
      const ban = activeBan(a, now);
      if (ban) throw bannedError(ban);
      if (!sessions.markRotated(rec.tokenHash, now)) {
        sessions.revokeFamily(rec.family, "refresh-token-reuse", now);
        throw httpError(401, "refresh-token-reused", "this refresh token was already used; the session has been ended, log in again");
      }
      res.json(await issueTokens(a, rec.family));
    },
  );

  route(
    r,
    registry,
    {
      method: "post",
      path: "/logout",
      tag: "auth",
      auth: "user",
      summary: "End this session (its access and refresh tokens stop working at once)",
      body: LogoutBody,
      response: { status: 204 },
      errors: [401],
    },
    [user],
    (req, res) => {
      sessions.revokeFamily(caller(req).session, "logout", clock.now());
      res.status(204).end();
    },
  );

  route(
    r,
    registry,
    { method: "get", path: "/me", tag: "auth", auth: "user", summary: "The logged-in account", response: { status: 200, schema: UserOut }, errors: [401, 403] },
    [user],
    (req: Request, res) => {
      res.json(userOut(caller(req).account));
    },
  );

  route(
    r,
    registry,
    {
      method: "put",
      path: "/password",
      tag: "auth",
      auth: "user",
      summary: "Change the password; every other session ends",
      body: PasswordBody,
      response: { status: 204 },
      errors: [400, 401, 429],
    },
    [user],
    async (req, res, { body }) => {
      const { account, session } = caller(req);
      const key = `login:${account.email}`;
      const blocked = ctx.limits.loginPerAccount.blocked(key);
      if (!blocked.ok) throw tooMany(blocked.retryAfterSeconds, "too many failed password checks for this account");
      if (!(await ctx.hasher.verify(body.currentPassword, account.passwordHash))) {
        ctx.limits.loginPerAccount.hit(key);
        throw httpError(400, "invalid-credentials", "the current password is wrong", { currentPassword: "is wrong" });
      }
      accounts.setPassword(account.id, await ctx.hasher.hash(body.newPassword), clock.now());
      sessions.revokeAccount(account.id, "password-changed", clock.now(), session);
      ctx.audit.record({ actorId: account.id, subjectId: account.id, action: "password-changed" }, clock.now());
      res.status(204).end();
    },
  );

  return r;
}
