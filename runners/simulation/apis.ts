// The operations the simulation runner performs on Proxmox VE and Cloudflare: narrow interfaces the API clients are adapted to.

/** A PVE config or parameter map as the API speaks it (`cores: 2`, `net0: "name=eth0,…"`). */
export type PveParams = Record<string, string | number>;

export interface PveContainer {
  config: PveParams;
  /** `running`, `stopped`, … from status/current. */
  status: string;
}

/** Proxmox VE, one call per API request; task-returning calls resolve when the task has finished. */
export interface SimProxmox {
  /** undefined when no container (or template) has this VMID on the node. */
  getContainer(node: string, vmid: number): Promise<PveContainer | undefined>;
  cloneContainer(
    node: string,
    templateVmid: number,
    p: { newid: number; hostname: string; full: boolean; description?: string; storage?: string; target?: string },
  ): Promise<void>;
  createContainer(node: string, p: PveParams): Promise<void>;
  updateConfig(node: string, vmid: number, p: PveParams): Promise<void>;
  /** `size` as PVE takes it: `20G` (absolute) or `+2G`. */
  resizeDisk(node: string, vmid: number, disk: string, size: string): Promise<void>;
  start(node: string, vmid: number): Promise<void>;
  stop(node: string, vmid: number): Promise<void>;
  destroy(node: string, vmid: number): Promise<void>;
  getFirewallOptions(node: string, vmid: number): Promise<PveParams>;
  setFirewallOptions(node: string, vmid: number, p: PveParams): Promise<void>;
  /** Rules in position order. */
  getFirewallRules(node: string, vmid: number): Promise<PveParams[]>;
  addFirewallRule(node: string, vmid: number, rule: PveParams, pos: number): Promise<void>;
  deleteFirewallRule(node: string, vmid: number, pos: number): Promise<void>;
}

export interface IngressRule {
  hostname?: string;
  service: string;
}

export interface DnsRecordData {
  name: string;
  type: string;
  content: string;
  proxied: boolean;
  ttl: number;
  comment?: string;
}

/** Cloudflare API v4, the tunnel configuration and DNS calls only. */
export interface SimCloudflare {
  getTunnelIngress(accountId: string, tunnelId: string): Promise<IngressRule[]>;
  putTunnelIngress(accountId: string, tunnelId: string, ingress: IngressRule[]): Promise<void>;
  /** Records with exactly this name. */
  findDnsRecords(zoneId: string, name: string): Promise<(DnsRecordData & { id: string })[]>;
  createDnsRecord(zoneId: string, r: DnsRecordData): Promise<{ id: string }>;
  updateDnsRecord(zoneId: string, id: string, r: DnsRecordData): Promise<void>;
  /** Resolves when the record is gone (also when it was already gone). */
  deleteDnsRecord(zoneId: string, id: string): Promise<void>;
}
