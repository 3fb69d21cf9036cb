// The platform file (stacks/platform.yaml): one per installation, shared by every user stack.
import { z } from "zod";
import {
  ApiVersionSchema,
  CIDR,
  CidrSchema,
  cidrSpan,
  DnsLabelSchema,
  DomainNameSchema,
  inSpan,
  IPV4,
  IPV4_RANGE,
  ipv4ToInt,
  Ipv4RangeSchema,
  Ipv4Schema,
  rangeSpan,
  VmidSchema,
} from "./common.js";

const PveNameSchema = z.string().regex(/^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$/, "must be a Proxmox name: letters, digits and '-'");

const HexId32Schema = z.string().regex(/^[0-9a-f]{32}$/, "must be a 32-character lower-case hex id as Cloudflare shows it");

const UuidSchema = z
  .string()
  .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, "must be a tunnel UUID such as 7c1d2e3f-0a1b-4c2d-8e3f-405162738495");

export const ProxmoxSettingsSchema = z
  .object({
    nodes: z
      .array(PveNameSchema)
      .min(1, "must list at least one Proxmox node")
      .describe("Proxmox node names containers may be placed on; the first is the default. @example [pve1]"),
    bridge: z
      .string()
      .regex(/^[a-zA-Z][a-zA-Z0-9_.-]{0,14}$/, "must be a Linux bridge name such as vmbr0")
      .describe("Linux bridge every container's net0 attaches to. @example vmbr0"),
    datastore: z
      .string()
      .regex(/^[a-zA-Z][a-zA-Z0-9_.-]*$/, "must be a Proxmox storage id such as local-lvm")
      .default("local-lvm")
      .describe("Storage for container root disks. @default local-lvm"),
    vmidRange: z
      .object({
        from: VmidSchema.describe("First VMID the engine may allocate. @example 2000"),
        to: VmidSchema.describe("Last VMID the engine may allocate (inclusive). @example 2999"),
      })
      .strict()
      .refine((r) => r.from <= r.to, { message: "must not be less than from", path: ["to"] })
      .describe("VMIDs reserved for proxstack containers; allocations come from here."),
    perNodeLimit: z
      .number()
      .int()
      .min(1)
      .max(64)
      .default(1)
      .describe(
        "Stacks the engine applies at once on one Proxmox node when Proxmox is real (parallel creates and clones on one node hit Proxmox lock timeouts). Read when the engine starts. @default 1",
      ),
    parallel: z
      .number()
      .int()
      .min(1)
      .max(64)
      .default(1)
      .describe(
        "Pulumi's parallel for user-stack operations on real Proxmox: resource operations at once within one stack (1 = one after another). @default 1",
      ),
  })
  .strict()
  .describe("Where containers live on Proxmox VE.");

export const NetworkSettingsSchema = z
  .object({
    pool: CidrSchema.describe("Network container addresses are allocated from. @example 10.10.0.0/24"),
    gateway: Ipv4Schema.describe("Default gateway for containers, inside the pool. @example 10.10.0.1"),
    reserved: z
      .array(Ipv4RangeSchema)
      .default([])
      .describe("Addresses inside the pool never handed to containers (gateway, hosts). @default [] @example [10.10.0.1-10.10.0.19]"),
    nameservers: z.array(Ipv4Schema).default([]).describe("DNS servers written into containers. @default [] @example [1.1.1.1]"),
    engineHost: Ipv4Schema.describe(
      "Address of the engine host; the only source allowed to SSH into containers besides the owner's VPN peer. @example 10.10.0.2",
    ),
    tunnelConnector: Ipv4Schema.describe("Address of the cloudflared connector; allowed to reach the ports a user's domains declare. @example 10.10.0.3"),
  })
  .strict()
  .describe("Container network: address pool, gateway and the hosts the firewall lets in.");

export const VpnSettingsSchema = z
  .object({
    subnet: CidrSchema.describe("WireGuard subnet client peers get addresses from. @example 10.99.0.0/24"),
    endpoint: z
      .string()
      .regex(/^[a-zA-Z0-9.-]+:\d{1,5}$/, "must be HOST:PORT such as vpn.example.com:51820")
      .describe("Public endpoint written into client configs. @example vpn.example.com:51820"),
  })
  .strict()
  .describe("The VPN service users reach their containers through.");

/** What cloudflared accepts as an ingress rule's service. */
const INGRESS_SERVICE =
  /^(?:(?:https?|wss?|tcp|ssh|rdp|smb):\/\/[a-zA-Z0-9.-]+(?::\d{1,5})?(?:\/\S*)?|unix(?:\+tls)?:\/\S+|http_status:[1-5]\d\d|hello_world|bastion)$/;

