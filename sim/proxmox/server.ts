// The Proxmox VE simulator's HTTP(S) edge: token auth, schema-checked parameters, PVE envelopes and status lines, fault injection.
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { Logger } from "../../lib/logger.js";
import { silentLogger } from "../../lib/logger.js";
import type { ContainerBacking } from "../backing.js";
import { closeServer, listen, readBody, reasonPhrase, sendJson, SIMULATION_HEADER } from "../http.js";
import { generatePveToken } from "../tokens.js";
import { ADMIN_PRIVILEGES, createPveApi, PveHttpError, seedTemplates } from "./api.js";
import { checkParams, checkReturn, loadPveSchema, type PveVersion } from "./schema.js";
import { openPveStore } from "./store.js";
import { createTaskRunner } from "./tasks.js";
import { ProxstackError } from "../../lib/errors.js";

/** Faults to inject, for reliability tests. Rates are 0..1; counts fail the next N matching requests. */
export interface PveFaults {
  /** Added delay before every answer. */
  latencyMs?: number;
  /** Share of requests answered `500 simulated fault`. */
  errorRate?: number;
  /** Share of writes on a container answered with PVE's lock timeout. */
  lockTimeoutRate?: number;
  /** The next N writes on a container get the lock timeout. */
  lockTimeouts?: number;
  /** New tasks never finish (status stays running). */
  stuckTasks?: boolean;
  /** Every task finishing from now on fails with this message. */
  failTasks?: string;
}

export interface ProxmoxSimulatorOptions {
  /** SQLite file keeping the state; reused across restarts. */
  dbPath: string;
  /** @default "127.0.0.1" */
  host?: string;
  /** 0 picks a free port. @default 0 */
  port?: number;
  /** Which reference schema to speak. @default "9.1" */
  schemaVersion?: PveVersion;
  /** `USER@REALM!TOKENID=SECRET`; generated when absent. */
  token?: string;
  nodes: string[];
  /** Storage ids. @default ["local", "local-lvm"] */
  storages?: string[];
  /** Template containers to seed (once): unprivileged with a 4 GiB disk unless said otherwise. */
  templates?: { vmid: number; node?: string; unprivileged?: boolean; diskGiB?: number }[];
  /** The token's privileges as GET /access/permissions reports them. @default every Administrator privilege on `/`, propagated */
  permissions?: Record<string, Record<string, number>>;
  /** OS template volumes create accepts, e.g. `local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst`. */
  osTemplates?: string[];
  /** Bridge seeded templates attach to. @default "vmbr0" */
  bridge?: string;
  /** How long a task runs. @default 200 */
  taskDelayMs?: number;
  /** pveproxy delays every 401 by about 3 s. @default 3000 */
  authFailureDelayMs?: number;
  faults?: PveFaults;
  backing?: ContainerBacking;
  /** Serve HTTPS with this key and certificate (PEM). */
  tls?: { key: string; cert: string };
  /** Check every answer against the schema's `returns`; violations are logged and kept. @default true */
  checkResponses?: boolean;
  logger?: Logger;
  /** Epoch ms. @default Date.now */
  now?: () => number;
  random?: () => number;
}

export interface ProxmoxSimulator {
  /** Base URL, e.g. `http://127.0.0.1:41234` (the API lives under `/api2/json`). */
  url: string;
  token: string;
  schemaVersion: PveVersion;
  setFaults(f: PveFaults): void;
  /** Answers that did not match the schema's return definition (should stay empty). */
  responseViolations(): string[];
  close(): Promise<void>;
}

const TOKEN_HEADER = /(?:^|\s)PVEAPIToken(?:=| )([^;]*)/;

