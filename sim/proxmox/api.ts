// The simulated PVE operations for LXC: what each api2/json endpoint does to the stored state, with PVE's own error texts.
import { createHash } from "node:crypto";
import type { Logger } from "../../lib/logger.js";
import type { ContainerBacking } from "../backing.js";
import { lookupProperty, parsePropertyString, printPropertyString, type PveApiSchema, type PveParams, type PveSchema } from "./schema.js";
import { rrdData, statsAt, diskBytes } from "./stats.js";
import type { ConfigValue, Container, FirewallRule, PveStore, Task } from "./store.js";
import { parseUpid, type TaskRunner } from "./tasks.js";
import { ProxstackError } from "../../lib/errors.js";

/** An error the simulator answers with: HTTP status, PVE message and optional per-parameter errors. */
export class PveHttpError extends ProxstackError {
  constructor(
    override readonly status: number,
    message: string,
    readonly errors?: Record<string, string>,
  ) {
    super(`pve-simulation.http-${status}`, message, { kind: status >= 500 ? "retry" : "stall", status, ...(errors ? { fields: errors } : {}) });
  }
}

/** A failed simulated task: its message becomes the task's exit status. */
const taskError = (message: string) => new ProxstackError("pve-simulation.task-failed", message, { kind: "stall" });

const die = (message: string): never => {
  throw new PveHttpError(500, message);
};

export interface PveApiDeps {
  schema: PveApiSchema;
  store: PveStore;
  tasks: TaskRunner;
  nodes: string[];
  storages: string[];
  osTemplates: string[];
  now: () => number;
  backing: ContainerBacking | undefined;
  logger: Logger;
  /** The token's effective privileges as GET /access/permissions reports them (path → privilege → propagate). */
  permissions: Record<string, Record<string, number>>;
  /** Linux bridges each node has. */
  bridges: string[];
}

/** Every privilege of PVE 8/9's built-in Administrator role that proxstack's token may need. */
export const ADMIN_PRIVILEGES = [
  "Datastore.Allocate",
  "Datastore.AllocateSpace",
  "Datastore.AllocateTemplate",
  "Datastore.Audit",
  "Pool.Allocate",
  "Pool.Audit",
  "SDN.Allocate",
  "SDN.Audit",
  "SDN.Use",
  "Sys.Audit",
  "Sys.Modify",
  "VM.Allocate",
  "VM.Audit",
  "VM.Backup",
  "VM.Clone",
  "VM.Config.CDROM",
  "VM.Config.CPU",
  "VM.Config.Cloudinit",
  "VM.Config.Disk",
  "VM.Config.HWType",
  "VM.Config.Memory",
  "VM.Config.Network",
  "VM.Config.Options",
  "VM.Console",
  "VM.Migrate",
  "VM.PowerMgmt",
  "VM.Snapshot",
  "VM.Snapshot.Rollback",
];

export interface PveResult {
  data: unknown;
  total?: number;
}

export type PveHandler = (p: PveParams, user: string) => PveResult | Promise<PveResult>;

/** Parameters that steer create/clone but are not stored in the container config. */
const NOT_CONFIG = new Set([
  "node",
  "vmid",
  "ostemplate",
  "password",
  "ssh-public-keys",
  "start",
  "storage",
  "restore",
  "force",
  "unique",
  "ignore-unpack-errors",
  "bwlimit",
  "pool",
  "ha-managed",
  "digest",
  "delete",
  "revert",
]);

