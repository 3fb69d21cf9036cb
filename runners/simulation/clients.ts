// Adapts the Proxmox VE and Cloudflare API clients (clients/) to the narrow interfaces the simulation runner calls.
import { ProxstackError } from "../../lib/errors.js";
import type { CloudflareClient, DnsRecordInput } from "../../clients/cloudflare/client.js";
import type { ProxmoxClient } from "../../clients/proxmox/client.js";
import type { DnsRecordData, PveParams, SimCloudflare, SimProxmox } from "./apis.js";

const isCode = (err: unknown, code: string): boolean => err instanceof ProxstackError && err.code === code;

export function simProxmoxFromClient(c: ProxmoxClient): SimProxmox {
  return {
    async getContainer(node, vmid) {
      try {
        const config = await c.getConfig(node, vmid);
        const status = await c.containerStatus(node, vmid);
        return { config, status: status.status };
      } catch (err) {
        if (isCode(err, "pve.not-found")) return undefined;
        throw err;
      }
    },
    async cloneContainer(node, templateVmid, p) {
      await c.cloneContainer(node, templateVmid, p);
    },
    async createContainer(node, p) {
      const { vmid, ostemplate, ...rest } = p;
      await c.createContainer(node, { vmid: Number(vmid), ostemplate: String(ostemplate), ...rest });
    },
    updateConfig: (node, vmid, p) => c.updateConfig(node, vmid, p),
    async resizeDisk(node, vmid, disk, size) {
      await c.resizeDisk(node, vmid, disk, size);
    },
    async start(node, vmid) {
      await c.startContainer(node, vmid);
    },
    async stop(node, vmid) {
      await c.stopContainer(node, vmid);
    },
    async destroy(node, vmid) {
      await c.deleteContainer(node, vmid, { purge: true });
    },
    getFirewallOptions: (node, vmid) => c.getFirewallOptions(node, vmid),
    setFirewallOptions: (node, vmid, p) => c.setFirewallOptions(node, vmid, p),
    async getFirewallRules(node, vmid) {
      const rules = await c.listFirewallRules(node, vmid);
      return [...rules].sort((a, b) => a.pos - b.pos).map(({ pos: _pos, ...r }) => dropUndefined(r));
    },
    async addFirewallRule(node, vmid, rule, pos) {
      const { enable, type, action, ...rest } = rule;
      await c.createFirewallRule(node, vmid, { type: String(type), action: String(action), ...stringify(rest), enable: Number(enable ?? 1) === 1 }, pos);
    },
    deleteFirewallRule: (node, vmid, pos) => c.deleteFirewallRule(node, vmid, pos),
  };
}

export function simCloudflareFromClient(c: CloudflareClient): SimCloudflare {
  return {
    async getTunnelIngress(accountId, tunnelId) {
      const conf = await c.getTunnelConfig(accountId, tunnelId);
      return (conf.config?.ingress ?? []).map((r) => (r.hostname !== undefined ? { hostname: r.hostname, service: r.service } : { service: r.service }));
    },
    async putTunnelIngress(accountId, tunnelId, ingress) {
      await c.putTunnelConfig(accountId, tunnelId, { ingress });
    },
    async findDnsRecords(zoneId, name) {
      const records = await c.listDnsRecords(zoneId, { name });
      return records
        .filter((r) => r.name === name)
        .map((r) => ({
          id: r.id,
          name: r.name,
          type: r.type,
          content: r.content,
          proxied: r.proxied ?? false,
          ttl: r.ttl,
          ...(r.comment ? { comment: r.comment } : {}),
        }));
    },
    async createDnsRecord(zoneId, r) {
      return { id: (await c.createDnsRecord(zoneId, toInput(r))).id };
    },
    async updateDnsRecord(zoneId, id, r) {
      await c.updateDnsRecord(zoneId, id, toInput(r));
    },
    async deleteDnsRecord(zoneId, id) {
      try {
        await c.deleteDnsRecord(zoneId, id);
      } catch (err) {
        if (!isCode(err, "cf.not-found")) throw err;
      }
    },
  };
}

const DNS_TYPES = new Set<DnsRecordInput["type"]>(["A", "AAAA", "CNAME", "TXT", "MX", "NS", "SRV", "CAA"]);

function toInput(r: DnsRecordData): DnsRecordInput {
  const type = r.type as DnsRecordInput["type"];
  if (!DNS_TYPES.has(type)) throw new ProxstackError("simulation.bad-inputs", `DNS record type ${r.type} is not supported`, { kind: "stall" });
  return { type, name: r.name, content: r.content, proxied: r.proxied, ttl: r.ttl, ...(r.comment !== undefined ? { comment: r.comment } : {}) };
}

function dropUndefined(o: Record<string, unknown>): PveParams {
  return Object.fromEntries(Object.entries(o).filter((e): e is [string, string | number] => typeof e[1] === "string" || typeof e[1] === "number"));
}

function stringify(o: PveParams): Record<string, string> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, String(v)]));
}
