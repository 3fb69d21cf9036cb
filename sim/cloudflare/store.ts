// Durable state of the Cloudflare simulator (SQLite): tunnels, their configurations and DNS records.
import Database from "better-sqlite3";
import { z } from "zod";
import { parseRow as parse } from "../json-row.js";

export const TunnelSchema = z
  .object({
    id: z.string(),
    account_tag: z.string(),
    name: z.string(),
    created_at: z.string(),
    deleted_at: z.string().nullable(),
    config_src: z.string(),
  })
  .passthrough();
export type Tunnel = z.infer<typeof TunnelSchema>;

export const TunnelConfigSchema = z.object({ config: z.record(z.string(), z.unknown()), version: z.number(), created_at: z.string() });
export type TunnelConfig = z.infer<typeof TunnelConfigSchema>;

export const DnsRecordSchema = z
  .object({
    id: z.string(),
    zone_id: z.string(),
    zone_name: z.string(),
    type: z.string(),
    name: z.string(),
    content: z.string(),
    proxied: z.boolean(),
    ttl: z.number(),
    comment: z.string().nullable(),
    tags: z.array(z.string()),
    created_on: z.string(),
    modified_on: z.string(),
  })
  .passthrough();
export type DnsRecord = z.infer<typeof DnsRecordSchema>;

export interface CfStore {
  getTunnel(id: string): Tunnel | undefined;
  listTunnels(accountId: string): Tunnel[];
  putTunnel(t: Tunnel): void;
  getConfig(tunnelId: string): TunnelConfig | undefined;
  putConfig(tunnelId: string, c: TunnelConfig): void;
  getRecord(zoneId: string, id: string): DnsRecord | undefined;
  listRecords(zoneId: string): DnsRecord[];
  putRecord(r: DnsRecord): void;
  deleteRecord(zoneId: string, id: string): void;
  close(): void;
}

export function openCfStore(dbPath: string): CfStore {
  const db = new Database(dbPath);
  db.pragma("journal_mode = WAL");
  db.exec(`
    CREATE TABLE IF NOT EXISTS tunnels (id TEXT PRIMARY KEY, account_id TEXT NOT NULL, doc TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS tunnel_configs (tunnel_id TEXT PRIMARY KEY, doc TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS dns_records (id TEXT PRIMARY KEY, zone_id TEXT NOT NULL, doc TEXT NOT NULL);
  `);
  const q = {
    tunnel: db.prepare<[string], { doc: string }>("SELECT doc FROM tunnels WHERE id = ?"),
    tunnels: db.prepare<[string], { doc: string }>("SELECT doc FROM tunnels WHERE account_id = ? ORDER BY rowid"),
    putTunnel: db.prepare("INSERT INTO tunnels (id, account_id, doc) VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE SET doc = excluded.doc"),
    config: db.prepare<[string], { doc: string }>("SELECT doc FROM tunnel_configs WHERE tunnel_id = ?"),
    putConfig: db.prepare("INSERT INTO tunnel_configs (tunnel_id, doc) VALUES (?, ?) ON CONFLICT(tunnel_id) DO UPDATE SET doc = excluded.doc"),
    record: db.prepare<[string, string], { doc: string }>("SELECT doc FROM dns_records WHERE zone_id = ? AND id = ?"),
    records: db.prepare<[string], { doc: string }>("SELECT doc FROM dns_records WHERE zone_id = ? ORDER BY rowid"),
    putRecord: db.prepare("INSERT INTO dns_records (id, zone_id, doc) VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE SET doc = excluded.doc"),
    delRecord: db.prepare("DELETE FROM dns_records WHERE zone_id = ? AND id = ?"),
  };
  return {
    getTunnel: (id) => {
      const r = q.tunnel.get(id);
      return r ? parse(TunnelSchema, r.doc, "tunnel") : undefined;
    },
    listTunnels: (acc) => q.tunnels.all(acc).map((r) => parse(TunnelSchema, r.doc, "tunnel")),
    putTunnel: (t) => void q.putTunnel.run(t.id, t.account_tag, JSON.stringify(t)),
    getConfig: (id) => {
      const r = q.config.get(id);
      return r ? parse(TunnelConfigSchema, r.doc, "tunnel configuration") : undefined;
    },
    putConfig: (id, c) => void q.putConfig.run(id, JSON.stringify(c)),
    getRecord: (zone, id) => {
      const r = q.record.get(zone, id);
      return r ? parse(DnsRecordSchema, r.doc, "dns record") : undefined;
    },
    listRecords: (zone) => q.records.all(zone).map((r) => parse(DnsRecordSchema, r.doc, "dns record")),
    putRecord: (r) => void q.putRecord.run(r.id, r.zone_id, JSON.stringify(r)),
    deleteRecord: (zone, id) => void q.delRecord.run(zone, id),
    close: () => db.close(),
  };
}
