// The Proxmox VE API client: typed LXC operations, PVE errors mapped to ProxstackError codes, tasks awaited, retries with backoff.
import { ProxstackError } from "../../lib/errors.js";
import { createPveTransport, encodeParams, type PveParamValue, type PveRawResponse, type PveRequestRecord } from "./transport.js";

export type { PveRequestRecord } from "./transport.js";

export interface ProxmoxClientOptions {
  /** e.g. `https://pve.example.com:8006` (a trailing `/api2/json` is accepted). */
  endpoint: string;
  /** `USER@REALM!TOKENID=SECRET`. */
  token: string;
  /** Self-signed certificates: pin a SHA-256 fingerprint, or accept any with `insecure`. */
  tls?: { insecure?: boolean; fingerprint?: string };
  /** How long to wait for a task. @default 300000 */
  taskTimeoutMs?: number;
  /** Poll interval for task status. @default 250 */
  taskPollMs?: number;
  /** Retries for lock timeouts, 5xx without a handler message, and network errors. */
  retry?: { attempts?: number; baseDelayMs?: number; maxDelayMs?: number };
  /** Recording hook: sees every request before it is sent. */
  onRequest?: (req: PveRequestRecord) => void;
  /** Replaceable for tests of the transport; defaults to real HTTP(S). */
  send?: (req: PveRequestRecord) => Promise<PveRawResponse>;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

/** A failed PVE task: the task log is attached. */
export class PveTaskError extends ProxstackError {
  override name = "PveTaskError";
  constructor(
    readonly upid: string,
    readonly exitstatus: string,
    readonly log: string[],
  ) {
    super("pve.task-failed", `proxmox: task ${upid.split(":")[5] ?? "?"} ${upid.split(":")[6] ?? ""} failed: ${exitstatus}`, { kind: "stall", status: 500 });
  }
}

export interface TaskResult {
  upid: string;
  exitstatus: string;
  log: string[];
}

export interface TaskStatus {
  upid: string;
  node: string;
  status: "running" | "stopped";
  exitstatus?: string;
  type: string;
  id: string;
  user: string;
  starttime: number;
}

export interface ContainerSummary {
  vmid: number;
  name?: string;
  status: "running" | "stopped";
  template?: number;
  lock?: string;
  cpu?: number;
  cpus?: number;
  mem?: number;
  maxmem?: number;
  disk?: number;
  maxdisk?: number;
  netin?: number;
  netout?: number;
  uptime?: number;
  tags?: string;
}

export interface Interface {
  name: string;
  hwaddr: string;
  inet?: string;
  inet6?: string;
}

export interface Snapshot {
  name: string;
  description: string;
  parent?: string;
  snaptime?: number;
}

export interface FirewallRule {
  pos: number;
  type: string;
  action: string;
  enable?: number;
  source?: string;
  dest?: string;
  proto?: string;
  dport?: string;
  sport?: string;
  comment?: string;
  macro?: string;
  iface?: string;
  log?: string;
}

export type FirewallRuleInput = Omit<FirewallRule, "pos" | "enable"> & { enable?: boolean };

export interface Backup {
  upid: string;
  vmid: number;
  /** Archive path as the task log names it, e.g. `/var/lib/vz/dump/vzdump-lxc-101-….tar.zst`. */
  archive: string;
  starttime: number;
}

export type ConfigValues = Record<string, string | number>;
export type ConfigInput = Record<string, PveParamValue>;

export interface ProxmoxClient {
  /** Sends one request; resolves with `data`, throws a mapped ProxstackError. */
  request<T = unknown>(method: PveRequestRecord["method"], path: string, params?: Record<string, PveParamValue>): Promise<T>;
  waitForTask(node: string, upid: string, timeoutMs?: number): Promise<TaskResult>;
  taskStatus(node: string, upid: string): Promise<TaskStatus>;
  taskLog(node: string, upid: string): Promise<string[]>;

