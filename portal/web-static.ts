// The built web portal (portal/web/dist) at `/`: files as they are, and index.html for any other GET a browser
// navigates to (Accept: text/html), so client-side routes survive a reload. /api, /ws, /metrics and /healthz are never answered here.
import { existsSync } from "node:fs";
import path from "node:path";
import express, { type RequestHandler, type Router } from "express";

/** Paths the SPA never shadows: their own routes (or their 404) answer. */
export const RESERVED = /^\/(?:api|ws|metrics|healthz)(?:\/|$)/;

/** The page's policy: scripts and styles from this origin only, images also from data: (the VPN QR code), fetch and WebSocket to this origin. */
export const WEB_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join("; ");

/** undefined when `dist` has no index.html (the web portal was not built): the API still runs. */
export function webStatic(dist: string): Router | undefined {
  const index = path.join(dist, "index.html");
  if (!existsSync(index)) return undefined;
  const r = express.Router();
  const csp: RequestHandler = (req, res, next) => {
    if (RESERVED.test(req.path)) {
      next("router");
      return;
    }
    res.setHeader("Content-Security-Policy", WEB_CSP);
    next();
  };
  r.use(csp);
  r.use(
    express.static(dist, {
      index: false,
      fallthrough: true,
      redirect: false,
      setHeaders: (res, file) => {
        // Hashed assets never change; everything else is looked at again.
        res.setHeader("Cache-Control", file.includes(`${path.sep}assets${path.sep}`) ? "public, max-age=31536000, immutable" : "no-store");
      },
    }),
  );
  r.get(/.*/, (req, res, next) => {
    // Browsers navigating ask for text/html; a script or image asking for a missing file gets the 404.
    if (!(req.headers.accept ?? "").includes("text/html") || req.path.startsWith("/assets/")) {
      next();
      return;
    }
    res.setHeader("Cache-Control", "no-store");
    res.sendFile(index);
  });
  return r;
}
