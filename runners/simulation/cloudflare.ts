// Applies the tunnel configuration and DNS record registrations to Cloudflare through SimCloudflare.
import { z } from "zod";
import { ProxstackError } from "../../lib/errors.js";
import { parseInputs as parse } from "./plan.js";
import type { DnsRecordData, IngressRule, SimCloudflare } from "./apis.js";

const CATCH_ALL: IngressRule = { service: "http_status:404" };

const TunnelConfigSchema = z.object({
  accountId: z.string(),
  tunnelId: z.string(),
  config: z.object({ ingresses: z.array(z.object({ hostname: z.string().optional(), service: z.string() })).default([]) }).optional(),
});
const DnsRecordSchema = z.object({
  zoneId: z.string(),
  name: z.string(),
  type: z.string(),
  content: z.string(),
  proxied: z.boolean().default(false),
  ttl: z.number().default(1),
  comment: z.string().optional(),
});

function ingressOf(inputs: unknown): { accountId: string; tunnelId: string; ingress: IngressRule[] } {
  const t = parse(TunnelConfigSchema, inputs, "tunnel configuration");
  const ingress = (t.config?.ingresses ?? []).map((r) => (r.hostname !== undefined ? { hostname: r.hostname, service: r.service } : { service: r.service }));
  // Cloudflare rejects a list whose last rule has a hostname; the program always ends with the catch-all.
  const last = ingress.at(-1);
  if (!last || last.hostname !== undefined) ingress.push(CATCH_ALL);
  return { accountId: t.accountId, tunnelId: t.tunnelId, ingress };
}

const sameIngress = (a: IngressRule[], b: IngressRule[]): boolean =>
  a.length === b.length && a.every((r, i) => r.hostname === b[i]?.hostname && r.service === b[i]?.service);

export async function applyTunnelConfig(cf: SimCloudflare, inputs: unknown): Promise<void> {
  const { accountId, tunnelId, ingress } = ingressOf(inputs);
  if (!sameIngress(ingress, await cf.getTunnelIngress(accountId, tunnelId))) await cf.putTunnelIngress(accountId, tunnelId, ingress);
}

export async function tunnelConfigDrift(cf: SimCloudflare, inputs: unknown): Promise<string[]> {
  const { accountId, tunnelId, ingress } = ingressOf(inputs);
  return sameIngress(ingress, await cf.getTunnelIngress(accountId, tunnelId)) ? [] : ["config"];
}

/** The tunnel keeps existing; its ingress falls back to the catch-all alone. */
export async function deleteTunnelConfig(cf: SimCloudflare, inputs: unknown): Promise<void> {
  const { accountId, tunnelId } = ingressOf(inputs);
  if (!sameIngress([CATCH_ALL], await cf.getTunnelIngress(accountId, tunnelId))) await cf.putTunnelIngress(accountId, tunnelId, [CATCH_ALL]);
}

function recordOf(inputs: unknown): { zoneId: string; data: DnsRecordData } {
  const r = parse(DnsRecordSchema, inputs, "DNS record");
  return {
    zoneId: r.zoneId,
    data: { name: r.name, type: r.type, content: r.content, proxied: r.proxied, ttl: r.ttl, ...(r.comment !== undefined ? { comment: r.comment } : {}) },
  };
}

const sameRecord = (a: DnsRecordData, b: DnsRecordData): boolean =>
  a.name === b.name && a.type === b.type && a.content === b.content && a.proxied === b.proxied && a.ttl === b.ttl && (a.comment ?? "") === (b.comment ?? "");

/**
 * Creates or updates the record and returns its id. Looks the name up first, so a record created by an
 * interrupted run is adopted rather than duplicated; a record of another type on the name is a conflict.
 */
export async function applyDnsRecord(cf: SimCloudflare, inputs: unknown, knownId: string | undefined): Promise<string> {
  const { zoneId, data } = recordOf(inputs);
  const existing = await cf.findDnsRecords(zoneId, data.name);
  const mine = existing.find((r) => r.id === knownId) ?? existing.find((r) => r.type === data.type);
  if (!mine) {
    if (existing.length > 0) {
      throw new ProxstackError(
        "simulation.dns-conflict",
        `DNS name ${data.name} already has a ${existing.map((r) => r.type).join("/")} record; a ${data.type} cannot coexist with it: remove it in Cloudflare`,
        { kind: "stall" },
      );
    }
    return (await cf.createDnsRecord(zoneId, data)).id;
  }
  if (!sameRecord(mine, data)) await cf.updateDnsRecord(zoneId, mine.id, data);
  return mine.id;
}

export async function dnsRecordDrift(cf: SimCloudflare, inputs: unknown, knownId: string | undefined): Promise<"missing" | string[]> {
  const { zoneId, data } = recordOf(inputs);
  const found = (await cf.findDnsRecords(zoneId, data.name)).find((r) => r.id === knownId || r.type === data.type);
  if (!found) return "missing";
  return sameRecord(found, data) ? [] : ["content"];
}

export async function deleteDnsRecord(cf: SimCloudflare, inputs: unknown, knownId: string | undefined): Promise<void> {
  const { zoneId, data } = recordOf(inputs);
  const found = (await cf.findDnsRecords(zoneId, data.name)).filter((r) => r.id === knownId || (r.type === data.type && r.content === data.content));
  for (const r of found) await cf.deleteDnsRecord(zoneId, r.id);
}

/** Whether a record for these inputs exists (crash recovery); returns its id. */
export async function findDnsRecord(cf: SimCloudflare, inputs: unknown): Promise<string | undefined> {
  const { zoneId, data } = recordOf(inputs);
  return (await cf.findDnsRecords(zoneId, data.name)).find((r) => r.type === data.type)?.id;
}
