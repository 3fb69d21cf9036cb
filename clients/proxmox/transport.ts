// HTTP(S) transport to a Proxmox VE API: token header, form encoding, optional pinned or insecure TLS, raw answers.
import { request as httpRequest } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest, type RequestOptions } from "node:https";
import { connect as tlsConnect, type ConnectionOptions } from "node:tls";
import type { Duplex } from "node:stream";
import { ProxstackError } from "../../lib/errors.js";

export type PveParamValue = string | number | boolean | undefined;

/** What the recording hook sees for every request the client sends. */
export interface PveRequestRecord {
  method: "GET" | "POST" | "PUT" | "DELETE";
  /** Path below `/api2/json`, e.g. `/nodes/pve1/lxc/101/status/start`. */
  path: string;
  /** Parameters as sent on the wire (query for GET/DELETE, form body for POST/PUT). */
  params: Record<string, string>;
}

export interface PveRawResponse {
  status: number;
  reason: string;
  body: string;
}

export interface PveTransportOptions {
  endpoint: string;
  token: string;
  tls?: { insecure?: boolean; fingerprint?: string };
  /** Per-request timeout. @default 30000 */
  requestTimeoutMs?: number;
}

/** Wire encoding: booleans as 1/0 (PVE rejects true/false in forms), undefined left out. */
export function encodeParams(params: Record<string, PveParamValue>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined) continue;
    out[k] = typeof v === "boolean" ? (v ? "1" : "0") : String(v);
  }
  return out;
}

const normFp = (fp: string) => fp.replace(/:/g, "").toUpperCase();

export function createPveTransport(opts: PveTransportOptions): (req: PveRequestRecord) => Promise<PveRawResponse> {
  const base = new URL(opts.endpoint.replace(/\/+$/, "").replace(/\/api2\/json$/, "") + "/api2/json");
  const https = base.protocol === "https:";
  const timeout = opts.requestTimeoutMs ?? 30_000;
  const agent = https && opts.tls?.fingerprint ? pinnedAgent(opts.tls.fingerprint) : undefined;
  return (req) =>
    new Promise<PveRawResponse>((resolve, reject) => {
      const qs = new URLSearchParams(req.params).toString();
      const hasBody = req.method === "POST" || req.method === "PUT";
      const url = new URL(base.pathname + req.path + (!hasBody && qs ? `?${qs}` : ""), base);
      const body = hasBody ? qs : "";
      const options: RequestOptions = {
        method: req.method,
        headers: {
          authorization: `PVEAPIToken=${opts.token}`,
          accept: "application/json",
          ...(hasBody ? { "content-type": "application/x-www-form-urlencoded", "content-length": Buffer.byteLength(body) } : {}),
        },
        timeout,
      };
      if (https) {
        options.rejectUnauthorized = !(opts.tls?.insecure === true || opts.tls?.fingerprint !== undefined);
        if (agent) options.agent = agent;
      }
      const r = (https ? httpsRequest : httpRequest)(url, options, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, reason: res.statusMessage ?? "", body: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", reject);
      });
      r.on("timeout", () =>
        r.destroy(new ProxstackError("pve.timeout", `proxmox: ${req.method} ${req.path} timed out after ${timeout} ms`, { kind: "retry" })),
      );
      r.on("error", reject);
      r.end(body);
    });
}

/**
 * An HTTPS agent that hands a connection to a request only after the server's certificate matched
 * the pinned SHA-256 fingerprint, so the token is never sent to another server.
 */
function pinnedAgent(fingerprint: string): HttpsAgent {
  const pinned = normFp(fingerprint);
  const agent = new HttpsAgent({ keepAlive: true, rejectUnauthorized: false });
  type Created = (err: Error | null, socket?: Duplex) => void;
  (agent as unknown as { createConnection: (o: ConnectionOptions, cb: Created) => undefined }).createConnection = (o, cb) => {
    const socket = tlsConnect({ ...o, rejectUnauthorized: false });
    socket.once("secureConnect", () => {
      const got = socket.getPeerCertificate().fingerprint256;
      if (got && normFp(got) === pinned) return cb(null, socket);
      socket.destroy();
      cb(
        new ProxstackError("pve.tls", `proxmox: certificate fingerprint ${got ?? "(none)"} does not match the pinned PROXMOX_VE_FINGERPRINT`, {
          kind: "stall",
        }),
      );
    });
    socket.once("error", (e) => cb(e));
    return undefined;
  };
  return agent;
}
