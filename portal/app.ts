// The portal API as an express app: createApp(deps) wires repositories and routes; the server and the engine are passed in by app/.
import type { Server } from "node:http";
import express, { type Express, type Request, type RequestHandler, type Router } from "express";
import type { Clock } from "../lib/clock.js";
import type { Logger } from "../lib/logger.js";
import type { SpecStore } from "../stackfiles/spec-store.js";
import type { VpnClient } from "../vpn/client.js";
import { DEFAULT_PORTAL_OPTIONS, type PortalContext, type PortalOptions, type PortalProxmox, type StackRepoPaths } from "./context.js";
import type { PortalDb } from "./db.js";
import type { EngineView } from "./engine-view.js";
import { errorMiddleware, httpError, notFoundRoute } from "./http-errors.js";
import type { MailTransport } from "./mail.js";
import { createMetrics } from "./metrics.js";
import { openApiDocument } from "./openapi.js";
import { createPasswordHasher, type PasswordHasher } from "./passwords.js";
import type { PointsLedger } from "./points-ledger.js";
import { createRateLimiter } from "./rate-limit.js";
import { createAccountsRepo } from "./repos/accounts.js";
import { createAuditRepo } from "./repos/audit.js";
import { createSessionsRepo } from "./repos/sessions.js";
import { cachedSpecReads } from "./spec-reads.js";
import { aboutRoutes, sourceRoutes, type PortalMode } from "./routes/about.js";
import { adminRoutes } from "./routes/admin.js";
import { authRoutes } from "./routes/auth.js";
import { catalogRoutes } from "./routes/catalog.js";
import { eventRoutes } from "./routes/events.js";
import { instanceRoutes } from "./routes/instances.js";
import { pointsRoutes } from "./routes/points.js";
import { vpnRoutes } from "./routes/vpn.js";
import type { RouteRegistry } from "./routing.js";
import type { StackHistory } from "./stack-history.js";
import type { TerminalSessions } from "./terminal-session.js";
import { attachTerminal, type TerminalServer } from "./terminal-ws.js";
import { createTicketStore } from "./terminal-tickets.js";
import { createTokenService } from "./tokens.js";
import { webStatic } from "./web-static.js";

export interface PortalDeps {
  db: PortalDb;
  specs: SpecStore;
  engine: EngineView;
  ledger: PointsLedger;
  mail: MailTransport;
  clock: Clock;
  log: Logger;
  /** HS256 signing secret, at least 32 bytes. */
  jwtSecret: Uint8Array;
  /** Runtime actions (snapshots, backups, stats, reboot); without it those routes answer 503. */
  pve?: PortalProxmox;
  /** The stacks repository and data dir for GET /api/admin/sync and rollback; without it those routes answer 503. */
  stackRepo?: StackRepoPaths;
  vpn?: VpnClient;
  terminal?: TerminalSessions;
  /** Default scrypt N=2^15; tests pass cheaper parameters. */
  hasher?: PasswordHasher;
  options?: Partial<PortalOptions>;
  /** Routers that read the raw body themselves (the git push webhook), mounted before the JSON parser. */
  rawBodyRouters?: Router[];
  /** Simulation or real, for GET /api/mode (default: everything simulated). */
  mode?: PortalMode;
  /** The stacks repository's history, for GET /api/instances/:id/source (503 without it). */
  history?: StackHistory;
  /** The built web portal (portal/web/dist); served at / when it holds an index.html. */
  webDist?: string;
}

export interface PortalApp {
  app: Express;
  /** The context routes use (tests reach repositories through it). */
  ctx: PortalContext;
  /** Serves /ws/terminal on `server` (call once the HTTP server exists). */
  attach(server: Server): TerminalServer;
  close(): void;
}

/** 1 MB, as the issue asks: larger bodies answer 413 before they are read. */
export const BODY_LIMIT_BYTES = 1024 * 1024;

const securityHeaders: RequestHandler = (_req, res, next) => {
  res.setHeader("X-Content-Type-Options", "nosniff");
  res.setHeader("X-Frame-Options", "DENY");
  res.setHeader("Referrer-Policy", "no-referrer");
  res.setHeader("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'; base-uri 'none'");
  res.setHeader("Cross-Origin-Opener-Policy", "same-origin");
  res.setHeader("Cross-Origin-Resource-Policy", "same-origin");
  res.setHeader("Strict-Transport-Security", "max-age=31536000; includeSubDomains");
  res.setHeader("Permissions-Policy", "camera=(), microphone=(), geolocation=()");
  res.setHeader("Cache-Control", "no-store");
  next();
};

function cors(origins: readonly string[]): RequestHandler {
  const allowed = new Set(origins);
  return (req, res, next) => {
    const origin = req.headers.origin;
    if (origin && allowed.has(origin)) {
      res.setHeader("Access-Control-Allow-Origin", origin);
      res.setHeader("Vary", "Origin");
      res.setHeader("Access-Control-Allow-Headers", "Authorization, Content-Type");
      res.setHeader("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE");
      res.setHeader("Access-Control-Max-Age", "600");
      if (req.method === "OPTIONS") {
        res.status(204).end();
        return;
      }
    }
    next();
  };
}

