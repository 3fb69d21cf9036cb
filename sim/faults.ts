// The `--faults LIST` of `proxstack sim` and `serve`: parsed into each simulator's fault knobs, and worded for banners.
import { ProxstackError } from "../lib/errors.js";
import type { CloudflareFaults } from "./cloudflare/server.js";
import type { PveFaults } from "./proxmox/server.js";
import type { SimulatorFaults } from "./start.js";

type Target = "pve" | "cloudflare";
type Kind = "rate" | "count" | "ms" | "flag" | "text";

/** Every knob the simulators have (PveFaults, CloudflareFaults), which simulators have it, and its value kind. */
const KNOBS: Record<string, { targets: Target[]; kind: Kind; doc: string }> = {
  errorRate: { targets: ["pve"], kind: "rate", doc: "share of Proxmox requests answered 500" },
  lockTimeoutRate: { targets: ["pve"], kind: "rate", doc: "share of container writes answered with PVE's lock timeout" },
  lockTimeouts: { targets: ["pve"], kind: "count", doc: "the next N container writes get the lock timeout" },
  stuckTasks: { targets: ["pve"], kind: "flag", doc: "new Proxmox tasks never finish" },
  failTasks: { targets: ["pve"], kind: "text", doc: "every finishing Proxmox task fails with this message" },
  rateLimitNext: { targets: ["cloudflare"], kind: "count", doc: "the next N Cloudflare requests get 429" },
  latencyMs: { targets: ["pve", "cloudflare"], kind: "ms", doc: "delay before every answer (both simulators)" },
};

/** One line per knob, for --help. */
export const FAULTS_HELP = Object.entries(KNOBS)
  .map(([k, v]) => `    ${k.padEnd(16)} ${v.kind.padEnd(6)} ${v.doc}`)
  .join("\n");

const fail = (message: string): never => {
  throw new ProxstackError("faults.invalid", `--faults: ${message}`, { kind: "stall" });
};

function value(key: string, kind: Kind, raw: string | undefined): number | boolean | string {
  if (kind === "flag") {
    if (raw === undefined || raw === "true") return true;
    if (raw === "false") return false;
    return fail(`${key} is true or false, got '${raw}'`);
  }
  if (raw === undefined || raw === "") return fail(`${key} needs a value: ${key}=…`);
  switch (kind) {
    case "rate":
      if (!/^(0|1|0?\.\d+|[01]\.\d+)$/.test(raw) || Number(raw) > 1) fail(`${key} is a share from 0 to 1 such as 0.2, got '${raw}'`);
      return Number(raw);
    case "count":
      if (!/^\d{1,6}$/.test(raw)) fail(`${key} is a whole number of requests, got '${raw}'`);
      return Number(raw);
    case "ms":
      if (!/^\d{1,6}$/.test(raw) || Number(raw) > 60_000) fail(`${key} is whole milliseconds from 0 to 60000, got '${raw}'`);
      return Number(raw);
    case "text":
      return raw;
  }
}

/**
 * Parses `errorRate=0.2,lockTimeoutRate=0.1,latencyMs=50`. A knob goes to every simulator that has it;
 * `pve.latencyMs=…` or `cloudflare.latencyMs=…` targets one. Unknown keys, repeated keys and bad values
 * throw a ProxstackError (`faults.invalid`) naming the key.
 */
export function parseFaults(list: string): SimulatorFaults {
  const pve: Record<string, unknown> = {};
  const cloudflare: Record<string, unknown> = {};
  const seen = new Set<string>();
  if (list.trim() === "") fail("empty list; e.g. errorRate=0.2,lockTimeoutRate=0.1");
  for (const item of list.split(",")) {
    const eq = item.indexOf("=");
    const name = (eq < 0 ? item : item.slice(0, eq)).trim();
    const raw = eq < 0 ? undefined : item.slice(eq + 1).trim();
    if (name === "") fail(`empty entry in '${list}'`);
    const dot = name.indexOf(".");
    const prefix = dot < 0 ? undefined : name.slice(0, dot);
    const key = dot < 0 ? name : name.slice(dot + 1);
    const knob = Object.hasOwn(KNOBS, key) ? KNOBS[key] : undefined;
    if (!knob) return fail(`unknown fault '${name}'; known: ${Object.keys(KNOBS).join(", ")}`);
    if (prefix !== undefined && prefix !== "pve" && prefix !== "cloudflare") fail(`unknown simulator '${prefix}' in '${name}'; use pve. or cloudflare.`);
    if (prefix !== undefined && !knob.targets.includes(prefix as Target))
      fail(`the ${prefix} simulator has no '${key}' (it is ${knob.targets.join(" and ")} only)`);
    const targets = prefix !== undefined ? [prefix as Target] : knob.targets;
    for (const t of targets) {
      if (seen.has(`${t}.${key}`)) fail(`'${key}' is given twice for ${t}`);
      seen.add(`${t}.${key}`);
      (t === "pve" ? pve : cloudflare)[key] = value(name, knob.kind, raw);
    }
  }
  return {
    ...(Object.keys(pve).length > 0 ? { pve: pve as PveFaults } : {}),
    ...(Object.keys(cloudflare).length > 0 ? { cloudflare: cloudflare as CloudflareFaults } : {}),
  };
}

/** `pve errorRate=0.2 lockTimeoutRate=0.1; cloudflare latencyMs=50`, or "" without faults. */
export function faultsLabel(f: SimulatorFaults): string {
  const part = (name: string, x: object | undefined) =>
    x && Object.keys(x).length > 0
      ? `${name} ${Object.entries(x)
          .map(([k, v]) => `${k}=${String(v)}`)
          .join(" ")}`
      : undefined;
  return [part("pve", f.pve), part("cloudflare", f.cloudflare)].filter((p) => p !== undefined).join("; ");
}

/** The faults that cannot apply because their simulator does not run (its provider is real). */
export function faultsForAbsentSimulators(f: SimulatorFaults, which: { pve: boolean; cloudflare: boolean }): string[] {
  return [
    ...(f.pve && !which.pve ? Object.keys(f.pve).map((k) => `pve.${k} (Proxmox is real: PROXMOX_VE_ENDPOINT is set)`) : []),
    ...(f.cloudflare && !which.cloudflare ? Object.keys(f.cloudflare).map((k) => `cloudflare.${k} (Cloudflare is real: CLOUDFLARE_API_TOKEN is set)`) : []),
  ];
}
