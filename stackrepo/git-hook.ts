// `POST /api/hooks/git`: a push webhook (GitHub's `X-Hub-Signature-256` HMAC-SHA256 format) that brings the next stacks sync forward.
import { createHmac, timingSafeEqual } from "node:crypto";
import express, { type NextFunction, type Request, type Response, type Router } from "express";
import type { Logger } from "../lib/logger.js";
import { chainMessage, ProxstackError } from "../lib/errors.js";

/** The route the router serves; mount the router at the application's root. */
export const GIT_HOOK_PATH = "/api/hooks/git";

/** Largest webhook body accepted; GitHub caps payloads at 25 MB but a push of stack files is small. */
const BODY_LIMIT = "1mb";

export interface GitHookOptions {
  /** The webhook's shared secret, as configured on the remote. */
  secret: string;
  /** Called (not awaited) for each verified push, e.g. the sync timer's `trigger()`. */
  onPush: () => void | Promise<void>;
  log?: Logger;
}

/**
 * A router serving {@link GIT_HOOK_PATH}. It reads the raw body itself (the signature covers the exact
 * bytes), so mount it before any JSON body parser: `app.use(createGitHookRouter({ secret, onPush }))`.
 * Answers: 202 `{"accepted":true}` for a verified push, 200 `{"pong":true}` for GitHub's `ping`, 200
 * `{"ignored":"<event>"}` for other events, 401 on a missing or wrong signature, 413 over 1 MB, all errors
 * in the envelope `{"error":{"code","message"}}`.
 */
export function createGitHookRouter(opts: GitHookOptions): Router {
  if (opts.secret.length === 0) throw new ProxstackError("bad-config", "the git webhook secret is empty: it would accept any sender", { kind: "stall" });
  const router = express.Router();
  router.post(GIT_HOOK_PATH, express.raw({ type: () => true, limit: BODY_LIMIT }), (req: Request, res: Response) => {
    const body: unknown = req.body;
    if (!Buffer.isBuffer(body)) {
      fail(res, 500, "raw-body-unavailable", "the webhook router must be mounted before any body parser: the signature covers the raw body");
      return;
    }
    if (!verifySignature(opts.secret, body, req.get("x-hub-signature-256"))) {
      fail(res, 401, "bad-signature", "missing or wrong X-Hub-Signature-256: expected sha256=<hex HMAC-SHA256 of the body with the webhook secret>");
      return;
    }
    const event = req.get("x-github-event") ?? "push";
    if (event === "ping") {
      res.status(200).json({ pong: true });
      return;
    }
    if (event !== "push") {
      res.status(200).json({ ignored: event });
      return;
    }
    Promise.resolve()
      .then(() => opts.onPush())
      .catch((err: unknown) => opts.log?.error({ err }, `git webhook: sync trigger failed: ${chainMessage(err)}`));
    res.status(202).json({ accepted: true });
  });
  // The body parser's own failures (too large, aborted) answer in the envelope too, never express's HTML page.
  router.use(GIT_HOOK_PATH, (err: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) {
      next(err);
      return;
    }
    const e = err as { status?: number; type?: string };
    if (e.type === "entity.too.large") fail(res, 413, "body-too-large", `the webhook body is larger than ${BODY_LIMIT}`);
    else fail(res, typeof e.status === "number" && e.status >= 400 && e.status < 500 ? e.status : 400, "bad-request", "the webhook body could not be read");
  });
  return router;
}

/** Whether `header` is `sha256=<hex>` of HMAC-SHA256(secret, body); compared in constant time. */
export function verifySignature(secret: string, body: Uint8Array, header: string | undefined): boolean {
  if (header === undefined) return false;
  const m = /^sha256=([0-9a-fA-F]{64})$/.exec(header.trim());
  if (!m?.[1]) return false;
  const expected = createHmac("sha256", secret).update(body).digest();
  const given = Buffer.from(m[1], "hex");
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function fail(res: Response, status: number, code: string, message: string): void {
  res.status(status).json({ error: { code, message } });
}
