// The HTTP edge of errors: one middleware turns anything thrown into the envelope {"error":{"code","message","fields"?}}, never a stack trace.
import type { ErrorRequestHandler, RequestHandler } from "express";
import { ProxstackError } from "../lib/errors.js";
import type { Logger } from "../lib/logger.js";

export interface ErrorEnvelope {
  error: { code: string; message: string; fields?: Record<string, string> };
}

export const httpError = (status: number, code: string, message: string, fields?: Record<string, string>) =>
  new ProxstackError(code, message, { kind: "stall", status, ...(fields ? { fields } : {}) });

/** 404 for a resource the caller may not see: the same answer whether it exists or not. */
export const notFound = (what: string) => httpError(404, "not-found", `${what} not found`);

/** Errors body-parser and express raise, by their `type`, as our codes. */
const PARSER_ERRORS: Record<string, { status: number; code: string; message: string }> = {
  "entity.too.large": { status: 413, code: "body-too-large", message: "the request body is larger than 1 MB" },
  "entity.parse.failed": { status: 400, code: "malformed-json", message: "the request body is not valid JSON" },
  "encoding.unsupported": { status: 415, code: "unsupported-encoding", message: "the request body's encoding is not supported" },
  "charset.unsupported": { status: 415, code: "unsupported-charset", message: "the request body's charset is not supported; send UTF-8" },
  "request.aborted": { status: 400, code: "request-aborted", message: "the request was aborted" },
};

export function errorMiddleware(log: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    void _next;
    let status = 500;
    let body: ErrorEnvelope = { error: { code: "internal", message: "something went wrong on our side; it has been logged" } };
    const parser = typeof err === "object" && err !== null && "type" in err ? PARSER_ERRORS[String((err as { type: unknown }).type)] : undefined;
    if (parser) {
      status = parser.status;
      body = { error: { code: parser.code, message: parser.message } };
    } else if (isClientHttpError(err)) {
      // express/router's own 4xx (e.g. a path parameter that is not valid percent-encoding): say it plainly.
      status = err.status;
      body = {
        error: {
          code: "bad-request",
          message: status === 400 ? "the request is malformed (check the URL's percent-encoding)" : `the request was refused (HTTP ${status})`,
        },
      };
    } else if (err instanceof ProxstackError && err.status !== undefined && err.status < 500) {
      status = err.status;
      body = { error: { code: err.code, message: err.message, ...(err.fields ? { fields: err.fields } : {}) } };
    } else if (err instanceof ProxstackError && (err.status === 501 || err.status === 502 || err.status === 503)) {
      status = err.status;
      body = { error: { code: err.code, message: err.message } };
      log.warn({ err, path: req.path }, "request failed (upstream)");
    } else if (err instanceof ProxstackError && err.kind === "retry") {
      status = 503;
      body = { error: { code: err.code, message: err.message } };
      log.warn({ err, path: req.path }, "request failed (transient)");
    } else {
      log.error({ err, method: req.method, path: req.path }, "request failed");
    }
    if (status === 429 && err instanceof ProxstackError && typeof (err as { retryAfter?: number }).retryAfter === "number") {
      res.setHeader("Retry-After", String((err as { retryAfter?: number }).retryAfter));
    }
    if (res.headersSent) {
      res.end();
      return;
    }
    res.status(status).json(body);
  };
}

function isClientHttpError(err: unknown): err is { status: number } {
  if (err instanceof ProxstackError || typeof err !== "object" || err === null) return false;
  const status = (err as { status?: unknown; expose?: unknown }).status;
  // http-errors set `expose` on client errors; router's URIError for a bad parameter carries only `status`.
  return typeof status === "number" && status >= 400 && status < 500 && ((err as { expose?: unknown }).expose === true || err instanceof URIError);
}

/** Unknown routes answer the envelope too. */
export const notFoundRoute: RequestHandler = (req, _res, next) => {
  next(httpError(404, "route-not-found", `no route ${req.method} ${req.path}`));
};

/** 429 with Retry-After. */
export function tooMany(retryAfterSeconds: number, message: string): ProxstackError {
  const e = httpError(429, "rate-limited", `${message}; try again in ${retryAfterSeconds} s`);
  (e as ProxstackError & { retryAfter?: number }).retryAfter = retryAfterSeconds;
  return e;
}