export const ExtraIngressRuleSchema = z
  .object({
    hostname: DomainNameSchema.describe("Public hostname of the operator's route. @example portal.example.com"),
    path: z.string().min(1).max(200).optional().describe("Optional path regular expression the rule matches, as cloudflared takes it. @example ^/api/"),
    service: z
      .string()
      .regex(
        INGRESS_SERVICE,
        "must be a cloudflared service such as http://10.10.0.2:8080, https://10.10.0.5:8006, tcp://host:22, unix:/path or http_status:404",
      )
      .describe("Where cloudflared sends the route's traffic. @example http://10.10.0.2:8080"),
    dns: z
      .boolean()
      .default(true)
      .describe(
        "Create the hostname's proxied CNAME to the tunnel in the zone (an existing record must be imported first); false when it lives elsewhere. @default true",
      ),
  })
  .strict()
  .describe("An operator route on the tunnel (portal, Proxmox UI …), kept before every user's routes.");

export const CloudflareSettingsSchema = z
  .object({
    accountId: HexId32Schema.describe("Cloudflare account id (an id, never a token). @example 0123456789abcdef0123456789abcdef"),
    zoneId: HexId32Schema.describe("Zone id of the base domain. @example fedcba9876543210fedcba9876543210"),
    tunnelId: UuidSchema.describe("Id of the remotely managed Cloudflare tunnel, dedicated to proxstack, whose whole ingress the platform stack owns."),
    extraIngress: z
      .array(ExtraIngressRuleSchema)
      .max(100)
      .default([])
      .describe(
        "Operator routes the platform stack keeps at the head of the tunnel's ingress, in this order, before every user's routes. The first run replaces the tunnel's whole ingress: list here every route the tunnel must keep. @default []",
      ),
  })
  .strict()
  .describe("Cloudflare ids for tunnel ingress and DNS. Tokens never go here: set CLOUDFLARE_API_TOKEN.");

export const TemplateSourceSchema = z
  .union([
    z
      .object({
        clone: z
          .object({
            vmid: VmidSchema.describe("VMID of the Proxmox container template to clone. @example 9000"),
            node: PveNameSchema.optional().describe("Node holding the template; defaults to the first node."),
            diskGiB: z
              .number()
              .int()
              .min(1)
              .max(65_536)
              .optional()
              .describe(
                "Root disk size of the template in GiB. A clone starts at this size and cannot shrink, so instances whose plan's disk is smaller are refused. `proxstack doctor` reads the real size. @example 4",
              ),
          })
          .strict()
          .describe("Create the container as a full clone of a template container."),
        description: z.string().max(200).optional().describe("What users see in the portal's template list."),
      })
      .strict(),
    z
      .object({
        osTemplate: z
          .string()
          .regex(/^[a-zA-Z0-9_.-]+:vztmpl\/[a-zA-Z0-9_.+-]+$/, "must be a Proxmox volume id such as local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst")
          .describe("OS template volume to create the container from. @example local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"),
        osType: z
          .enum(["debian", "ubuntu", "alpine", "centos", "fedora", "archlinux", "opensuse", "devuan", "gentoo", "nixos", "unmanaged"])
          .describe("Proxmox ostype of the template. @example debian"),
        description: z.string().max(200).optional().describe("What users see in the portal's template list."),
      })
      .strict(),
  ])
  .describe("Where a template comes from: {clone: {vmid}} of a Proxmox template container, or {osTemplate, osType} of an OS template volume.");

export const PlanSchema = z
  .object({
    cores: z.number().int().min(1).max(128).describe("CPU cores. @example 1"),
    memoryMiB: z.number().int().min(16).max(1_048_576).describe("Dedicated memory in MiB. @example 1024"),
    swapMiB: z.number().int().min(0).max(1_048_576).default(0).describe("Swap in MiB. @default 0"),
    diskGiB: z
      .number()
      .int()
      .min(1)
      .max(65_536)
      .describe("Root disk in GiB. Growing is in place; shrinking forces replacement, so the validator refuses it. @example 8"),
    pointsPerDay: z.number().min(0).describe("Points charged per day while the instance exists. @example 24"),
    description: z.string().max(200).optional().describe("What users see in the portal's plan list."),
  })
  .strict()
  .describe("Resources of an instance and its price in points per day.");

export const QuotaSchema = z
  .object({
    instances: z.number().int().min(0).describe("Most instances one user may have. @example 5"),
    cores: z.number().int().min(0).describe("Most cores across a user's instances. @example 8"),
    memoryMiB: z.number().int().min(0).describe("Most memory (MiB) across a user's instances. @example 8192"),
    diskGiB: z.number().int().min(0).describe("Most disk (GiB) across a user's instances. @example 100"),
    domains: z.number().int().min(0).describe("Most domains across a user's instances. @example 10"),
  })
  .strict();

