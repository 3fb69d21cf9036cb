// VMID and IP allocation for instances that lack them: unique across all stacks, inside the platform's range and pool.
import { ProxstackError } from "../lib/errors.js";
import { cidrSpan, intToIpv4, ipv4ToInt, rangeSpan, type PlatformSpec, type UserStackSpec } from "../schemas/index.js";

export interface Assignment {
  instance: string;
  vmid?: number;
  ip?: string;
}

/** What is taken: every VMID and IP written in any stack file or held by a live instance. */
export interface Taken {
  vmids: ReadonlySet<number>;
  ips: ReadonlySet<string>;
}

/** Collects what the given specs spell out. */
export function takenBy(specs: Iterable<UserStackSpec>, extra?: Taken): { vmids: Set<number>; ips: Set<string> } {
  const vmids = new Set<number>(extra?.vmids);
  const ips = new Set<string>(extra?.ips);
  for (const s of specs) {
    for (const i of s.instances) {
      if (i.vmid !== undefined) vmids.add(i.vmid);
      if (i.ip !== undefined) ips.add(i.ip);
    }
  }
  return { vmids, ips };
}

/**
 * Picks the lowest free VMID in `proxmox.vmidRange` and the lowest free address of the pool (not
 * the network or broadcast address, the gateway, the engine or tunnel hosts, or a reserved range)
 * for each instance of `spec` that lacks one. Deterministic: same inputs, same answers.
 * Throws a stall error `allocation-exhausted` when the range or the pool is used up.
 */
export function allocate(spec: UserStackSpec, platform: PlatformSpec, taken: Taken): Assignment[] {
  const vmids = new Set(taken.vmids);
  const ips = new Set(taken.ips);
  for (const i of spec.instances) {
    if (i.vmid !== undefined) vmids.add(i.vmid);
    if (i.ip !== undefined) ips.add(i.ip);
  }
  const pool = cidrSpan(platform.network.pool);
  const blocked = [
    ...platform.network.reserved.map(rangeSpan),
    ...[platform.network.gateway, platform.network.engineHost, platform.network.tunnelConnector].map((ip) => ({ first: ipv4ToInt(ip), last: ipv4ToInt(ip) })),
    { first: pool.first, last: pool.first },
    { first: pool.last, last: pool.last },
  ];
  const { from, to } = platform.proxmox.vmidRange;
  const templateVmids = new Set(Object.values(platform.templates).flatMap((t) => ("clone" in t ? [t.clone.vmid] : [])));
  let nextVmid = from;
  let nextIp = pool.first;
  const out: Assignment[] = [];
  for (const i of spec.instances) {
    const a: Assignment = { instance: i.name };
    if (i.vmid === undefined) {
      while (nextVmid <= to && (vmids.has(nextVmid) || templateVmids.has(nextVmid))) nextVmid++;
      if (nextVmid > to) {
        throw new ProxstackError(
          "allocation-exhausted",
          `no free VMID left in proxmox.vmidRange ${from}–${to} for ${spec.name}/${i.name}; widen the range in platform.yaml`,
          { kind: "stall" },
        );
      }
      a.vmid = nextVmid;
      vmids.add(nextVmid);
    }
    if (i.ip === undefined) {
      for (;;) {
        const n = nextIp;
        if (n > pool.last) {
          throw new ProxstackError(
            "allocation-exhausted",
            `no free IP address left in network.pool ${platform.network.pool} for ${spec.name}/${i.name}; widen the pool in platform.yaml`,
            { kind: "stall" },
          );
        }
        const hit = blocked.find((b) => n >= b.first && n <= b.last);
        if (hit) {
          nextIp = hit.last + 1;
          continue;
        }
        if (ips.has(intToIpv4(n))) {
          nextIp++;
          continue;
        }
        break;
      }
      a.ip = intToIpv4(nextIp);
      ips.add(a.ip);
    }
    if (a.vmid !== undefined || a.ip !== undefined) out.push(a);
  }
  return out;
}