/** The handlers, keyed `METHOD /schema/template`. */
export function createPveApi(deps: PveApiDeps): {
  handlers: Record<string, PveHandler>;
  work: (task: Task, log: (l: string) => void) => Promise<void>;
  undo: (task: Task) => void;
} {
  const { store, tasks, now, logger } = deps;
  const createInfo = deps.schema.route("POST", "/nodes/x/lxc");
  const configProps: Record<string, PveSchema> = createInfo.ok ? (createInfo.route.info.parameters.properties ?? {}) : {};
  const version = deps.schema.version;

  const checkNode = (node: string | number | undefined) => {
    if (!deps.nodes.includes(String(node))) die(`no such cluster node '${String(node)}'`);
    return String(node);
  };
  const loadCt = (p: PveParams): Container => {
    const node = checkNode(p.node);
    const ct = store.getContainer(Number(p.vmid));
    if (!ct || ct.node !== node) return die(`Configuration file 'nodes/${node}/lxc/${p.vmid}.conf' does not exist`);
    return ct;
  };
  const checkLock = (ct: Container) => {
    if (ct.config.lock !== undefined) die(`CT is locked (${ct.config.lock})`);
  };
  const checkUnused = (vmid: number) => {
    const other = store.getContainer(vmid);
    if (other) die(`CT ${vmid} already exists on node '${other.node}'`);
  };
  const task = (node: string, type: string, id: string | number, user: string, action: Record<string, unknown>, firstLines?: string[]) => ({
    data: tasks.start({ node, type, id: String(id), user, action, ...(firstLines ? { firstLines } : {}) }),
  });
  const digestOf = (v: unknown) => createHash("sha1").update(JSON.stringify(v)).digest("hex");
  const mac = (vmid: number, idx: number) => {
    const h = createHash("sha1").update(`${vmid}/${idx}`).digest();
    return ["BC", ...[0, 1, 2, 3, 4].map((i) => (h[i] ?? 0).toString(16).padStart(2, "0").toUpperCase())].join(":");
  };

  /** Normalises config values the way PVE writes them back (canonical property strings, MACs, volumes). */
  const normalise = (vmid: number, key: string, value: ConfigValue, storage: string | undefined): ConfigValue => {
    const schema = lookupProperty(configProps, key);
    if (!schema || typeof schema.format !== "object") return value;
    const parsed = parsePropertyString(schema.format, String(value), key);
    if ("error" in parsed) throw new PveHttpError(400, "Parameter verification failed.", { [key]: parsed.error });
    const v = parsed.values;
    if (/^net\d+$/.test(key)) {
      v.hwaddr ??= mac(vmid, Number(key.slice(3)));
      v.type ??= "veth";
    }
    if (key === "rootfs" || /^mp\d+$/.test(key)) {
      const m = /^([^:]+):(\d+(?:\.\d+)?)$/.exec(String(v.volume));
      if (m) {
        const st = m[1] ?? storage ?? "local";
        if (!deps.storages.includes(st)) die(`storage '${st}' does not exist`);
        v.volume = `${st}:vm-${vmid}-disk-${key === "rootfs" ? 0 : Number(key.slice(2)) + 1}`;
        v.size = `${m[2]}G`;
      }
    }
    return printPropertyString(schema.format, v);
  };

  const ipOf = (ct: Container): string | undefined => {
    const net0 = ct.config.net0;
    const m = /(?:^|,)ip=([\d.]+)\/(\d+)/.exec(String(net0 ?? ""));
    return m?.[1];
  };

  const rename = (config: Record<string, ConfigValue>, from: number, to: number, prefix = "vm") => {
    const out: Record<string, ConfigValue> = {};
    for (const [k, v] of Object.entries(config)) {
      if (k === "rootfs" || /^mp\d+$/.test(k)) out[k] = String(v).replace(new RegExp(`(vm|base)-${from}-disk`), `${prefix}-${to}-disk`);
      else if (/^net\d+$/.test(k)) out[k] = String(v).replace(/hwaddr=[0-9A-F:]+/i, `hwaddr=${mac(to, Number(k.slice(3)))}`);
      else out[k] = v;
    }
    return out;
  };

  const statusOf = (ct: Container) => {
    const s = statsAt(ct, now());
    const base: Record<string, unknown> = {
      vmid: ct.vmid,
      name: String(ct.config.hostname ?? `CT${ct.vmid}`),
      status: ct.status,
      type: "lxc",
      cpu: s.cpu,
      cpus: s.cpus,
      mem: s.mem,
      maxmem: s.maxmem,
      swap: 0,
      maxswap: s.maxswap,
      disk: s.disk,
      maxdisk: s.maxdisk,
      netin: s.netin,
      netout: s.netout,
      diskread: s.diskread,
      diskwrite: s.diskwrite,
      uptime: s.uptime,
      ...(ct.config.template === 1 ? { template: 1 } : {}),
      ...(ct.config.lock !== undefined ? { lock: String(ct.config.lock) } : {}),
      ...(ct.config.tags !== undefined ? { tags: String(ct.config.tags) } : {}),
    };
    if (version === "9.1") {
      const load = ct.status === "running" ? s.cpu / 10 : 0;
      Object.assign(base, { pressurecpusome: load, pressureiosome: load / 2, pressureiofull: load / 4, pressurememorysome: 0, pressurememoryfull: 0 });
    }
    return base;
  };

  const setPower = (ct: Container, running: boolean) => {
    const t = now();
    const runs = ct.runs.map((r) => [r[0], r[1]] as [number, number | null]);
    const last = runs.at(-1);
    if (running) runs.push([t, null]);
    else if (last && last[1] === null) last[1] = t;
    store.putContainer({ ...ct, status: running ? "running" : "stopped", runs: runs.slice(-50) });
  };

  const startCt = async (vmid: number, log: (l: string) => void) => {
    const ct = store.getContainer(vmid);
    if (!ct) throw taskError(`Configuration file 'nodes/unknown/lxc/${vmid}.conf' does not exist`);
    const ip = ipOf(ct);
    const hostname = String(ct.config.hostname ?? `CT${vmid}`);
    if (deps.backing && ip) {
      // The host comes up first: when it cannot, the task fails and the container stays stopped.
      await deps.backing.start({ vmid, ip, hostname });
      setPower(store.getContainer(vmid) ?? ct, true);
      log(`simulation: container ${vmid} is backed by a test host at ${ip}`);
    } else {
      setPower(ct, true);
      const line = `simulation: container ${vmid} has address ${ip ?? "(none: no static ip in net0)"} but no services (no SSH, no web terminal): no container backing configured`;
      log(line);
      logger.info({ vmid, ip }, line);
    }
  };
  const stopCt = async (vmid: number) => {
    const ct = store.getContainer(vmid);
    if (!ct) return;
    setPower(ct, false);
    await deps.backing?.stop(vmid);
  };
  const unlock = (vmid: number) => {
    const ct = store.getContainer(vmid);
    if (!ct) return;
    const { lock: _lock, ...config } = ct.config;
    store.putContainer({ ...ct, config });
  };
  const lock = (ct: Container, kind: string) => store.putContainer({ ...ct, config: { ...ct.config, lock: kind } });

  const archivePath = (storage: string, vmid: number) => {
    const d = new Date(now());
    const p = (n: number) => String(n).padStart(2, "0");
    const stamp = `${d.getUTCFullYear()}_${p(d.getUTCMonth() + 1)}_${p(d.getUTCDate())}-${p(d.getUTCHours())}_${p(d.getUTCMinutes())}_${p(d.getUTCSeconds())}`;
    const dir = storage === "local" ? "/var/lib/vz/dump" : `/mnt/pve/${storage}/dump`;
    return `${dir}/vzdump-lxc-${vmid}-${stamp}.tar.zst`;
  };

  /** Runs a finished task's action. */
  const work = async (t: Task, log: (l: string) => void): Promise<void> => {
    const a = t.action;
    const vmid = Number(a.vmid);
    switch (a.kind) {
      case "create":
        log(`extracting archive '${String(a.ostemplate)}'`);
        log("Total bytes read: 524288000 (500MiB, 120MiB/s)");
        unlock(vmid);
        if (a.start === 1) await startCt(vmid, log);
        return;
      case "clone":
        log(`create full clone of mountpoint rootfs (${String(a.source)})`);
        unlock(vmid);
        return;
      case "destroy": {
        await deps.backing?.destroy(vmid);
        store.deleteContainer(vmid);
        log(`Logical volume "vm-${vmid}-disk-0" successfully removed.`);
        return;
      }
      case "start":
        return startCt(vmid, log);
      case "stop":
      case "shutdown":
        return stopCt(vmid);
      case "reboot":
        await stopCt(vmid);
        return startCt(vmid, log);
      case "snapshot": {
        const ct = store.getContainer(vmid);
        if (!ct) throw taskError(`Configuration file 'nodes/${t.node}/lxc/${vmid}.conf' does not exist`);
        const name = String(a.snapname);
        unlock(vmid);
        if (store.listSnapshots(vmid).some((s) => s.name === name)) throw taskError(`snapshot name '${name}' already used`);
        const { lock: _l, ...config } = ct.config;
        store.putSnapshot(vmid, { name, parent: ct.parent, description: String(a.description ?? ""), snaptime: Math.floor(now() / 1000), config });
        const fresh = store.getContainer(vmid);
        if (fresh) store.putContainer({ ...fresh, parent: name });
        log(`create snapshot '${name}'`);
        return;
      }
      case "delsnapshot": {
        const name = String(a.snapname);
        unlock(vmid);
        const snaps = store.listSnapshots(vmid);
        const snap = snaps.find((s) => s.name === name);
        if (!snap) throw taskError(`snapshot '${name}' does not exist`);
        for (const s of snaps) if (s.parent === name) store.putSnapshot(vmid, { ...s, parent: snap.parent });
        store.deleteSnapshot(vmid, name);
        const ct = store.getContainer(vmid);
        if (ct && ct.parent === name) store.putContainer({ ...ct, parent: snap.parent });
        return;
      }
      case "rollback": {
        const name = String(a.snapname);
        unlock(vmid);
        const snap = store.listSnapshots(vmid).find((s) => s.name === name);
        if (!snap) throw taskError(`snapshot '${name}' does not exist`);
        const ct = store.getContainer(vmid);
        if (!ct) throw taskError(`Configuration file 'nodes/${t.node}/lxc/${vmid}.conf' does not exist`);
        if (ct.status === "running") await stopCt(vmid);
        const after = store.getContainer(vmid) ?? ct;
        store.putContainer({ ...after, config: { ...snap.config }, parent: name });
        if (a.start === 1) await startCt(vmid, log);
        return;
      }
      case "vzdump": {
        for (const id of (a.vmids as number[] | undefined) ?? []) {
          const ct = store.getContainer(id);
          if (!ct) throw taskError(`unable to find VM/CT ${id}`);
          log(`INFO: Starting Backup of VM ${id} (lxc)`);
          log(`INFO: CT Name: ${String(ct.config.hostname ?? `CT${id}`)}`);
          const archive = archivePath(String(a.storage), id);
          log(`INFO: creating vzdump archive '${archive}'`);
          store.putVolume(t.node, `${String(a.storage)}:backup/${archive.split("/").at(-1) ?? ""}`);
          log(`INFO: Finished Backup of VM ${id} (00:00:01)`);
        }
        log("INFO: Backup job finished successfully");
        return;
      }
      case "resize": {
        const ct = store.getContainer(vmid);
        if (!ct) throw taskError(`Configuration file 'nodes/${t.node}/lxc/${vmid}.conf' does not exist`);
        const disk = String(a.disk);
        const cur = diskBytes(ct.config[disk]);
        const m = /^(\+)?(\d+(?:\.\d+)?)([KMGT])?$/.exec(String(a.size));
        const unit = { K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 }[m?.[3] ?? "G"] ?? 1;
        const bytes = Math.round(Number(m?.[2] ?? 0) * unit);
        const next = m?.[1] ? cur + bytes : bytes;
        unlock(vmid);
        if (next < cur) throw taskError("unable to shrink disk size");
        const fresh = store.getContainer(vmid) ?? ct;
        const gib = Math.ceil(next / 1024 ** 3);
        store.putContainer({ ...fresh, config: { ...fresh.config, [disk]: String(fresh.config[disk]).replace(/size=[^,]+/, `size=${gib}G`) } });
        return;
      }
      case "imgdel":
        return;
      default:
        throw taskError(`simulation: unknown task action ${String(a.kind)}`);
    }
  };

  /** After a failed or stopped task: PVE removes a half-made container; other locks are released. */
  const undo = (t: Task): void => {
    const vmid = Number(t.action.vmid);
    const ct = store.getContainer(vmid);
    if (!ct) return;
    if ((t.action.kind === "create" || t.action.kind === "clone") && ct.config.lock === "create") store.deleteContainer(vmid);
    else unlock(vmid);
  };

  const firewallDigest = (ct: Container) => digestOf(ct.firewallRules);
  const ruleOut = (r: FirewallRule, pos: number) => ({ ...r, pos });
  const ruleFields = (p: PveParams): FirewallRule => {
    const out: FirewallRule = {};
    for (const k of ["type", "action", "enable", "source", "dest", "proto", "dport", "sport", "comment", "macro", "iface", "log", "icmp-type"]) {
      if (p[k] !== undefined) out[k] = p[k];
    }
    return out;
  };
  const checkDigest = (given: ConfigValue | undefined, actual: string) => {
    if (given !== undefined && given !== actual) die("detected modified configuration - file changed by other user? Try again.");
  };

  const handlers: Record<string, PveHandler> = {
    "GET /version": () => ({
      data:
        version === "9.1"
          ? { version: "9.1.3", release: "9.1", repoid: "e5010dce", console: "xtermjs" }
          : { version: "8.4.2", release: "8.4", repoid: "fa0b4f6b", console: "xtermjs" },
    }),

    "GET /access/permissions": (p) => {
      if (p.path === undefined) return { data: deps.permissions };
      // Only this path: what holds there, from itself or a propagating ancestor.
      const path = String(p.path);
      const privs: Record<string, number> = {};
      for (const [at, granted] of Object.entries(deps.permissions)) {
        const ancestor = at === "/" || path.startsWith(`${at}/`);
        if (at !== path && !ancestor) continue;
        for (const [priv, propagate] of Object.entries(granted)) if (at === path || propagate === 1) privs[priv] = propagate;
      }
      return { data: { [path]: privs } };
    },
    "GET /nodes/{node}/network": (p) => {
      checkNode(p.node);
      return { data: deps.bridges.map((iface) => ({ iface, type: "bridge", active: 1, autostart: 1, method: "manual", families: ["inet"], priority: 1 })) };
    },
    "GET /nodes": () => ({
      data: deps.nodes.map((node) => ({
        node,
        status: "online",
        cpu: 0.05,
        maxcpu: 16,
        mem: 8 * 1024 ** 3,
        maxmem: 64 * 1024 ** 3,
        uptime: 86400,
        level: "",
        ssl_fingerprint: "00:".repeat(31) + "00",
      })),
    }),

    "GET /nodes/{node}/lxc": (p) => {
      const node = checkNode(p.node);
      return {
        data: store
          .listContainers()
          .filter((c) => c.node === node)
          .map(statusOf),
      };
    },

    "POST /nodes/{node}/lxc": (p, user) => {
      const node = checkNode(p.node);
      const vmid = Number(p.vmid);
      checkUnused(vmid);
      const ostemplate = String(p.ostemplate);
      if (!deps.osTemplates.includes(ostemplate)) die(`volume '${ostemplate}' does not exist`);
      const storage = p.storage === undefined ? "local" : String(p.storage);
      if (!deps.storages.includes(storage)) die(`storage '${storage}' does not exist`);
      const config: Record<string, ConfigValue> = {
        arch: "amd64",
        hostname: `CT${vmid}`,
        memory: 512,
        swap: 512,
        ostype: /ubuntu/.test(ostemplate) ? "ubuntu" : /alpine/.test(ostemplate) ? "alpine" : "debian",
      };
      for (const [k, v] of Object.entries(p)) if (!NOT_CONFIG.has(k)) config[k] = normalise(vmid, k, v, storage);
      config.rootfs ??= normalise(vmid, "rootfs", `${storage}:4`, storage);
      config.lock = "create";
      store.putContainer({ vmid, node, config, status: "stopped", runs: [], createdAt: now(), parent: undefined, firewallOptions: {}, firewallRules: [] });
      return task(node, "vzcreate", vmid, user, { kind: "create", vmid, ostemplate, start: p.start ?? 0 });
    },

    "DELETE /nodes/{node}/lxc/{vmid}": (p, user) => {
      const ct = loadCt(p);
      checkLock(ct);
      if (ct.config.protection === 1) die(`can't remove CT ${ct.vmid} - protection mode enabled`);
      if (ct.status === "running" && p.force !== 1) die(`CT ${ct.vmid} is running - destroy failed`);
      lock(ct, "destroyed");
      return task(ct.node, "vzdestroy", ct.vmid, user, { kind: "destroy", vmid: ct.vmid });
    },

    "POST /nodes/{node}/lxc/{vmid}/clone": (p, user) => {
      const src = loadCt(p);
      const newid = Number(p.newid);
      checkUnused(newid);
      if (src.config.lock !== undefined && src.config.lock !== "disk") checkLock(src);
      if (src.config.template !== 1 && p.full === 0) die("linked clone of a container that is not a template is not possible");
      let base = src.config;
      if (p.snapname !== undefined) {
        const snap = store.listSnapshots(src.vmid).find((s) => s.name === p.snapname);
        if (!snap) die(`snapshot '${p.snapname}' does not exist`);
        else base = snap.config;
      }
      if (p.target !== undefined) checkNode(p.target);
      if (p.storage !== undefined && !deps.storages.includes(String(p.storage))) die(`storage '${p.storage}' does not exist`);
      const { template: _t, lock: _l, ...rest } = base;
      const config = rename(rest, src.vmid, newid);
      if (p.hostname !== undefined) config.hostname = p.hostname;
      if (p.description !== undefined) config.description = p.description;
      if (p.storage !== undefined && typeof config.rootfs === "string") config.rootfs = config.rootfs.replace(/^[^:]+:/, `${p.storage}:`);
      config.lock = "create";
      const node = p.target === undefined ? src.node : String(p.target);
      store.putContainer({
        vmid: newid,
        node,
        config,
        status: "stopped",
        runs: [],
        createdAt: now(),
        parent: undefined,
        firewallOptions: { ...src.firewallOptions },
        firewallRules: [...src.firewallRules],
      });
      return task(src.node, "vzclone", src.vmid, user, { kind: "clone", vmid: newid, source: src.vmid });
    },

    "GET /nodes/{node}/lxc/{vmid}/config": (p) => {
      const ct = loadCt(p);
      let config = ct.config;
      if (p.snapshot !== undefined) {
        const snap = store.listSnapshots(ct.vmid).find((s) => s.name === p.snapshot);
        if (!snap) die(`snapshot '${p.snapshot}' does not exist`);
        else config = snap.config;
      }
      return { data: { ...config, digest: digestOf(config) } };
    },

    "PUT /nodes/{node}/lxc/{vmid}/config": (p) => {
      const ct = loadCt(p);
      checkLock(ct);
      checkDigest(p.digest, digestOf(ct.config));
      const config = { ...ct.config };
      const deletes = String(p.delete ?? "")
        .split(/[,;\s]+/)
        .filter(Boolean);
      const errors: Record<string, string> = {};
      for (const k of deletes) {
        if (p[k] !== undefined) errors[k] = "unable to delete and set the same option at the same time";
        else if (!lookupProperty(configProps, k)) errors.delete = `invalid configuration ID '${k}'`;
        else if (["rootfs", "template"].includes(k)) die(`unable to delete required option '${k}'`);
        else delete config[k];
      }
      if (Object.keys(errors).length) throw new PveHttpError(400, "Parameter verification failed.", errors);
      for (const [k, v] of Object.entries(p)) if (!NOT_CONFIG.has(k)) config[k] = normalise(ct.vmid, k, v, undefined);
      store.putContainer({ ...ct, config });
      return { data: null };
    },

    "GET /nodes/{node}/lxc/{vmid}/status/current": (p) => ({ data: { ...statusOf(loadCt(p)), ha: { managed: 0 } } }),

    "POST /nodes/{node}/lxc/{vmid}/status/start": (p, user) => {
      const ct = loadCt(p);
      if (p.skiplock !== 1) checkLock(ct);
      if (ct.config.template === 1) die("you can't start a CT if it's a template");
      if (ct.status === "running") die(`CT ${ct.vmid} already running`);
      return task(ct.node, "vzstart", ct.vmid, user, { kind: "start", vmid: ct.vmid });
    },
    "POST /nodes/{node}/lxc/{vmid}/status/stop": (p, user) => {
      const ct = loadCt(p);
      if (p.skiplock !== 1) checkLock(ct);
      if (ct.status !== "running") die(`CT ${ct.vmid} not running`);
      return task(ct.node, "vzstop", ct.vmid, user, { kind: "stop", vmid: ct.vmid });
    },
    "POST /nodes/{node}/lxc/{vmid}/status/shutdown": (p, user) => {
      const ct = loadCt(p);
      checkLock(ct);
      if (ct.status !== "running") die(`CT ${ct.vmid} not running`);
      return task(ct.node, "vzshutdown", ct.vmid, user, { kind: "shutdown", vmid: ct.vmid });
    },
    "POST /nodes/{node}/lxc/{vmid}/status/reboot": (p, user) => {
      const ct = loadCt(p);
      checkLock(ct);
      if (ct.status !== "running") die(`CT ${ct.vmid} not running`);
      return task(ct.node, "vzreboot", ct.vmid, user, { kind: "reboot", vmid: ct.vmid });
    },

    "GET /nodes/{node}/lxc/{vmid}/interfaces": (p) => {
      const ct = loadCt(p);
      if (ct.status !== "running") return { data: [] };
      const lo = {
        name: "lo",
        hwaddr: "00:00:00:00:00:00",
        "hardware-address": "00:00:00:00:00:00",
        inet: "127.0.0.1/8",
        inet6: "::1/128",
        "ip-addresses": [
          { "ip-address": "127.0.0.1", "ip-address-type": "inet", prefix: 8 },
          { "ip-address": "::1", "ip-address-type": "inet6", prefix: 128 },
        ],
      };
      const ifaces = Object.entries(ct.config)
        .filter(([k]) => /^net\d+$/.test(k))
        .map(([, v]) => {
          const s = String(v);
          const name = /(?:^|,)name=([^,]+)/.exec(s)?.[1] ?? "eth0";
          const hw = (/(?:^|,)hwaddr=([^,]+)/.exec(s)?.[1] ?? "").toLowerCase();
          const ip = /(?:^|,)ip=([\d.]+)\/(\d+)/.exec(s);
          return {
            name,
            hwaddr: hw,
            "hardware-address": hw,
            ...(ip ? { inet: `${ip[1]}/${ip[2]}` } : {}),
            "ip-addresses": ip ? [{ "ip-address": ip[1], "ip-address-type": "inet", prefix: Number(ip[2]) }] : [],
          };
        });
      return { data: [lo, ...ifaces] };
    },

    "GET /nodes/{node}/lxc/{vmid}/snapshot": (p) => {
      const ct = loadCt(p);
      const snaps = store
        .listSnapshots(ct.vmid)
        .map((s) => ({ name: s.name, description: s.description, snaptime: s.snaptime, ...(s.parent ? { parent: s.parent } : {}) }));
      return { data: [...snaps, { name: "current", description: "You are here!", ...(ct.parent ? { parent: ct.parent } : {}) }] };
    },
    "POST /nodes/{node}/lxc/{vmid}/snapshot": (p, user) => {
      const ct = loadCt(p);
      const name = String(p.snapname);
      if (name === "current" || name === "vzdump") die(`unable to use snapshot name '${name}' (reserved name)`);
      checkLock(ct);
      lock(ct, "snapshot");
      return task(ct.node, "vzsnapshot", ct.vmid, user, { kind: "snapshot", vmid: ct.vmid, snapname: name, description: p.description ?? "" });
    },
    "DELETE /nodes/{node}/lxc/{vmid}/snapshot/{snapname}": (p, user) => {
      const ct = loadCt(p);
      checkLock(ct);
      lock(ct, "snapshot-delete");
      return task(ct.node, "vzdelsnapshot", ct.vmid, user, { kind: "delsnapshot", vmid: ct.vmid, snapname: String(p.snapname) });
    },
    "POST /nodes/{node}/lxc/{vmid}/snapshot/{snapname}/rollback": (p, user) => {
      const ct = loadCt(p);
      checkLock(ct);
      lock(ct, "rollback");
      return task(ct.node, "vzrollback", ct.vmid, user, { kind: "rollback", vmid: ct.vmid, snapname: String(p.snapname), start: p.start ?? 0 });
    },

    "GET /nodes/{node}/lxc/{vmid}/rrddata": (p) => ({ data: rrdData(loadCt(p), String(p.timeframe), now()) }),

    "POST /nodes/{node}/vzdump": (p, user) => {
      const node = checkNode(p.node);
      const storage = String(p.storage ?? "local");
      if (!deps.storages.includes(storage)) die(`storage '${storage}' does not exist`);
      let vmids: number[];
      if (p.all === 1)
        vmids = store
          .listContainers()
          .filter((c) => c.node === node && c.config.template !== 1)
          .map((c) => c.vmid);
      else if (p.vmid !== undefined)
        vmids = String(p.vmid)
          .split(/[,;\s]+/)
          .filter(Boolean)
          .map(Number);
      else return die("no VMs/CTs selected for backup: set 'vmid' or 'all'");
      const exclude = new Set(
        String(p.exclude ?? "")
          .split(/[,;\s]+/)
          .filter(Boolean)
          .map(Number),
      );
      vmids = vmids.filter((v) => !exclude.has(v));
      const first = [`INFO: starting new backup job: vzdump ${vmids.join(" ")} --storage ${storage} --mode ${String(p.mode ?? "snapshot")}`];
      return task(node, "vzdump", vmids.length === 1 ? String(vmids[0]) : "", user, { kind: "vzdump", vmids, storage }, first);
    },

    // The volume may be given with or without its `storage:` prefix, as PVE accepts both.
    "DELETE /nodes/{node}/storage/{storage}/content/{volume}": (p, user) => {
      const node = checkNode(p.node);
      const storage = String(p.storage);
      if (!deps.storages.includes(storage)) die(`storage '${storage}' does not exist`);
      const volume = String(p.volume);
      const volid = volume.includes(":") ? volume : `${storage}:${volume}`;
      if (!volid.startsWith(`${storage}:`)) die(`volume '${volid}' is not on storage '${storage}'`);
      if (!store.deleteVolume(node, volid)) die(`volume '${volid}' does not exist`);
      // PVE's imgdel task carries no id (a volid's ':' and '/' cannot be in a UPID); the simulator removes the volume at once and the task reports it.
      return task(node, "imgdel", "", user, { kind: "imgdel", volid }, [`Removed volume '${volid}'`]);
    },

    "GET /nodes/{node}/tasks/{upid}/status": (p) => {
      const t = findTask(p);
      return {
        data: {
          upid: t.upid,
          node: t.node,
          pid: t.pid,
          pstart: t.pstart,
          starttime: t.starttime,
          type: t.type,
          id: t.id,
          user: t.user,
          status: t.status,
          ...(t.status === "stopped" ? { exitstatus: t.exitstatus ?? "unexpected status" } : {}),
        },
      };
    },
    "GET /nodes/{node}/tasks/{upid}/log": (p) => {
      const t = findTask(p);
      const start = Number(p.start ?? 0);
      const limit = Number(p.limit ?? 50);
      const lines = t.log.map((line, i) => ({ n: i + 1, t: line }));
      return { data: limit === 0 ? lines.slice(start) : lines.slice(start, start + limit), total: lines.length };
    },
    "GET /nodes/{node}/tasks": (p) => {
      const node = checkNode(p.node);
      let list = store.listTasks(node);
      if (p.vmid !== undefined) list = list.filter((t) => t.id === String(p.vmid));
      if (p.typefilter !== undefined) list = list.filter((t) => t.type === p.typefilter);
      if (p.userfilter !== undefined) list = list.filter((t) => t.user.includes(String(p.userfilter)));
      if (p.errors === 1) list = list.filter((t) => t.status === "stopped" && t.exitstatus !== "OK");
      if (p.source === "active") list = list.filter((t) => t.status === "running");
      else if (p.source === undefined || p.source === "archive") list = list.filter((t) => t.status === "stopped");
      if (p.since !== undefined) list = list.filter((t) => t.starttime >= Number(p.since));
      if (p.until !== undefined) list = list.filter((t) => t.starttime <= Number(p.until));
      const start = Number(p.start ?? 0);
      const limit = Number(p.limit ?? 50);
      const page = list.slice(start, start + limit).map((t) => ({
        upid: t.upid,
        node: t.node,
        pid: t.pid,
        pstart: t.pstart,
        starttime: t.starttime,
        type: t.type,
        id: t.id,
        user: t.user,
        ...(t.status === "stopped" ? { status: t.exitstatus ?? "unexpected status", endtime: t.endtime ?? t.starttime } : {}),
      }));
      return { data: page, total: list.length };
    },
    "DELETE /nodes/{node}/tasks/{upid}": (p) => {
      const t = findTask(p);
      tasks.stop(t.upid);
      return { data: null };
    },

    "GET /nodes/{node}/lxc/{vmid}/firewall/rules": (p) => {
      const ct = loadCt(p);
      return { data: ct.firewallRules.map(ruleOut) };
    },
    "POST /nodes/{node}/lxc/{vmid}/firewall/rules": (p) => {
      const ct = loadCt(p);
      checkDigest(p.digest, firewallDigest(ct));
      const rules = [...ct.firewallRules];
      const pos = p.pos === undefined ? 0 : Math.min(Number(p.pos), rules.length);
      rules.splice(pos, 0, ruleFields(p));
      store.putContainer({ ...ct, firewallRules: rules });
      return { data: null };
    },
    "GET /nodes/{node}/lxc/{vmid}/firewall/rules/{pos}": (p) => {
      const ct = loadCt(p);
      const pos = Number(p.pos ?? -1);
      const rule = ct.firewallRules[pos];
      if (!rule) return die("no rule at specified position");
      return { data: ruleOut(rule, pos) };
    },
    "PUT /nodes/{node}/lxc/{vmid}/firewall/rules/{pos}": (p) => {
      const ct = loadCt(p);
      checkDigest(p.digest, firewallDigest(ct));
      const pos = Number(p.pos ?? -1);
      const rules = [...ct.firewallRules];
      const rule = rules[pos];
      if (!rule) return die("no rule at specified position");
      if (p.moveto !== undefined) {
        rules.splice(pos, 1);
        rules.splice(Math.min(Number(p.moveto), rules.length), 0, rule);
      } else {
        const next: FirewallRule = { ...rule, ...ruleFields(p) };
        for (const k of String(p.delete ?? "")
          .split(/[,;\s]+/)
          .filter(Boolean))
          delete next[k];
        rules[pos] = next;
      }
      store.putContainer({ ...ct, firewallRules: rules });
      return { data: null };
    },
    "DELETE /nodes/{node}/lxc/{vmid}/firewall/rules/{pos}": (p) => {
      const ct = loadCt(p);
      checkDigest(p.digest, firewallDigest(ct));
      const pos = Number(p.pos ?? -1);
      if (!ct.firewallRules[pos]) return die("no rule at specified position");
      store.putContainer({ ...ct, firewallRules: ct.firewallRules.filter((_, i) => i !== pos) });
      return { data: null };
    },
    "GET /nodes/{node}/lxc/{vmid}/firewall/options": (p) => {
      const ct = loadCt(p);
      return { data: { ...ct.firewallOptions, digest: digestOf(ct.firewallOptions) } };
    },
    "PUT /nodes/{node}/lxc/{vmid}/firewall/options": (p) => {
      const ct = loadCt(p);
      checkDigest(p.digest, digestOf(ct.firewallOptions));
      const opts = { ...ct.firewallOptions };
      for (const k of String(p.delete ?? "")
        .split(/[,;\s]+/)
        .filter(Boolean))
        delete opts[k];
      for (const [k, v] of Object.entries(p)) if (!["node", "vmid", "delete", "digest"].includes(k)) opts[k] = v;
      store.putContainer({ ...ct, firewallOptions: opts });
      return { data: null };
    },

    "GET /cluster/nextid": (p) => {
      if (p.vmid !== undefined) {
        if (store.getContainer(Number(p.vmid))) throw new PveHttpError(400, "Parameter verification failed.", { vmid: `VM ${p.vmid} already exists` });
        return { data: String(p.vmid) };
      }
      const used = new Set(store.listContainers().map((c) => c.vmid));
      let id = 100;
      while (used.has(id)) id++;
      // PVE returns the id as a JSON string (README §2.7).
      return { data: String(id) };
    },

    "GET /cluster/resources": (p) => {
      const out: Record<string, unknown>[] = [];
      const type = p.type === undefined ? undefined : String(p.type);
      if (type === undefined || type === "node") {
        for (const node of deps.nodes)
          out.push({
            id: `node/${node}`,
            type: "node",
            node,
            status: "online",
            cpu: 0.05,
            maxcpu: 16,
            mem: 8 * 1024 ** 3,
            maxmem: 64 * 1024 ** 3,
            disk: 10 * 1024 ** 3,
            maxdisk: 100 * 1024 ** 3,
            uptime: 86400,
            level: "",
            "cgroup-mode": 2,
          });
      }
      if (type === undefined || type === "storage") {
        for (const node of deps.nodes)
          for (const storage of deps.storages)
            out.push({
              id: `storage/${node}/${storage}`,
              type: "storage",
              node,
              storage,
              status: "available",
              disk: 20 * 1024 ** 3,
              maxdisk: 500 * 1024 ** 3,
              content: storage === "local" ? "vztmpl,iso,backup" : "rootdir,images",
              plugintype: storage === "local" ? "dir" : "lvmthin",
              shared: 0,
            });
      }
      if (type === undefined || type === "vm") {
        for (const ct of store.listContainers()) {
          const s = statsAt(ct, now());
          out.push({
            id: `lxc/${ct.vmid}`,
            type: "lxc",
            vmid: ct.vmid,
            node: ct.node,
            name: String(ct.config.hostname ?? `CT${ct.vmid}`),
            status: ct.status,
            template: ct.config.template === 1 ? 1 : 0,
            cpu: s.cpu,
            maxcpu: s.cpus,
            mem: s.mem,
            maxmem: s.maxmem,
            disk: s.disk,
            maxdisk: s.maxdisk,
            netin: s.netin,
            netout: s.netout,
            diskread: s.diskread,
            diskwrite: s.diskwrite,
            uptime: s.uptime,
            ...(ct.config.lock !== undefined ? { lock: String(ct.config.lock) } : {}),
            ...(ct.config.tags !== undefined ? { tags: String(ct.config.tags) } : {}),
          });
        }
      }
      return { data: out };
    },

    "PUT /nodes/{node}/lxc/{vmid}/resize": (p, user) => {
      const ct = loadCt(p);
      checkLock(ct);
      const disk = String(p.disk);
      if (ct.config[disk] === undefined) die(`unable to resize - no such mount point '${disk}'`);
      lock(ct, "disk");
      return task(ct.node, "resize", ct.vmid, user, { kind: "resize", vmid: ct.vmid, disk, size: String(p.size) });
    },
    "POST /nodes/{node}/lxc/{vmid}/template": (p) => {
      const ct = loadCt(p);
      checkLock(ct);
      if (ct.config.template === 1) die(`CT ${ct.vmid} is already a template`);
      if (ct.status === "running") die("you can't convert a CT to template if the CT is running");
      store.putContainer({ ...ct, config: { ...rename(ct.config, ct.vmid, ct.vmid, "base"), template: 1 } });
      return { data: null };
    },
  };

  function findTask(p: PveParams): Task {
    checkNode(p.node);
    const upid = String(p.upid);
    if (!parseUpid(upid)) return die(`unable to parse worker upid '${upid}'`);
    const t = store.getTask(upid);
    if (!t) return die(`no such task`);
    return t;
  }

  return { handlers, work, undo };
}