  version(): Promise<{ version: string; release: string; repoid: string }>;
  nodes(): Promise<{ node: string; status: string; cpu?: number; maxcpu?: number; mem?: number; maxmem?: number; uptime?: number }[]>;
  /** The token's effective privileges: path → privilege → 1 when it propagates to children (GET /access/permissions). */
  permissions(path?: string): Promise<Record<string, Record<string, number>>>;
  /** A node's network interfaces (GET /nodes/{node}/network), e.g. `type: "any_bridge"`. */
  networks(node: string, type?: string): Promise<{ iface: string; type: string; active?: number }[]>;
  /** The next free VMID (PVE sends it as a string; this returns a number). */
  nextId(): Promise<number>;
  /** True when `vmid` is not taken anywhere in the cluster. */
  isVmidFree(vmid: number): Promise<boolean>;
  clusterResources(type?: "vm" | "storage" | "node" | "sdn"): Promise<Record<string, unknown>[]>;

  listContainers(node: string): Promise<ContainerSummary[]>;
  containerStatus(node: string, vmid: number): Promise<ContainerSummary>;
  createContainer(node: string, params: { vmid: number; ostemplate: string } & ConfigInput): Promise<TaskResult>;
  cloneContainer(
    node: string,
    vmid: number,
    params: { newid: number; hostname?: string; description?: string; full?: boolean; storage?: string; target?: string; pool?: string; snapname?: string },
  ): Promise<TaskResult>;
  getConfig(node: string, vmid: number, opts?: { snapshot?: string }): Promise<ConfigValues>;
  updateConfig(node: string, vmid: number, changes: ConfigInput, opts?: { delete?: string[]; digest?: string }): Promise<void>;
  deleteContainer(node: string, vmid: number, opts?: { purge?: boolean; force?: boolean; destroyUnreferencedDisks?: boolean }): Promise<TaskResult>;
  startContainer(node: string, vmid: number): Promise<TaskResult>;
  stopContainer(node: string, vmid: number): Promise<TaskResult>;
  shutdownContainer(node: string, vmid: number, opts?: { timeout?: number; forceStop?: boolean }): Promise<TaskResult>;
  rebootContainer(node: string, vmid: number): Promise<TaskResult>;
  resizeDisk(node: string, vmid: number, disk: string, size: string): Promise<TaskResult>;
  convertToTemplate(node: string, vmid: number): Promise<void>;
  interfaces(node: string, vmid: number): Promise<Interface[]>;
  rrddata(node: string, vmid: number, timeframe: "hour" | "day" | "week" | "month" | "year", cf?: "AVERAGE" | "MAX"): Promise<Record<string, number>[]>;

  listSnapshots(node: string, vmid: number): Promise<Snapshot[]>;
  createSnapshot(node: string, vmid: number, name: string, description?: string): Promise<TaskResult>;
  deleteSnapshot(node: string, vmid: number, name: string): Promise<TaskResult>;
  rollbackSnapshot(node: string, vmid: number, name: string, opts?: { start?: boolean }): Promise<TaskResult>;

  /** Runs vzdump for one container; the result names the archive from the task log. */
  backup(
    node: string,
    vmid: number,
    opts?: { storage?: string; mode?: "snapshot" | "suspend" | "stop"; compress?: "0" | "1" | "gzip" | "lzo" | "zstd" },
  ): Promise<TaskResult & { archive: string | undefined }>;
  /** Backups made by vzdump tasks still in the node's task history (newest first), less those an imgdel task removed since. */
  listBackups(node: string, vmid?: number): Promise<Backup[]>;
  /** Deletes a storage volume, e.g. a vzdump archive `local:backup/vzdump-lxc-….tar.zst` (a task). */
  deleteVolume(node: string, storage: string, volid: string): Promise<TaskResult>;

  getFirewallOptions(node: string, vmid: number): Promise<Record<string, string | number>>;
  setFirewallOptions(node: string, vmid: number, options: Record<string, PveParamValue>, opts?: { delete?: string[] }): Promise<void>;
  listFirewallRules(node: string, vmid: number): Promise<FirewallRule[]>;
  createFirewallRule(node: string, vmid: number, rule: FirewallRuleInput, pos?: number): Promise<void>;
  updateFirewallRule(node: string, vmid: number, pos: number, rule: Partial<FirewallRuleInput> & { moveto?: number; delete?: string[] }): Promise<void>;
  deleteFirewallRule(node: string, vmid: number, pos: number): Promise<void>;
}

interface PveBody {
  data?: unknown;
  message?: string;
  errors?: Record<string, string>;
}

const LOCK_TIMEOUT = /can't lock file .* got timeout/;
/** Handler refusals of the current state: retrying the same call cannot help. */
const REFUSAL =
  /already running|not running|reserved name|already used|protection mode|template|unable to|can't |cannot |not possible|detected modified configuration|no rule at|is running - destroy failed|not supported/;
const TLS_CODES = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "ERR_TLS_CERT_ALTNAME_INVALID",
  "CERT_HAS_EXPIRED",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
]);

