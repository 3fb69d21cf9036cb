// The only way other modules reach the VPN service: a typed HTTP client with ProxstackError codes.
import type { z } from "zod";
import { ProxstackError } from "../lib/errors.js";
import { ErrorEnvelopeSchema, PeerListSchema, PeerWithConfigSchema, type Peer, type PeerWithConfig } from "./api-schemas.js";

export type { Peer, PeerWithConfig } from "./api-schemas.js";

export interface VpnClientOptions {
  /** Base URL of the service. @example http://127.0.0.1:8090 */
  url: string;
  token: string;
  /** @default globalThis.fetch */
  fetch?: typeof fetch;
  /** Bound on one request. @default 30000 */
  timeoutMs?: number;
}

export interface PutPeerInput {
  /** The owner's container addresses; exactly these become reachable. */
  targets: string[];
  /** The client's own public key; a new peer without one gets a generated pair. */
  publicKey?: string;
}

export interface VpnClient {
  /** Creates or updates the owner's peer; `privateKey` is set only when one was generated. */
  putPeer(owner: string, input: PutPeerInput, signal?: AbortSignal): Promise<PeerWithConfig>;
  /** The peer with its config (never a private key), or undefined when the owner has none. */
  getPeer(owner: string, signal?: AbortSignal): Promise<PeerWithConfig | undefined>;
  listPeers(signal?: AbortSignal): Promise<Peer[]>;
  /** Removes the peer; true when there was one. */
  deletePeer(owner: string, signal?: AbortSignal): Promise<boolean>;
  /** Gives the peer a new key (generated when `publicKey` is absent); the config then holds the new private key. */
  rotateKey(owner: string, input?: { publicKey?: string }, signal?: AbortSignal): Promise<PeerWithConfig>;
}

const MISSING = Symbol("missing");

export function createVpnClient(o: VpnClientOptions): VpnClient {
  const doFetch = o.fetch ?? globalThis.fetch;
  const base = o.url.replace(/\/+$/, "");

  async function call<T>(
    method: string,
    p: string,
    schema: z.ZodType<T> | undefined,
    body: unknown,
    signal: AbortSignal | undefined,
    okMissing = false,
  ): Promise<T | undefined | typeof MISSING> {
    const timeout = AbortSignal.timeout(o.timeoutMs ?? 30_000);
    let res: Response;
    try {
      res = await doFetch(base + p, {
        method,
        headers: { authorization: `Bearer ${o.token}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
    } catch (err) {
      throw new ProxstackError("vpn-unreachable", `vpn service at ${base}: ${method} ${p}: ${err instanceof Error ? err.message : String(err)}`, {
        kind: "retry",
        cause: err,
      });
    }
    if (okMissing && res.status === 404) {
      const env = ErrorEnvelopeSchema.safeParse(await res.json().catch(() => undefined));
      if (env.success && env.data.error.code === "peer-not-found") return MISSING;
      throw new ProxstackError("vpn-bad-response", `vpn service: ${method} ${p}: 404 ${env.success ? env.data.error.message : ""}`.trim(), { kind: "bug" });
    }
    if (!res.ok) {
      const env = ErrorEnvelopeSchema.safeParse(await res.json().catch(() => undefined));
      const code = env.success ? env.data.error.code : "vpn-http-error";
      const message = env.success ? env.data.error.message : `HTTP ${res.status}`;
      const kind = res.status >= 500 || res.status === 429 ? "retry" : "stall";
      throw new ProxstackError(code, `vpn service: ${method} ${p}: ${message}`, {
        kind,
        status: res.status,
        ...(env.success && env.data.error.fields ? { fields: env.data.error.fields } : {}),
      });
    }
    if (!schema) return undefined;
    const parsed = schema.safeParse(await res.json().catch(() => undefined));
    if (!parsed.success)
      throw new ProxstackError("vpn-bad-response", `vpn service: ${method} ${p}: unexpected response: ${parsed.error.message}`, { kind: "bug" });
    return parsed.data;
  }

  const path = (owner: string) => `/peers/${encodeURIComponent(owner)}`;
  const must = <T>(v: T | undefined | typeof MISSING): T => {
    if (v === undefined || v === MISSING) throw new ProxstackError("vpn-bad-response", "vpn service: empty response", { kind: "bug" });
    return v;
  };

  return {
    putPeer: async (owner, input, signal) => must(await call("PUT", path(owner), PeerWithConfigSchema, input, signal)),
    getPeer: async (owner, signal) => {
      const r = await call("GET", path(owner), PeerWithConfigSchema, undefined, signal, true);
      return r === MISSING ? undefined : must(r);
    },
    listPeers: async (signal) => must(await call("GET", "/peers", PeerListSchema, undefined, signal)).peers,
    deletePeer: async (owner, signal) => (await call("DELETE", path(owner), undefined, undefined, signal, true)) !== MISSING,
    rotateKey: async (owner, input = {}, signal) => must(await call("POST", `${path(owner)}/key`, PeerWithConfigSchema, input, signal)),
  };
}
