// The Cloudflare API v4 simulator: bearer auth, the success/errors envelope, tunnels with ingress validation, DNS with conflicts.
import { randomBytes, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { Logger } from "../../lib/logger.js";
import { silentLogger } from "../../lib/logger.js";
import { closeServer, listen, readBody, sendJson } from "../http.js";
import { generateCloudflareToken } from "../tokens.js";
import { loadCloudflareSchema, type CfOperation } from "./schema.js";
import { openCfStore, type DnsRecord, type Tunnel } from "./store.js";
import { ProxstackError } from "../../lib/errors.js";

export interface CloudflareFaults {
  /** The next N requests get 429 with Retry-After. */
  rateLimitNext?: number;
  /** Added delay before every answer. */
  latencyMs?: number;
}

export interface CloudflareSimulatorOptions {
  dbPath: string;
  /** @default "127.0.0.1" */
  host?: string;
  /** 0 picks a free port. @default 0 */
  port?: number;
  /** Bearer token accepted; generated when absent. */
  token?: string;
  accounts: string[];
  zones: { id: string; name: string; accountId: string }[];
  /** Tunnels to seed (once). */
  tunnels: { id: string; accountId: string; name: string }[];
  faults?: CloudflareFaults;
  /** Check every 200 answer against the spec; violations are logged and kept. @default true */
  checkResponses?: boolean;
  logger?: Logger;
  now?: () => number;
}

export interface CloudflareSimulator {
  /** Base URL, the equivalent of `https://api.cloudflare.com/client/v4`. */
  url: string;
  token: string;
  setFaults(f: CloudflareFaults): void;
  responseViolations(): string[];
  close(): Promise<void>;
}

interface CfErrorItem {
  code: number;
  message: string;
  error_chain?: { code: number; message: string }[];
}

class CfHttpError extends ProxstackError {
  constructor(
    override readonly status: number,
    readonly items: CfErrorItem[],
  ) {
    super(`cloudflare-simulation.http-${status}`, items.map((i) => i.message).join("; "), {
      kind: status >= 500 || status === 429 ? "retry" : "stall",
      status,
    });
  }
}
const fail = (status: number, code: number, message: string): never => {
  throw new CfHttpError(status, [{ code, message }]);
};

const SERVICE = /^(https?|tcp|ssh|rdp|unix|unix\+tls|smb):\/\/[^\s]+$/;
const BAD_CONFIG = 1056;

/** cloudflared's ingress rules as the API applies them (ingress/ingress.go). */
export function ingressProblems(config: unknown): string[] {
  const ingress = (config as { ingress?: unknown } | undefined)?.ingress;
  if (!Array.isArray(ingress) || ingress.length === 0) return ["The config file doesn't contain any ingress rules"];
  const out: string[] = [];
  ingress.forEach((rule: { hostname?: string; path?: string; service?: string }, i) => {
    const service = String(rule.service ?? "");
    if (!SERVICE.test(service) && !/^http_status:\d{3}$/.test(service))
      out.push(`${service} is an invalid address, please make sure it has a scheme and a hostname`);
    if (rule.hostname) {
      if (rule.hostname.includes(":")) out.push("Hostname cannot contain a port");
      const stars = rule.hostname.split("*").length - 1;
      if (stars > 1 || (stars === 1 && !rule.hostname.startsWith("*.")))
        out.push('Hostname patterns can have at most one wildcard character ("*") and it can only be used for subdomains, e.g. "*.example.com"');
    }
    if (i === ingress.length - 1 && ((rule.hostname && rule.hostname !== "*") || rule.path)) {
      out.push("The last ingress rule must match all URLs (i.e. it should not have a hostname or path filter)");
    }
  });
  return out;
}

/** Starts the Cloudflare simulator; resolves once it listens. */
export async function startCloudflareSimulator(opts: CloudflareSimulatorOptions): Promise<CloudflareSimulator> {
  const schema = loadCloudflareSchema();
  const logger = (opts.logger ?? silentLogger()).child({ component: "cloudflare-simulation" });
  const token = opts.token ?? generateCloudflareToken();
  const now = opts.now ?? Date.now;
  const iso = () => new Date(now()).toISOString();
  const store = openCfStore(opts.dbPath);
  let faults: CloudflareFaults = { ...opts.faults };
  const violations: string[] = [];

  for (const t of opts.tunnels) {
    if (!store.getTunnel(t.id))
      store.putTunnel({ id: t.id, account_tag: t.accountId, name: t.name, created_at: iso(), deleted_at: null, config_src: "cloudflare" });
  }

  // Null timestamps and comments are left out: the 2024 spec types them as plain strings.
  const tunnelOut = ({ deleted_at, ...t }: Tunnel) => ({
    ...t,
    ...(deleted_at ? { deleted_at } : {}),
    connections: [],
    conns_inactive_at: t.created_at,
    tun_type: "cfd_tunnel",
    status: "inactive",
    remote_config: t.config_src === "cloudflare",
    metadata: {},
  });
  const recordOut = ({ comment, ...r }: DnsRecord) => ({
    ...r,
    ...(comment !== null ? { comment } : {}),
    proxiable: ["A", "AAAA", "CNAME"].includes(r.type),
    locked: false,
    meta: { auto_added: false, source: "primary" },
  });

  const account = (id: string | undefined) => {
    if (!id || !opts.accounts.includes(id)) fail(403, 10000, "Authentication error");
    return String(id);
  };
  const tunnel = (p: Record<string, string>) => {
    const acc = account(p.account_id);
    const t = store.getTunnel(p.tunnel_id ?? "");
    if (!t || t.account_tag !== acc || t.deleted_at) return fail(404, 1003, "Tunnel not found");
    return t;
  };
  const zone = (id: string | undefined) => {
    const z = opts.zones.find((x) => x.id === id);
    if (!z || !opts.accounts.includes(z.accountId))
      return fail(404, 7003, `Could not route to /zones/${id}/dns_records, perhaps your object identifier is invalid?`);
    return z;
  };
  const fqdn = (name: string, zoneName: string) => {
    const n = name.toLowerCase().replace(/\.$/, "");
    if (n === "@" || n === zoneName) return zoneName;
    return n.endsWith(`.${zoneName}`) ? n : `${n}.${zoneName}`;
  };
  const conflicts = (zoneId: string, r: { type: string; name: string; content: string }, ignoreId?: string) => {
    const same = store.listRecords(zoneId).filter((x) => x.name === r.name && x.id !== ignoreId);
    if (same.some((x) => x.type === r.type && x.content === r.content)) fail(400, 81057, "Record already exists.");
    if (r.type === "CNAME" && same.some((x) => ["A", "AAAA", "CNAME"].includes(x.type)))
      fail(400, 81053, "An A, AAAA, or CNAME record with that host already exists.");
    if (["A", "AAAA"].includes(r.type) && same.some((x) => x.type === "CNAME")) fail(400, 81054, "A CNAME record with that host already exists.");
  };
  const page = <T>(items: T[], q: URLSearchParams) => {
    const perPage = Math.min(Math.max(Number(q.get("per_page") ?? 100) || 100, 1), 5000);
    const pageNo = Math.max(Number(q.get("page") ?? 1) || 1, 1);
    const slice = items.slice((pageNo - 1) * perPage, pageNo * perPage);
    return {
      result: slice,
      result_info: {
        page: pageNo,
        per_page: perPage,
        count: slice.length,
        total_count: items.length,
        total_pages: Math.max(1, Math.ceil(items.length / perPage)),
      },
    };
  };
  const writeRecord = (z: { id: string; name: string }, body: Record<string, unknown>, existing?: DnsRecord): DnsRecord => {
    const type = String(body.type ?? existing?.type ?? "");
    const name = fqdn(String(body.name ?? existing?.name ?? ""), z.name);
    const content = String(body.content ?? existing?.content ?? "");
    if (type === "CNAME" && content.toLowerCase() === name) fail(400, 9039, "CNAME content cannot reference itself.");
    conflicts(z.id, { type, name, content }, existing?.id);
    const t = iso();
    return {
      id: existing?.id ?? randomBytes(16).toString("hex"),
      zone_id: z.id,
      zone_name: z.name,
      type,
      name,
      content,
      proxied: typeof body.proxied === "boolean" ? body.proxied : (existing?.proxied ?? false),
      ttl: typeof body.ttl === "number" ? body.ttl : (existing?.ttl ?? 1),
      comment: typeof body.comment === "string" ? body.comment : (existing?.comment ?? null),
      tags: Array.isArray(body.tags) ? body.tags.map(String) : (existing?.tags ?? []),
      created_on: existing?.created_on ?? t,
      modified_on: t,
    };
  };

  type Handler = (
    p: Record<string, string>,
    q: URLSearchParams,
    body: Record<string, unknown>,
  ) => { result: unknown; result_info?: unknown; messages?: unknown[] };
  const handlers: Record<string, Handler> = {
    "GET /user/tokens/verify": () => ({
      result: { id: token.slice(0, 32), status: "active" },
      messages: [{ code: 10000, message: "This API Token is valid and active" }],
    }),
    "GET /zones": (_p, q) => {
      const name = q.get("name");
      const zones = opts.zones
        .filter((z) => !name || z.name === name)
        .map((z) => ({
          id: z.id,
          name: z.name,
          status: "active",
          account: { id: z.accountId, name: "simulation" },
          paused: false,
          type: "full",
          name_servers: ["ns1.simulation.invalid", "ns2.simulation.invalid"],
        }));
      return page(zones, q);
    },
    "GET /accounts/{account_id}/cfd_tunnel": (p, q) => {
      const acc = account(p.account_id);
      let list = store.listTunnels(acc);
      const name = q.get("name");
      if (name) list = list.filter((t) => t.name === name);
      if (q.get("is_deleted") !== "true") list = list.filter((t) => !t.deleted_at);
      if (q.get("uuid")) list = list.filter((t) => t.id === q.get("uuid"));
      return page(list.map(tunnelOut), q);
    },
    "POST /accounts/{account_id}/cfd_tunnel": (p, _q, body) => {
      const acc = account(p.account_id);
      const name = String(body.name ?? "");
      if (store.listTunnels(acc).some((t) => t.name === name && !t.deleted_at))
        fail(409, 1013, "You already have a tunnel with this name. Delete the existing tunnel, or choose a different name for your new tunnel");
      const t: Tunnel = { id: randomUUID(), account_tag: acc, name, created_at: iso(), deleted_at: null, config_src: String(body.config_src ?? "local") };
      store.putTunnel(t);
      return { result: tunnelOut(t) };
    },
    "GET /accounts/{account_id}/cfd_tunnel/{tunnel_id}": (p) => ({ result: tunnelOut(tunnel(p)) }),
    "GET /accounts/{account_id}/cfd_tunnel/{tunnel_id}/configurations": (p) => {
      const t = tunnel(p);
      const c = store.getConfig(t.id);
      return {
        result: {
          tunnel_id: t.id,
          account_id: t.account_tag,
          config: c?.config ?? null,
          version: c?.version ?? 0,
          source: "cloudflare",
          created_at: c?.created_at ?? t.created_at,
        },
      };
    },
    "PUT /accounts/{account_id}/cfd_tunnel/{tunnel_id}/configurations": (p, _q, body) => {
      const t = tunnel(p);
      const problems = ingressProblems(body.config);
      if (problems.length)
        throw new CfHttpError(
          400,
          problems.map((m) => ({ code: BAD_CONFIG, message: `Bad Configuration: Validation failed: ${m}\n` })),
        );
      const version = (store.getConfig(t.id)?.version ?? 0) + 1;
      const cfg = { config: body.config as Record<string, unknown>, version, created_at: iso() };
      store.putConfig(t.id, cfg);
      return { result: { tunnel_id: t.id, account_id: t.account_tag, config: cfg.config, version, source: "cloudflare", created_at: cfg.created_at } };
    },
    "GET /zones/{zone_id}/dns_records": (p, q) => {
      const z = zone(p.zone_id);
      let list = store.listRecords(z.id);
      const name = q.get("name");
      if (name) list = list.filter((r) => r.name === fqdn(name, z.name));
      const type = q.get("type");
      if (type) list = list.filter((r) => r.type === type);
      const content = q.get("content");
      if (content) list = list.filter((r) => r.content === content);
      return page(list.map(recordOut), q);
    },
    "POST /zones/{zone_id}/dns_records": (p, _q, body) => {
      const r = writeRecord(zone(p.zone_id), body);
      store.putRecord(r);
      return { result: recordOut(r) };
    },
    "GET /zones/{zone_id}/dns_records/{dns_record_id}": (p) => {
      const z = zone(p.zone_id);
      const r = store.getRecord(z.id, p.dns_record_id ?? "");
      if (!r) return fail(404, 81044, "Record does not exist.");
      return { result: recordOut(r) };
    },
    "PATCH /zones/{zone_id}/dns_records/{dns_record_id}": (p, _q, body) => {
      const z = zone(p.zone_id);
      const existing = store.getRecord(z.id, p.dns_record_id ?? "");
      if (!existing) return fail(404, 81044, "Record does not exist.");
      const r = writeRecord(z, body, existing);
      store.putRecord(r);
      return { result: recordOut(r) };
    },
    "PUT /zones/{zone_id}/dns_records/{dns_record_id}": (p, _q, body) => {
      const z = zone(p.zone_id);
      const existing = store.getRecord(z.id, p.dns_record_id ?? "");
      if (!existing) return fail(404, 81044, "Record does not exist.");
      const r = writeRecord(z, { proxied: false, ttl: 1, comment: null, tags: [], ...body }, existing);
      store.putRecord(r);
      return { result: recordOut(r) };
    },
    "DELETE /zones/{zone_id}/dns_records/{dns_record_id}": (p) => {
      const z = zone(p.zone_id);
      if (!store.getRecord(z.id, p.dns_record_id ?? "")) return fail(404, 81044, "Record does not exist.");
      store.deleteRecord(z.id, p.dns_record_id ?? "");
      return { result: { id: p.dns_record_id } };
    },
  };

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
    sendJson(res, status, undefined, body, "application/json; charset=UTF-8");
  };
  const sendErrors = (res: ServerResponse, status: number, items: CfErrorItem[], headers?: Record<string, string>) =>
    send(res, status, { success: false, errors: items, messages: [], result: null }, headers);

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const method = (req.method ?? "GET").toUpperCase();
    const url = new URL(req.url ?? "/", "http://sim");
    const text = await readBody(req);
    if (faults.latencyMs) await new Promise((r) => setTimeout(r, faults.latencyMs));
    if ((faults.rateLimitNext ?? 0) > 0) {
      faults = { ...faults, rateLimitNext: (faults.rateLimitNext ?? 1) - 1 };
      return sendErrors(res, 429, [{ code: 971, message: "Please wait and consider throttling your request speed" }], {
        "retry-after": "1",
        "x-ratelimit-limit": "1200",
        "x-ratelimit-remaining": "0",
      });
    }
    const auth = req.headers.authorization;
    if (!auth && !req.headers["x-auth-key"])
      return sendErrors(res, 400, [{ code: 9106, message: "Missing X-Auth-Key, X-Auth-Email or Authorization headers" }]);
    const m = /^Bearer ([A-Za-z0-9_\-.~+/=]+)$/.exec(auth ?? "");
    if (!m)
      return sendErrors(res, 400, [
        { code: 6003, message: "Invalid request headers", error_chain: [{ code: 6111, message: "Invalid format for Authorization header" }] },
      ]);
    if (m[1] !== token) return sendErrors(res, 403, [{ code: 10000, message: "Authentication error" }]);

    const path = url.pathname.replace(/^\/client\/v4/, "");
    const op: CfOperation | undefined = schema.route(method, path);
    const handler = op ? handlers[`${method} ${op.template}`] : undefined;
    if (!op || !handler)
      return sendErrors(res, 404, [
        { code: 7003, message: `Could not route to ${path}, perhaps your object identifier is invalid?` },
        { code: 7000, message: "No route for that URI" },
      ]);

    let body: Record<string, unknown> = {};
    if (text.length > 0) {
      try {
        const parsed: unknown = JSON.parse(text);
        if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
          throw new ProxstackError("cloudflare-simulation.bad-body", "not an object", { kind: "stall", status: 400 });
        body = parsed as Record<string, unknown>;
      } catch {
        return sendErrors(res, 400, [{ code: 6007, message: "Malformed JSON in request body" }]);
      }
    }
    if (["POST", "PUT", "PATCH"].includes(method)) {
      // PATCH is partial in practice (README §3.2): only the keys given are checked.
      const problems = method === "PATCH" ? [] : schema.checkRequest(op, body);
      if (problems.length)
        return sendErrors(
          res,
          400,
          problems.map((p) => ({ code: 9000 + 21, message: `request body: ${p}` })),
        );
    }
    try {
      const r = handler(op.pathParams, url.searchParams, body);
      const out = { success: true, errors: [], messages: r.messages ?? [], result: r.result, ...(r.result_info ? { result_info: r.result_info } : {}) };
      if (opts.checkResponses !== false) {
        for (const p of schema.checkResponse(op, out)) {
          violations.push(`${method} ${op.template}: ${p}`);
          logger.error({ op: op.operationId, problem: p }, "simulation: response does not match the schema");
        }
      }
      send(res, 200, out);
    } catch (err) {
      if (err instanceof CfHttpError) return sendErrors(res, err.status, err.items);
      throw err;
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      logger.error({ err }, "simulation: request failed");
      if (!res.headersSent) sendErrors(res, 500, [{ code: 10001, message: "simulation: internal error" }]);
    });
  });
  const host = opts.host ?? "127.0.0.1";
  const port = await listen(server, host, opts.port ?? 0);
  const url = `http://${host}:${port}/client/v4`;
  logger.info({ url }, "simulation: Cloudflare simulator listening");
  return {
    url,
    token,
    setFaults: (f) => {
      faults = { ...f };
    },
    responseViolations: () => [...violations],
    close: async () => {
      await closeServer(server);
      store.close();
    },
  };
}