/** Starts the PVE simulator; resolves once it listens. */
export async function startProxmoxSimulator(opts: ProxmoxSimulatorOptions): Promise<ProxmoxSimulator> {
  const version = opts.schemaVersion ?? "9.1";
  const schema = loadPveSchema(version);
  const logger = (opts.logger ?? silentLogger()).child({ component: "pve-simulation" });
  const token = opts.token ?? generatePveToken();
  const tokenUser = token.slice(0, token.lastIndexOf("="));
  const now = opts.now ?? Date.now;
  const random = opts.random ?? Math.random;
  const storages = opts.storages ?? ["local", "local-lvm"];
  const datastore = storages.find((s) => s !== "local") ?? storages[0] ?? "local";
  const authDelay = opts.authFailureDelayMs ?? 3000;
  let faults: PveFaults = { ...opts.faults };
  const violations: string[] = [];

  const store = openPveStore(opts.dbPath);
  seedTemplates(
    store,
    (opts.templates ?? []).map((t) => ({ ...t, node: t.node ?? opts.nodes[0] ?? "pve", storage: datastore, bridge: opts.bridge ?? "vmbr0" })),
    now(),
  );

  let work: Parameters<typeof createTaskRunner>[0]["work"] = () => undefined;
  let undo: Parameters<typeof createTaskRunner>[0]["undo"] = () => undefined;
  const tasks = createTaskRunner({
    store,
    now,
    delayMs: () => opts.taskDelayMs ?? 200,
    stuck: () => faults.stuckTasks === true,
    failWith: () => faults.failTasks,
    work: (t, log) => work(t, log),
    undo: (t) => undo(t),
    onError: (err, t) => logger.info({ upid: t.upid, err: err instanceof Error ? err.message : String(err) }, "simulation: task failed"),
  });
  const permissions = opts.permissions ?? { "/": Object.fromEntries(ADMIN_PRIVILEGES.map((p) => [p, 1])) };
  const api = createPveApi({
    schema,
    store,
    tasks,
    nodes: opts.nodes,
    storages,
    osTemplates: opts.osTemplates ?? [],
    now,
    backing: opts.backing,
    logger,
    permissions,
    bridges: [opts.bridge ?? "vmbr0"],
  });
  work = api.work;
  undo = api.undo;
  tasks.resume();
  // Running containers come back with their test hosts after a restart; close() takes the hosts down again.
  const running = () => store.listContainers().filter((c) => c.status === "running");
  if (opts.backing) {
    for (const c of running()) {
      const ip = /(?:^|,)ip=([\d.]+)\//.exec(String(c.config.net0 ?? ""))?.[1];
      if (ip) {
        await opts.backing
          .start({ vmid: c.vmid, ip, hostname: String(c.config.hostname ?? `CT${c.vmid}`) })
          .catch((err: unknown) => logger.error({ err, vmid: c.vmid }, "simulation: backing start after restart failed"));
      }
    }
  }

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const method = (req.method ?? "GET").toUpperCase();
    const url = new URL(req.url ?? "/", "http://sim");
    const body = await readBody(req);

    if (!["GET", "POST", "PUT", "DELETE"].includes(method)) return sendJson(res, 501, `method '${method}' not available`, undefined);

    const auth = TOKEN_HEADER.exec(req.headers.authorization ?? "");
    if (!auth) return deny(res, "No ticket");
    let presented: string;
    try {
      presented = decodeURIComponent(auth[1] ?? "").trim();
    } catch {
      presented = "";
    }
    if (presented !== token) return deny(res, "Authentication failed!");

    if (!url.pathname.startsWith("/api2/json/")) return sendError(res, 501, `Method '${method} ${url.pathname}' not implemented`);
    const path = url.pathname.slice("/api2/json".length);
    if (body.length > 0 && method !== "POST" && method !== "PUT") return sendError(res, 501, `Unexpected content for method '${method}'`);

    const found = schema.route(method, path);
    if (!found.ok) return sendError(res, 501, found.message);
    const { route } = found;

    let raw: Record<string, unknown>;
    let json = false;
    try {
      raw = {};
      const ctype = String(req.headers["content-type"] ?? "");
      if (body.length > 0) {
        if (ctype.includes("application/json")) {
          const parsed: unknown = JSON.parse(body);
          if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
            throw new ProxstackError("pve-simulation.bad-body", "JSON body must be an object", { kind: "stall", status: 400 });
          raw = { ...(parsed as Record<string, unknown>) };
          json = true;
        } else {
          raw = collect(new URLSearchParams(body));
        }
      }
      Object.assign(raw, collect(url.searchParams));
    } catch (err) {
      return sendError(res, 400, `unable to parse request body - ${err instanceof Error ? err.message : String(err)}`);
    }
    const dup: Record<string, string> = {};
    for (const [k, v] of Object.entries(route.pathParams)) {
      if (raw[k] !== undefined && String(raw[k]) !== v) dup[k] = "duplicate parameter (already defined in URI) with conflicting values!";
      raw[k] = v;
    }
    if (Object.keys(dup).length) return sendError(res, 400, "Parameter verification failed.", dup);
    const { params, errors } = checkParams(route.info, raw, json);
    if (Object.keys(errors).length) return sendError(res, 400, "Parameter verification failed.", errors);

    if (faults.latencyMs) await new Promise((r) => setTimeout(r, faults.latencyMs));
    if (faults.errorRate && random() < faults.errorRate) return sendError(res, 500, "simulated fault: internal error (fault injection)");
    if (method !== "GET" && params.vmid !== undefined && route.template.includes("{vmid}")) {
      const count = faults.lockTimeouts ?? 0;
      if (count > 0 || (faults.lockTimeoutRate && random() < faults.lockTimeoutRate)) {
        if (count > 0) faults = { ...faults, lockTimeouts: count - 1 };
        return sendError(res, 500, `can't lock file '/run/lock/lxc/pve-config-${params.vmid}.lock' - got timeout`);
      }
    }

    const key = `${method} ${route.template}`;
    const handler = api.handlers[key];
    if (!handler) return sendError(res, 501, `Method '${method} ${path}' not implemented (not simulated)`);
    try {
      // A write's changes are one transaction (its synchronous part: handlers lock, write and start their task before returning).
      const result = await (method === "GET" ? handler(params, tokenUser) : store.atomic(() => handler(params, tokenUser)));
      if (opts.checkResponses !== false) {
        const problems =
          route.template === "/cluster/nextid"
            ? typeof result.data === "string" && /^\d+$/.test(result.data)
              ? []
              : [`data: expected a numeric string (nextid quirk)`]
            : checkReturn(route.info.returns, result.data);
        for (const p of problems) {
          violations.push(`${key}: ${p}`);
          logger.error({ op: key, problem: p }, "simulation: response does not match the schema");
        }
      }
      sendJson(res, 200, "OK", result.total === undefined ? { data: result.data } : { data: result.data, total: result.total });
    } catch (err) {
      if (err instanceof PveHttpError) return sendError(res, err.status, err.message, err.errors);
      logger.error({ err, op: key }, "simulation: handler failed");
      return sendError(res, 500, err instanceof Error ? err.message : String(err));
    }
  };

  const sendError = (res: ServerResponse, status: number, message: string, errors?: Record<string, string>) => {
    const body: Record<string, unknown> = { data: null, message: message.endsWith("\n") ? message : `${message}\n` };
    if (errors) body.errors = errors;
    sendJson(res, status, reasonPhrase(message), body);
  };
  const deny = (res: ServerResponse, reason: string) => {
    setTimeout(() => {
      res.statusCode = 401;
      res.statusMessage = reason;
      res.setHeader(SIMULATION_HEADER, "true");
      res.setHeader("content-length", 0);
      res.end();
    }, authDelay);
  };

  const listener = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((err: unknown) => {
      logger.error({ err }, "simulation: request failed");
      if (!res.headersSent) sendError(res, 500, err instanceof Error ? err.message : String(err));
    });
  };
  const server: Server = opts.tls ? createHttpsServer({ key: opts.tls.key, cert: opts.tls.cert }, listener) : createHttpServer(listener);
  const host = opts.host ?? "127.0.0.1";
  const port = await listen(server, host, opts.port ?? 0);
  const url = `${opts.tls ? "https" : "http"}://${host}:${port}`;
  logger.info({ url, schemaVersion: version }, "simulation: Proxmox VE simulator listening");

  return {
    url,
    token,
    schemaVersion: version,
    setFaults: (f) => {
      faults = { ...f };
    },
    responseViolations: () => [...violations],
    close: async () => {
      tasks.close();
      await closeServer(server);
      if (opts.backing)
        for (const c of running())
          await opts.backing.stop(c.vmid).catch((err: unknown) => logger.error({ err, vmid: c.vmid }, "simulation: backing stop failed"));
      store.close();
    },
  };
}

function collect(sp: URLSearchParams): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of sp) {
    const prev = out[k];
    if (prev === undefined) out[k] = v;
    else out[k] = Array.isArray(prev) ? [...(prev as unknown[]), v] : [prev, v];
  }
  return out;
}
