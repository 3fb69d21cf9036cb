// The VPN service's HTTP API (express 5): bearer-token auth, zod-checked bodies, one error middleware.
import { createHash, timingSafeEqual } from "node:crypto";
import express, { type NextFunction, type Request, type Response } from "express";
import type { z } from "zod";
import { chainMessage, ProxstackError } from "../lib/errors.js";
import type { Logger } from "../lib/logger.js";
import { OwnerSchema, PutPeerBodySchema, RotateKeyBodySchema, type ErrorEnvelope, type Health } from "./api-schemas.js";
import type { PeerService } from "./peer-service.js";

export interface VpnAppDeps {
  service: PeerService;
  /** The bearer token clients must send. */
  token: string;
  iface: string;
  serverPublicKey: string;
  log: Logger;
}

const digest = (s: string) => createHash("sha256").update(s).digest();

/** Compares in constant time (over fixed-length digests, so the token's length does not leak either). */
export function tokenMatches(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

/** Field names as dotted paths (`targets.1`), under `root` when the value is not the body. */
function fieldsOf(err: z.ZodError, root?: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const i of err.issues) {
    const name = [root, ...i.path.map(String)].filter((x) => x !== undefined && x !== "").join(".") || "body";
    fields[name] ??= i.message;
  }
  return fields;
}

function parse<T>(schema: z.ZodType<T>, value: unknown, what: string, root?: string): T {
  const r = schema.safeParse(value);
  if (!r.success) {
    const fields = fieldsOf(r.error, root);
    throw new ProxstackError(
      "invalid-request",
      `${what}: ${Object.entries(fields)
        .map(([k, v]) => `${k} ${v}`)
        .join("; ")}`,
      { kind: "stall", status: 400, fields },
    );
  }
  return r.data;
}

const owner = (req: Request) => parse(OwnerSchema, req.params.owner, "bad owner in the path", "owner");

export function createVpnApp(deps: VpnAppDeps): express.Express {
  const { service, log } = deps;
  const app = express();
  app.disable("x-powered-by");

  app.get("/healthz", (_req, res) => {
    const body: Health = { ok: true, interface: deps.iface, peers: service.count(), publicKey: deps.serverPublicKey };
    res.json(body);
  });

  app.use((req, _res, next) => {
    const header = req.get("authorization") ?? "";
    const m = /^Bearer (\S+)$/.exec(header);
    if (!m) return next(new ProxstackError("unauthorized", "send the VPN token as 'Authorization: Bearer <token>'", { kind: "stall", status: 401 }));
    if (!tokenMatches(m[1] ?? "", deps.token)) return next(new ProxstackError("unauthorized", "the VPN token is wrong", { kind: "stall", status: 401 }));
    next();
  });
  app.use(express.json({ limit: "64kb" }));

  app.get("/peers", (_req, res) => {
    res.json({ peers: service.list() });
  });
  app.get("/peers/:owner", (req, res) => {
    res.json(service.get(owner(req)));
  });
  app.put("/peers/:owner", async (req, res) => {
    const o = owner(req);
    const body = parse(PutPeerBodySchema, req.body, "bad peer body");
    res.json(await service.put(o, body));
  });
  app.post("/peers/:owner/key", async (req, res) => {
    const o = owner(req);
    const body = parse(RotateKeyBodySchema, req.body ?? {}, "bad key body");
    res.json(await service.rotateKey(o, body));
  });
  app.delete("/peers/:owner", async (req, res) => {
    await service.remove(owner(req));
    res.status(204).end();
  });

  app.use((_req, _res, next) => next(new ProxstackError("not-found", "no such endpoint; see docs/vpn.md for the API", { kind: "stall", status: 404 })));

  // The one place errors become HTTP: a code, a message, fields; never a stack trace.
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    void _next;
    let e: ProxstackError;
    if (err instanceof ProxstackError) e = err;
    else if (isBodyParserError(err)) e = new ProxstackError("invalid-request", `the body must be JSON: ${err.message}`, { kind: "stall", status: err.status });
    else e = new ProxstackError("internal", "internal error; see the VPN service log", { kind: "bug", cause: err });
    const status = e.status ?? 500;
    if (status >= 500) log.error({ err: chainMessage(e), code: e.code, method: req.method, path: req.path }, "vpn request failed");
    else log.info({ code: e.code, method: req.method, path: req.path }, "vpn request refused");
    const body: ErrorEnvelope = { error: { code: e.code, message: e.message, ...(e.fields ? { fields: e.fields } : {}) } };
    res.status(status).json(body);
  });
  return app;
}

function isBodyParserError(err: unknown): err is Error & { status: number } {
  return err instanceof Error && typeof (err as { status?: unknown }).status === "number" && "type" in err;
}