/** Maps a non-2xx PVE answer to a ProxstackError with a code and a kind. */
export function pveError(req: PveRequestRecord, res: PveRawResponse): ProxstackError {
  let body: PveBody = {};
  try {
    body = JSON.parse(res.body) as PveBody;
  } catch {
    // Older PVE and 401s carry the message only in the reason phrase.
  }
  const message = (body.message ?? res.reason ?? "").trim() || `HTTP ${res.status}`;
  const what = `proxmox: ${req.method} ${req.path}`;
  const status = res.status;
  if (status === 400) {
    const fields = body.errors;
    const detail = fields
      ? Object.entries(fields)
          .map(([k, v]) => `${k}: ${v.split("\n").filter(Boolean).join(" ")}`)
          .join("; ")
      : "";
    return new ProxstackError("pve.param", `${what}: ${message}${detail ? ` (${detail})` : ""}`, { kind: "stall", status, ...(fields ? { fields } : {}) });
  }
  if (status === 401) return new ProxstackError("pve.auth", `${what}: authentication failed (${message}); check the API token`, { kind: "stall", status });
  if (status === 403) return new ProxstackError("pve.permission", `${what}: ${message}`, { kind: "stall", status });
  if (status === 501) return new ProxstackError("pve.not-implemented", `${what}: ${message}`, { kind: "bug", status });
  if (LOCK_TIMEOUT.test(message)) return new ProxstackError("pve.lock-timeout", `${what}: ${message}`, { kind: "retry", status });
  if (/does not exist|no such cluster node/.test(message)) return new ProxstackError("pve.not-found", `${what}: ${message}`, { kind: "stall", status });
  if (/already exists/.test(message)) return new ProxstackError("pve.conflict", `${what}: ${message}`, { kind: "stall", status });
  if (/^CT is locked/.test(message)) return new ProxstackError("pve.locked", `${what}: ${message}`, { kind: "retry", status });
  if (status === 500 && REFUSAL.test(message)) return new ProxstackError("pve.refused", `${what}: ${message}`, { kind: "stall", status });
  return new ProxstackError("pve.server", `${what}: ${message} (HTTP ${status})`, { kind: "retry", status });
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function createProxmoxClient(opts: ProxmoxClientOptions): ProxmoxClient {
  const send = opts.send ?? createPveTransport(opts);
  const sleep = opts.sleep ?? defaultSleep;
  const now = opts.now ?? Date.now;
  const attempts = opts.retry?.attempts ?? 4;
  const baseDelay = opts.retry?.baseDelayMs ?? 250;
  const maxDelay = opts.retry?.maxDelayMs ?? 5000;
  const taskTimeout = opts.taskTimeoutMs ?? 300_000;
  const pollMs = opts.taskPollMs ?? 250;
  const enc = encodeURIComponent;

  async function request<T>(method: PveRequestRecord["method"], path: string, params: Record<string, PveParamValue> = {}): Promise<T> {
    const req: PveRequestRecord = { method, path, params: encodeParams(params) };
    for (let attempt = 1; ; attempt++) {
      opts.onRequest?.(req);
      let err: ProxstackError;
      try {
        const res = await send(req);
        if (res.status >= 200 && res.status < 300) {
          const body = JSON.parse(res.body || "{}") as PveBody;
          return body.data as T;
        }
        err = pveError(req, res);
      } catch (e) {
        if (e instanceof ProxstackError) err = e;
        else if (TLS_CODES.has(String((e as { code?: unknown }).code))) {
          err = new ProxstackError(
            "pve.tls",
            `proxmox: ${method} ${path}: certificate not trusted (${e instanceof Error ? e.message : String(e)}); pin it with PROXMOX_VE_FINGERPRINT or set PROXMOX_VE_INSECURE=true`,
            { kind: "stall", cause: e },
          );
        } else
          err = new ProxstackError("pve.network", `proxmox: ${method} ${path}: ${e instanceof Error ? e.message : String(e)}`, { kind: "retry", cause: e });
      }
      if (err.kind !== "retry" || attempt >= attempts) throw err;
      await sleep(Math.min(maxDelay, baseDelay * 2 ** (attempt - 1)));
    }
  }

  const ct = (node: string, vmid: number, rest = "") => `/nodes/${enc(node)}/lxc/${vmid}${rest}`;

  async function taskStatus(node: string, upid: string): Promise<TaskStatus> {
    return request<TaskStatus>("GET", `/nodes/${enc(node)}/tasks/${enc(upid)}/status`);
  }
  async function taskLog(node: string, upid: string): Promise<string[]> {
    const lines = await request<{ n: number; t: string }[]>("GET", `/nodes/${enc(node)}/tasks/${enc(upid)}/log`, { limit: 0 });
    return lines.map((l) => l.t);
  }
  async function waitForTask(node: string, upid: string, timeoutMs = taskTimeout): Promise<TaskResult> {
    const deadline = now() + timeoutMs;
    let early = 0;
    for (;;) {
      let st: TaskStatus | undefined;
      try {
        st = await taskStatus(node, upid);
      } catch (e) {
        // Right after creation PVE may answer 400 for a task it has not written yet (bpg retries too).
        if (!(e instanceof ProxstackError && e.code === "pve.param" && early++ < 5)) throw e;
      }
      if (st?.status === "stopped") {
        const log = await taskLog(node, upid);
        const exit = st.exitstatus ?? "unexpected status";
        if (exit === "OK" || exit.startsWith("WARNINGS")) return { upid, exitstatus: exit, log };
        throw new PveTaskError(upid, exit, log);
      }
      if (now() >= deadline) throw new ProxstackError("pve.task-timeout", `proxmox: task ${upid} still running after ${timeoutMs} ms`, { kind: "retry" });
      await sleep(pollMs);
    }
  }
  const runTask = async (node: string, method: PveRequestRecord["method"], path: string, params?: Record<string, PveParamValue>) =>
    waitForTask(node, await request<string>(method, path, params));

  const ruleParams = (rule: Partial<FirewallRuleInput>) => ({ ...rule, ...(rule.enable === undefined ? {} : { enable: rule.enable ? 1 : 0 }) });

  return {
    request,
    waitForTask,
    taskStatus,
    taskLog,
    version: () => request("GET", "/version"),
    nodes: () => request("GET", "/nodes"),
    permissions: (path) => request("GET", "/access/permissions", { path }),
    networks: (node, type) => request("GET", `/nodes/${encodeURIComponent(node)}/network`, { type }),
    nextId: async () => Number(await request<string | number>("GET", "/cluster/nextid")),
    isVmidFree: async (vmid) => {
      try {
        await request("GET", "/cluster/nextid", { vmid });
        return true;
      } catch (e) {
        if (e instanceof ProxstackError && e.code === "pve.param" && e.fields?.vmid) return false;
        throw e;
      }
    },
    clusterResources: (type) => request("GET", "/cluster/resources", { type }),
    listContainers: (node) => request("GET", `/nodes/${enc(node)}/lxc`),
    containerStatus: (node, vmid) => request("GET", ct(node, vmid, "/status/current")),
    createContainer: (node, params) => runTask(node, "POST", `/nodes/${enc(node)}/lxc`, params),
    cloneContainer: (node, vmid, p) => runTask(node, "POST", ct(node, vmid, "/clone"), p),
    getConfig: (node, vmid, o) => request("GET", ct(node, vmid, "/config"), { snapshot: o?.snapshot }),
    updateConfig: async (node, vmid, changes, o) => {
      await request("PUT", ct(node, vmid, "/config"), { ...changes, delete: o?.delete?.length ? o.delete.join(",") : undefined, digest: o?.digest });
    },
    deleteContainer: (node, vmid, o) =>
      runTask(node, "DELETE", ct(node, vmid), { purge: o?.purge, force: o?.force, "destroy-unreferenced-disks": o?.destroyUnreferencedDisks }),
    startContainer: (node, vmid) => runTask(node, "POST", ct(node, vmid, "/status/start")),
    stopContainer: (node, vmid) => runTask(node, "POST", ct(node, vmid, "/status/stop")),
    shutdownContainer: (node, vmid, o) => runTask(node, "POST", ct(node, vmid, "/status/shutdown"), { timeout: o?.timeout, forceStop: o?.forceStop }),
    rebootContainer: (node, vmid) => runTask(node, "POST", ct(node, vmid, "/status/reboot")),
    resizeDisk: (node, vmid, disk, size) => runTask(node, "PUT", ct(node, vmid, "/resize"), { disk, size }),
    convertToTemplate: async (node, vmid) => {
      await request("POST", ct(node, vmid, "/template"));
    },
    interfaces: async (node, vmid) => (await request<Interface[] | null>("GET", ct(node, vmid, "/interfaces"))) ?? [],
    rrddata: (node, vmid, timeframe, cf) => request("GET", ct(node, vmid, "/rrddata"), { timeframe, cf }),
    listSnapshots: (node, vmid) => request("GET", ct(node, vmid, "/snapshot")),
    createSnapshot: (node, vmid, name, description) => runTask(node, "POST", ct(node, vmid, "/snapshot"), { snapname: name, description }),
    deleteSnapshot: (node, vmid, name) => runTask(node, "DELETE", ct(node, vmid, `/snapshot/${enc(name)}`)),
    rollbackSnapshot: (node, vmid, name, o) => runTask(node, "POST", ct(node, vmid, `/snapshot/${enc(name)}/rollback`), { start: o?.start }),
    backup: async (node, vmid, o) => {
      const r = await runTask(node, "POST", `/nodes/${enc(node)}/vzdump`, {
        vmid: String(vmid),
        storage: o?.storage,
        mode: o?.mode ?? "snapshot",
        compress: o?.compress ?? "zstd",
      });
      return { ...r, archive: archiveOf(r.log) };
    },
    listBackups: async (node, vmid) => {
      const tasks = await request<(Omit<TaskStatus, "status"> & { status?: string })[]>("GET", `/nodes/${enc(node)}/tasks`, {
        typefilter: "vzdump",
        vmid,
        limit: 500,
      });
      const out: Backup[] = [];
      for (const t of tasks) {
        if (t.status !== "OK") continue;
        const log = await taskLog(node, t.upid);
        for (const line of log) {
          const m = /creating vzdump archive '([^']+vzdump-lxc-(\d+)-[^']+)'/.exec(line);
          if (m && (vmid === undefined || Number(m[2]) === vmid)) out.push({ upid: t.upid, vmid: Number(m[2]), archive: m[1] ?? "", starttime: t.starttime });
        }
      }
      // An archive deleted since (an imgdel task logged "Removed volume 'storage:backup/<file>'") is no longer a backup.
      const removed = new Set<string>();
      for (const t of await request<(Omit<TaskStatus, "status"> & { status?: string })[]>("GET", `/nodes/${enc(node)}/tasks`, {
        typefilter: "imgdel",
        limit: 500,
      })) {
        if (t.status !== "OK") continue;
        for (const line of await taskLog(node, t.upid)) {
          const m = /^Removed volume '[^:']+:backup\/([^']+)'/.exec(line);
          if (m?.[1]) removed.add(m[1]);
        }
      }
      return out.filter((b) => !removed.has(b.archive.split("/").at(-1) ?? ""));
    },
    deleteVolume: (node, storage, volid) => runTask(node, "DELETE", `/nodes/${enc(node)}/storage/${enc(storage)}/content/${enc(volid)}`),
    getFirewallOptions: (node, vmid) => request("GET", ct(node, vmid, "/firewall/options")),
    setFirewallOptions: async (node, vmid, options, o) => {
      await request("PUT", ct(node, vmid, "/firewall/options"), { ...options, delete: o?.delete?.length ? o.delete.join(",") : undefined });
    },
    listFirewallRules: (node, vmid) => request("GET", ct(node, vmid, "/firewall/rules")),
    createFirewallRule: async (node, vmid, rule, pos) => {
      await request("POST", ct(node, vmid, "/firewall/rules"), { ...ruleParams(rule), pos });
    },
    updateFirewallRule: async (node, vmid, pos, rule) => {
      const { delete: del, ...rest } = rule;
      await request("PUT", ct(node, vmid, `/firewall/rules/${pos}`), { ...ruleParams(rest), delete: del?.length ? del.join(",") : undefined });
    },
    deleteFirewallRule: async (node, vmid, pos) => {
      await request("DELETE", ct(node, vmid, `/firewall/rules/${pos}`));
    },
  };
}

function archiveOf(log: string[]): string | undefined {
  for (const line of log) {
    const m = /creating vzdump archive '([^']+)'/.exec(line);
    if (m) return m[1];
  }
  return undefined;
}