/** Seeds template containers once (kept across restarts). */
export function seedTemplates(
  store: PveStore,
  templates: { vmid: number; node: string; storage: string; bridge: string; unprivileged?: boolean; diskGiB?: number }[],
  now: number,
): void {
  for (const t of templates) {
    if (store.getContainer(t.vmid)) continue;
    store.putContainer({
      vmid: t.vmid,
      node: t.node,
      config: {
        arch: "amd64",
        cores: 1,
        hostname: `template-${t.vmid}`,
        memory: 512,
        swap: 512,
        ostype: "debian",
        template: 1,
        // proxstack's templates are unprivileged (the programs set unprivileged: true); a test may seed a privileged one.
        ...(t.unprivileged === false ? {} : { unprivileged: 1 }),
        description: "simulation: template container seeded by the simulator",
        rootfs: `${t.storage}:base-${t.vmid}-disk-0,size=${t.diskGiB ?? 4}G`,
        net0: `name=eth0,bridge=${t.bridge},hwaddr=BC:24:11:00:${(t.vmid % 256).toString(16).padStart(2, "0").toUpperCase()}:01,ip=dhcp,type=veth`,
      },
      status: "stopped",
      runs: [],
      createdAt: now,
      parent: undefined,
      firewallOptions: {},
      firewallRules: [],
    });
  }
}
