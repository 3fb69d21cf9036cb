// Shared fixtures of the program tests: the example stack files, provider settings and registration helpers.
import fs from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import { PlatformSpecSchema, UserStackSpecSchema, type PlatformSpec, type UserStackSpec } from "../../schemas/index.js";
import type { Registration } from "../../runners/simulation/mock-run.js";
import type { UserStackProgramInput } from "../user-stack.js";
import { RESOURCE_TYPE } from "../naming.js";

export const EXAMPLE_STACKS_DIR = path.join(import.meta.dirname, "..", "..", "stacks");
export const PVE_TOKEN = "proxstack@pve!engine=00000000-1111-2222-3333-444444444444";
export const CF_TOKEN = "cf-token-that-must-stay-secret";
export const PROVISIONING_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIProvisioningKeyForTestsOnly proxstack-provisioning";

export const CONTAINER = RESOURCE_TYPE.container;
export const FW_OPTIONS = RESOURCE_TYPE.firewallOptions;
export const FW_RULES = RESOURCE_TYPE.firewallRules;
export const TUNNEL_CONFIG = RESOURCE_TYPE.tunnelConfig;
export const DNS_RECORD = RESOURCE_TYPE.dnsRecord;

export function examplePlatform(): PlatformSpec {
  return PlatformSpecSchema.parse(parse(fs.readFileSync(path.join(EXAMPLE_STACKS_DIR, "platform.yaml"), "utf8")));
}

/** alice and bob as committed; carol with the allocation the engine would write back. */
export function exampleUser(name: "alice" | "bob" | "carol"): UserStackSpec {
  const spec = UserStackSpecSchema.parse(parse(fs.readFileSync(path.join(EXAMPLE_STACKS_DIR, `${name}.yaml`), "utf8")));
  if (name !== "carol") return spec;
  return { ...spec, instances: spec.instances.map((i) => ({ ...i, vmid: 2004, ip: "10.10.0.24" })) };
}

export function userInput(spec: UserStackSpec, platform: PlatformSpec, vpnPeerAddresses: string[] = []): UserStackProgramInput {
  return {
    spec,
    platform,
    proxmox: { endpoint: "https://pve.example.com:8006/", apiToken: PVE_TOKEN, insecure: false },
    provisioningPublicKey: PROVISIONING_KEY,
    vpnPeerAddresses,
  };
}

/** `type name` of every custom resource and component, sorted (the root stack left out). */
export function resourceSet(regs: Registration[]): string[] {
  return regs
    .filter((r) => r.type !== "pulumi:pulumi:Stack")
    .map((r) => `${r.type} ${r.name}`)
    .sort();
}

export function byName(regs: Registration[], name: string): Registration {
  const r = regs.find((x) => x.name === name);
  if (r === undefined) throw new Error(`no registration named ${name}; have ${regs.map((x) => x.name).join(", ")}`);
  return r;
}

/** `name: path` of every input that differs between two runs, plus resources present in only one. */
export function inputDiff(a: Registration[], b: Registration[]): string[] {
  const diffs: string[] = [];
  const flat = (v: unknown, p: string, out: Map<string, string>): void => {
    if (v !== null && typeof v === "object") {
      for (const [k, x] of Object.entries(v)) flat(x, p ? `${p}.${k}` : k, out);
    } else out.set(p, JSON.stringify(v));
  };
  const names = new Set([...a, ...b].map((r) => r.name));
  for (const n of [...names].sort()) {
    const ra = a.find((r) => r.name === n);
    const rb = b.find((r) => r.name === n);
    if (!ra || !rb) {
      diffs.push(`${n}: ${ra ? "removed" : "added"}`);
      continue;
    }
    const fa = new Map<string, string>();
    const fb = new Map<string, string>();
    flat(ra.inputs, "", fa);
    flat(rb.inputs, "", fb);
    for (const k of new Set([...fa.keys(), ...fb.keys()])) if (fa.get(k) !== fb.get(k)) diffs.push(`${n}: ${k}`);
  }
  return diffs.sort();
}