/** type-is's `hasBody`, the test body-parser applies first. */
const mayHaveBody = (req: Request) => req.headers["transfer-encoding"] !== undefined || !Number.isNaN(Number(req.headers["content-length"]));

/** Bodies only as JSON, at most 1 MB (checked on the declared length before reading, and while reading). */
const bodyGuard: RequestHandler = (req, _res, next) => {
  const length = Number(req.headers["content-length"] ?? 0);
  if (length > BODY_LIMIT_BYTES) throw httpError(413, "body-too-large", "the request body is larger than 1 MB");
  const hasBody = length > 0 || req.headers["transfer-encoding"] !== undefined;
  if (hasBody && !req.is("application/json")) throw httpError(415, "unsupported-media-type", "send the request body as application/json");
  next();
};

function trustProxySetting(v: string | undefined): boolean | number | string {
  if (v === undefined) return false;
  return /^\d+$/.test(v) ? Number(v) : v;
}

export function createApp(deps: PortalDeps): PortalApp {
  const options: PortalOptions = { ...DEFAULT_PORTAL_OPTIONS, ...deps.options };
  const ctx: PortalContext = {
    clock: deps.clock,
    log: deps.log,
    options,
    accounts: createAccountsRepo(deps.db),
    sessions: createSessionsRepo(deps.db),
    audit: createAuditRepo(deps.db),
    hasher: deps.hasher ?? createPasswordHasher(),
    tokens: createTokenService(deps.jwtSecret, deps.clock, options.accessTtlSeconds),
    mail: deps.mail,
    ledger: deps.ledger,
    specs: cachedSpecReads(deps.specs),
    engine: deps.engine,
    pve: deps.pve,
    stackRepo: deps.stackRepo,
    vpn: deps.vpn,
    terminal: deps.terminal,
    limits: {
      loginPerAccount: createRateLimiter({ limit: options.loginFailuresPerAccount, windowMs: options.rateWindowMs, clock: deps.clock }),
      authPerIp: createRateLimiter({ limit: options.authRequestsPerIp, windowMs: options.rateWindowMs, clock: deps.clock }),
    },
  };
  const tickets = createTicketStore(deps.clock, options.terminalTicketTtlMs);
  const metrics = createMetrics(deps.engine);
  const app = express();
  app.disable("x-powered-by");
  app.set("trust proxy", trustProxySetting(options.trustProxy));
  app.set("etag", false);
  app.set("query parser", "simple");
  app.use(securityHeaders);
  if (options.corsOrigins.length > 0) app.use(cors(options.corsOrigins));
  app.use(metrics.middleware);
  for (const r of deps.rawBodyRouters ?? []) app.use(r);
  app.use(bodyGuard);
  const json = express.json({ limit: BODY_LIMIT_BYTES, strict: true, type: "application/json" });
  // Requests the parser would skip anyway (no Content-Length or Transfer-Encoding: every GET) do not enter it.
  app.use((req, res, next) => (mayHaveBody(req) ? json(req, res, next) : next()));

  app.get("/healthz", (_req, res) => {
    res.json({ ok: true });
  });
  app.get("/metrics", async (_req, res) => {
    res.setHeader("Content-Type", metrics.registry.contentType);
    res.send(await metrics.registry.metrics());
  });

  const registry: RouteRegistry = [];
  const mounts = new Map<RouteRegistry[number], string>();
  const mount = (prefix: string, build: (reg: RouteRegistry) => express.Router) => {
    const before = registry.length;
    app.use(prefix, build(registry));
    for (const r of registry.slice(before)) mounts.set(r, prefix);
  };
  mount("/api/auth", (reg) => authRoutes(ctx, reg));
  mount("/api", (reg) => catalogRoutes(ctx, reg));
  mount("/api", (reg) => aboutRoutes(ctx, reg, deps.mode));
  mount("/api/instances", (reg) => instanceRoutes(ctx, reg, tickets));
  mount("/api/instances", (reg) => sourceRoutes(ctx, reg, deps.history));
  mount("/api/points", (reg) => pointsRoutes(ctx, reg));
  mount("/api/vpn", (reg) => vpnRoutes(ctx, reg));
  mount("/api/events", (reg) => eventRoutes(ctx, reg));
  mount("/api/admin", (reg) => adminRoutes(ctx, reg));
  let openapi: Record<string, unknown> | undefined;
  app.get("/api/openapi.json", (_req, res) => {
    openapi ??= openApiDocument(registry, mounts);
    res.json(openapi);
  });

  const web = deps.webDist ? webStatic(deps.webDist) : undefined;
  if (web) app.use(web);

  app.use(notFoundRoute);
  app.use(errorMiddleware(deps.log));

  const servers: TerminalServer[] = [];
  return {
    app,
    ctx,
    attach(server) {
      const t = attachTerminal(server, ctx, tickets);
      servers.push(t);
      return t;
    },
    close() {
      metrics.close();
      for (const s of servers) s.close();
    },
  };
}
