// A user's stack file (stacks/<user>.yaml): owner, SSH keys, instances and the billing suspension.
import { validate as validateCron } from "node-cron";
import { z } from "zod";
import { ApiVersionSchema, DnsLabelSchema, Ipv4Schema, PortSchema, VmidSchema } from "./common.js";

/** Linux user names: lower-case start, then lower-case letters, digits, '_' or '-'; at most 32. */
export const LINUX_USERNAME = /^[a-z_][a-z0-9_-]{0,31}$/;

/** Names a user may never take: system accounts present on Debian templates. */
export const RESERVED_USERNAMES: ReadonlySet<string> = new Set([
  "root",
  "daemon",
  "bin",
  "sys",
  "sync",
  "games",
  "man",
  "lp",
  "mail",
  "news",
  "uucp",
  "proxy",
  "www-data",
  "backup",
  "list",
  "irc",
  "gnats",
  "nobody",
  "systemd-network",
  "systemd-resolve",
  "systemd-timesync",
  "messagebus",
  "sshd",
  "_apt",
  "admin",
  "sudo",
  "operator",
  "postfix",
  "ntp",
]);

/** Key types the SSH hardening hook accepts (OpenSSH's current defaults; no DSA, no security keys). */
export const SSH_KEY_TYPES = ["ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "ssh-rsa"] as const;

/** The shape of an authorized_keys line without options; stackfiles/ also decodes the key itself. */
/**
 * Characters a key comment may hold: enough for `alice@laptop (work)`, nothing a shell or sshd treats
 * specially. The SSH hardening hook refuses the same set, so a file that validates also hardens.
 */
export const SSH_KEY_COMMENT_CHARS = "A-Za-z0-9@._+=:,/() -";

export const SSH_PUBLIC_KEY_LINE = new RegExp(`^(${SSH_KEY_TYPES.join("|")}) [A-Za-z0-9+/]+={0,3}( [${SSH_KEY_COMMENT_CHARS}]*)?$`);

// A negative lookahead rather than a refine, so the JSON Schema for editors refuses these too
// (names hold only a-z, 0-9, '_' and '-', none special outside a character class).
const RESERVED_USERNAME_GUARD = new RegExp(`^(?!(${[...RESERVED_USERNAMES].join("|")})$)`);

export const SshPublicKeySchema = z
  .string()
  .max(16_384, "is too long for an SSH public key")
  .regex(
    SSH_PUBLIC_KEY_LINE,
    `must be one OpenSSH public key line: the type (${SSH_KEY_TYPES.join(", ")}), a space, the base64 key and an optional comment (letters, digits, spaces and @ . _ + = : , / ( ) - only), as in a .pub file`,
  )
  .describe("An OpenSSH public key line: type, base64 body, optional comment. @example ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA… alice@laptop");

export const DomainSchema = z
  .object({
    subdomain: DnsLabelSchema.describe("First part of the hostname <user>-<instance>-<subdomain>.<baseDomain>. @example www"),
    port: PortSchema.describe("Port inside the container the tunnel forwards HTTP to. @example 80"),
  })
  .strict()
  .describe("A public HTTPS hostname <user>-<instance>-<subdomain>.<baseDomain> routed to a port of the instance. @example { subdomain: www, port: 80 }");

const FIVE_FIELDS = /^(\S+\s+){4}\S+$/;

/**
 * A five-field cron expression whose every field node-cron — the scheduler that runs it (billing/cron-slot.ts) —
 * accepts, so `99 99 * * *` is refused where it is written instead of failing at its first slot.
 */
function cronSchedule(example: string) {
  return z
    .string()
    .regex(FIVE_FIELDS, `must be a five-field cron expression such as '${example}'`)
    .refine(
      (s) => !FIVE_FIELDS.test(s) || validateCron(s),
      `must be a cron expression with minute 0-59, hour 0-23, day of month 1-31, month 1-12 or jan-dec and day of week 0-7 or sun-sat, such as '${example}'`,
    );
}

export const SnapshotPolicySchema = z
  .object({
    schedule: cronSchedule("0 3 * * *").describe("When to take a snapshot, as a five-field cron expression (UTC). @example 0 3 * * *"),
    keep: z.number().int().min(1).max(30).default(7).describe("How many scheduled snapshots to keep; older ones are deleted. @default 7"),
  })
  .strict()
  .describe('Scheduled snapshots of an instance. @example { schedule: "0 3 * * *", keep: 7 }');

export const BackupPolicySchema = z
  .object({
    schedule: cronSchedule("0 4 * * 0").describe("When to take a backup (vzdump), as a five-field cron expression (UTC). @example 0 4 * * 0"),
    keep: z.number().int().min(1).max(30).default(3).describe("How many scheduled backups to keep; older ones are deleted. @default 3"),
  })
  .strict()
  .describe('Scheduled backups (vzdump archives) of an instance. @example { schedule: "0 4 * * 0", keep: 3 }');

export const InstanceSchema = z
  .object({
    name: DnsLabelSchema.describe("Instance name, unique within the stack; part of the hostname <user>-<instance>. @example web"),
    template: DnsLabelSchema.describe("Template from the platform's catalog. @example debian-12"),
    plan: DnsLabelSchema.describe("Plan from the platform's catalog. @example small"),
    power: z.enum(["running", "stopped"]).default("running").describe("Whether the container should run. @default running"),
    vmid: VmidSchema.optional().describe(
      "Proxmox VMID. Allocated by the engine when absent and written back; never change it by hand (that replaces the container). @example 2001",
    ),
    ip: Ipv4Schema.optional().describe("Static IPv4 address from the platform pool. Allocated by the engine when absent and written back. @example 10.10.0.21"),
    domains: z.array(DomainSchema).default([]).describe("Public HTTPS hostnames routed to this instance through the Cloudflare tunnel. @default []"),
    snapshots: SnapshotPolicySchema.optional().describe("Scheduled snapshots and their retention; none when absent."),
    backups: BackupPolicySchema.optional().describe("Scheduled backups (vzdump) and their retention; none when absent."),
    protect: z
      .boolean()
      .default(false)
      .describe("Protect against deletion: Proxmox protection and Pulumi protect; the engine never destroys it. @default false"),
    rateLimitMBps: z
      .number()
      .positive()
      .max(10_000)
      .optional()
      .describe("Network rate limit of net0 in MB/s (Proxmox 'rate'); unlimited when absent. @example 12.5"),
  })
  .strict()
  .describe("One LXC container: its template, plan, power, allocations, domains, snapshots and protection.");

export const SuspensionSchema = z
  .object({
    reason: z.enum(["points-exhausted", "admin"]).describe("Why the user's containers are stopped. @example points-exhausted"),
    since: z.iso.datetime({ offset: true }).describe("When the suspension began (ISO 8601). @example 2026-11-25T10:00:00Z"),
    note: z.string().max(500).optional().describe("Free text shown to the user."),
  })
  .strict()
  .describe("Set by the billing job or an administrator: while present, every instance is stopped whatever its power says.");

export const UserStackSpecSchema = z
  .object({
    apiVersion: ApiVersionSchema,
    kind: z.literal("UserStack").describe("Always UserStack for stacks/<user>.yaml."),
    name: DnsLabelSchema.describe("Stack name; must equal the file name without .yaml. @example alice"),
    owner: z
      .object({
        email: z.email("must be an e-mail address such as alice@example.com").describe("Portal account that owns this stack. @example alice@example.com"),
      })
      .strict()
      .describe("Who owns the stack."),
    linuxUser: z
      .string()
      .regex(LINUX_USERNAME, "must be a Linux user name: start with a-z or '_', then a-z, 0-9, '_' or '-', at most 32 characters")
      .regex(RESERVED_USERNAME_GUARD, "is a reserved system account (root, daemon, www-data, …); choose another name")
      .describe("Login created in every container of this stack. @example alice"),
    sshKeys: z.array(SshPublicKeySchema).min(1, "must list at least one SSH public key").describe("Keys allowed to log in as linuxUser."),
    instances: z.array(InstanceSchema).default([]).describe("Containers of this user. @default []"),
    suspension: SuspensionSchema.optional(),
  })
  .strict()
  .describe("A user's stack: owner, SSH keys and containers.");

export type UserStackSpec = z.infer<typeof UserStackSpecSchema>;
export type Instance = z.infer<typeof InstanceSchema>;
export type Domain = z.infer<typeof DomainSchema>;
export type SnapshotPolicy = z.infer<typeof SnapshotPolicySchema>;
export type BackupPolicy = z.infer<typeof BackupPolicySchema>;
