// The Cloudflare API v4 client: bearer token, the success/errors envelope, pagination, 429 backoff; tunnels and DNS records.
import { ProxstackError } from "../../lib/errors.js";

/** What the recording hook sees for every request the client sends. */
export interface CfRequestRecord {
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  /** Path below the API base, e.g. `/zones/abc/dns_records`. */
  path: string;
  query: Record<string, string>;
  body: unknown;
}

export interface CloudflareClientOptions {
  /** @example "https://api.cloudflare.com/client/v4" */
  apiUrl: string;
  token: string;
  onRequest?: (req: CfRequestRecord) => void;
  /** Retries on 429 and 5xx. @default 4 */
  attempts?: number;
  /** Backoff when no Retry-After is given. @default 500 */
  baseDelayMs?: number;
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
}

export interface CfError {
  code: number;
  message: string;
}

export interface Tunnel {
  id: string;
  name: string;
  account_tag?: string;
  created_at?: string;
  deleted_at?: string | null;
  status?: string;
  remote_config?: boolean;
  config_src?: string;
}

export interface IngressRule {
  hostname?: string;
  path?: string;
  service: string;
  originRequest?: Record<string, unknown>;
}

export interface TunnelConfig {
  ingress: IngressRule[];
  originRequest?: Record<string, unknown>;
  "warp-routing"?: { enabled?: boolean };
}

export interface TunnelConfiguration {
  tunnel_id?: string;
  version?: number;
  config: TunnelConfig | null;
}

export interface DnsRecord {
  id: string;
  type: string;
  name: string;
  content: string;
  proxied?: boolean;
  ttl: number;
  comment?: string | null;
  tags?: string[];
  created_on?: string;
  modified_on?: string;
}

export interface DnsRecordInput {
  type: "A" | "AAAA" | "CNAME" | "TXT" | "MX" | "NS" | "SRV" | "CAA";
  name: string;
  content: string;
  proxied?: boolean;
  /** 1 = automatic. @default 1 */
  ttl?: number;
  comment?: string;
  tags?: string[];
}

export interface CloudflareClient {
  request<T = unknown>(
    method: CfRequestRecord["method"],
    path: string,
    opts?: { query?: Record<string, string | number | undefined>; body?: unknown },
  ): Promise<{ result: T; resultInfo?: { page: number; per_page: number; count: number; total_count: number; total_pages?: number } }>;
  verifyToken(): Promise<{ id: string; status: string }>;
  getTunnel(accountId: string, tunnelId: string): Promise<Tunnel>;
  listTunnels(accountId: string, filter?: { name?: string }): Promise<Tunnel[]>;
  getTunnelConfig(accountId: string, tunnelId: string): Promise<TunnelConfiguration>;
  putTunnelConfig(accountId: string, tunnelId: string, config: TunnelConfig): Promise<TunnelConfiguration>;
  listDnsRecords(zoneId: string, filter?: { name?: string; type?: string; content?: string }): Promise<DnsRecord[]>;
  createDnsRecord(zoneId: string, record: DnsRecordInput): Promise<DnsRecord>;
  updateDnsRecord(zoneId: string, id: string, record: DnsRecordInput): Promise<DnsRecord>;
  deleteDnsRecord(zoneId: string, id: string): Promise<void>;
}

interface Envelope {
  success?: boolean;
  errors?: CfError[];
  result?: unknown;
  result_info?: { page: number; per_page: number; count: number; total_count: number; total_pages?: number };
}

const AUTH_CODES = new Set([9106, 6003, 6111, 6103, 10000, 9109]);
const CONFLICT_CODES = new Set([81053, 81054, 81057, 1013]);
const NOT_FOUND_CODES = new Set([81044, 7003, 7000, 1003]);