export const PlatformSpecSchema = z
  .object({
    apiVersion: ApiVersionSchema,
    kind: z.literal("Platform").describe("Always Platform for stacks/platform.yaml."),
    proxmox: ProxmoxSettingsSchema,
    network: NetworkSettingsSchema,
    vpn: VpnSettingsSchema,
    baseDomain: DomainNameSchema.describe("Domain user hostnames live under: <user>-<instance>-<subdomain>.<baseDomain>. @example example.com"),
    cloudflare: CloudflareSettingsSchema,
    templates: z
      .record(DnsLabelSchema, TemplateSourceSchema)
      .refine((t) => Object.keys(t).length > 0, { message: "must list at least one template" })
      .describe("Template catalog: name → Proxmox source (a template VMID to clone or an OS template volume)."),
    plans: z
      .record(DnsLabelSchema, PlanSchema)
      .refine((p) => Object.keys(p).length > 0, { message: "must list at least one plan" })
      .describe("Plan catalog: name → resources and price."),
    quotas: QuotaSchema.describe("Limits per user, checked by the validator before anything is applied."),
    domains: z
      .object({
        freePerInstance: z.number().int().min(0).default(1).describe("Domains included in an instance's plan. @default 1"),
        extraPointsPerDay: z.number().min(0).default(0).describe("Points per day for each domain beyond the free ones. @default 0"),
      })
      .strict()
      .default({ freePerInstance: 1, extraPointsPerDay: 0 })
      .describe("Domain pricing."),
    billing: z
      .object({
        signupBonusPoints: z.number().min(0).default(100).describe("Points credited once when a user's account is first seen by billing. @default 100"),
        resumeRunwayHours: z
          .number()
          .min(0)
          .default(1)
          .describe("A points-exhausted suspension is lifted once the balance covers this many hours of the stack's running instances. @default 1"),
        deleteAfterSuspendedDays: z
          .number()
          .int()
          .min(1)
          .optional()
          .describe("Delete the instances (never protected ones) of a stack suspended for points this many days; off when absent. @example 30"),
      })
      .strict()
      .default({ signupBonusPoints: 100, resumeRunwayHours: 1 })
      .describe("Points billing: signup bonus, when a suspension is lifted, optional deletion after a grace period."),
    removalPolicy: z
      .enum(["destroy", "retain"])
      .default("destroy")
      .describe("What the engine does when a user stack file is removed: destroy its containers (never protected ones) or retain them. @default destroy"),
  })
  .strict()
  .superRefine((p, ctx) => {
    // Consistency between fields; JSON Schema cannot express these, so only zod checks them.
    // zod runs this even when a format check failed, so each rule first re-checks its inputs.
    if (!CIDR.test(p.network.pool)) return;
    const pool = cidrSpan(p.network.pool);
    if (IPV4.test(p.network.gateway) && !inSpan(ipv4ToInt(p.network.gateway), pool)) {
      ctx.addIssue({ code: "custom", path: ["network", "gateway"], message: `must lie inside the pool ${p.network.pool}` });
    }
    p.network.reserved.forEach((r, i) => {
      if (!IPV4_RANGE.test(r)) return;
      const span = rangeSpan(r);
      if (span.first > span.last) {
        ctx.addIssue({ code: "custom", path: ["network", "reserved", i], message: "must run from the lower address to the higher one" });
      } else if (!inSpan(span.first, pool) || !inSpan(span.last, pool)) {
        ctx.addIssue({ code: "custom", path: ["network", "reserved", i], message: `must lie inside the pool ${p.network.pool}` });
      }
    });
    const seen = new Map<string, number>();
    p.cloudflare.extraIngress.forEach((r, i) => {
      const key = `${r.hostname.toLowerCase()} ${r.path ?? ""}`;
      const first = seen.get(key);
      if (first !== undefined) {
        ctx.addIssue({
          code: "custom",
          path: ["cloudflare", "extraIngress", i, "hostname"],
          message: `repeats extraIngress[${first}] (${r.hostname}${r.path ? ` ${r.path}` : ""}): a later rule for the same hostname and path never matches`,
        });
      } else {
        seen.set(key, i);
      }
    });
    const { from, to } = p.proxmox.vmidRange;
    for (const [name, t] of Object.entries(p.templates)) {
      if ("clone" in t && t.clone.vmid >= from && t.clone.vmid <= to) {
        ctx.addIssue({
          code: "custom",
          path: ["templates", name, "clone", "vmid"],
          message: `must lie outside proxmox.vmidRange (${from}–${to}): the engine allocates container VMIDs from that range`,
        });
      }
    }
  })
  .describe("The platform file: Proxmox, network, VPN, Cloudflare ids and the template and plan catalogs.");

export type PlatformSpec = z.infer<typeof PlatformSpecSchema>;
export type Plan = z.infer<typeof PlanSchema>;
export type TemplateSource = z.infer<typeof TemplateSourceSchema>;
export type ExtraIngressRule = z.infer<typeof ExtraIngressRuleSchema>;