/** Maps a failed Cloudflare answer to a ProxstackError; messages carry the API's own text. */
export function cfError(req: CfRequestRecord, status: number, env: Envelope): ProxstackError {
  const errors = env.errors ?? [];
  const text = errors.length ? errors.map((e) => `${e.message.trim()} (${e.code})`).join("; ") : `HTTP ${status}`;
  const message = `cloudflare: ${req.method} ${req.path}: ${text}`;
  const codes = errors.map((e) => e.code);
  const has = (set: Set<number>) => codes.some((c) => set.has(c));
  if (status === 429) return new ProxstackError("cf.rate-limited", message, { kind: "retry", status });
  if (status === 401 || status === 403 || has(AUTH_CODES)) return new ProxstackError("cf.auth", message, { kind: "stall", status });
  if (has(CONFLICT_CODES) || status === 409) return new ProxstackError("cf.conflict", message, { kind: "stall", status });
  if (status === 404 || has(NOT_FOUND_CODES)) return new ProxstackError("cf.not-found", message, { kind: "stall", status });
  if (status >= 500) return new ProxstackError("cf.server", message, { kind: "retry", status });
  return new ProxstackError("cf.invalid", message, { kind: "stall", status });
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function createCloudflareClient(opts: CloudflareClientOptions): CloudflareClient {
  const base = opts.apiUrl.replace(/\/+$/, "");
  const doFetch = opts.fetch ?? fetch;
  const sleep = opts.sleep ?? defaultSleep;
  const attempts = opts.attempts ?? 4;
  const baseDelay = opts.baseDelayMs ?? 500;
  const enc = encodeURIComponent;

  const request: CloudflareClient["request"] = async (method, path, o = {}) => {
    const query: Record<string, string> = {};
    for (const [k, v] of Object.entries(o.query ?? {})) if (v !== undefined) query[k] = String(v);
    const req: CfRequestRecord = { method, path, query, body: o.body };
    const qs = new URLSearchParams(query).toString();
    for (let attempt = 1; ; attempt++) {
      opts.onRequest?.(req);
      let err: ProxstackError;
      let retryAfterMs: number | undefined;
      try {
        const res = await doFetch(`${base}${path}${qs ? `?${qs}` : ""}`, {
          method,
          headers: {
            authorization: `Bearer ${opts.token}`,
            accept: "application/json",
            ...(o.body !== undefined ? { "content-type": "application/json" } : {}),
          },
          ...(o.body !== undefined ? { body: JSON.stringify(o.body) } : {}),
        });
        const text = await res.text();
        let env: Envelope = {};
        try {
          env = JSON.parse(text) as Envelope;
        } catch {
          env = { success: false, errors: [{ code: 0, message: text.slice(0, 200) || res.statusText }] };
        }
        if (res.ok && env.success === true) {
          return { result: env.result as never, ...(env.result_info ? { resultInfo: env.result_info } : {}) };
        }
        err = cfError(req, res.status, env);
        const ra = res.headers.get("retry-after");
        if (ra && /^\d+$/.test(ra)) retryAfterMs = Number(ra) * 1000;
      } catch (e) {
        err = new ProxstackError("cf.network", `cloudflare: ${method} ${path}: ${e instanceof Error ? e.message : String(e)}`, { kind: "retry", cause: e });
      }
      if (err.kind !== "retry" || attempt >= attempts) throw err;
      await sleep(retryAfterMs ?? baseDelay * 2 ** (attempt - 1));
    }
  };

  async function all<T>(path: string, query: Record<string, string | number | undefined>): Promise<T[]> {
    const out: T[] = [];
    for (let page = 1; ; page++) {
      const r = await request<T[]>("GET", path, { query: { ...query, page, per_page: 100 } });
      out.push(...r.result);
      const info = r.resultInfo;
      if (!info || r.result.length === 0 || out.length >= info.total_count || (info.total_pages !== undefined && page >= info.total_pages)) return out;
    }
  }

  const tunnelPath = (acc: string, id: string) => `/accounts/${enc(acc)}/cfd_tunnel/${enc(id)}`;
  return {
    request,
    verifyToken: async () => (await request<{ id: string; status: string }>("GET", "/user/tokens/verify")).result,
    getTunnel: async (acc, id) => (await request<Tunnel>("GET", tunnelPath(acc, id))).result,
    listTunnels: (acc, f) => all<Tunnel>(`/accounts/${enc(acc)}/cfd_tunnel`, { name: f?.name, is_deleted: "false" }),
    getTunnelConfig: async (acc, id) => (await request<TunnelConfiguration>("GET", `${tunnelPath(acc, id)}/configurations`)).result,
    putTunnelConfig: async (acc, id, config) =>
      (await request<TunnelConfiguration>("PUT", `${tunnelPath(acc, id)}/configurations`, { body: { config } })).result,
    listDnsRecords: (zone, f) => all<DnsRecord>(`/zones/${enc(zone)}/dns_records`, { name: f?.name, type: f?.type, content: f?.content }),
    createDnsRecord: async (zone, rec) => (await request<DnsRecord>("POST", `/zones/${enc(zone)}/dns_records`, { body: { ttl: 1, ...rec } })).result,
    updateDnsRecord: async (zone, id, rec) =>
      (await request<DnsRecord>("PUT", `/zones/${enc(zone)}/dns_records/${enc(id)}`, { body: { ttl: 1, ...rec } })).result,
    deleteDnsRecord: async (zone, id) => {
      await request("DELETE", `/zones/${enc(zone)}/dns_records/${enc(id)}`);
    },
  };
}
