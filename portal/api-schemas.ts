// The portal API's request and response bodies as zod schemas: they validate input and generate /api/openapi.json.
import { z } from "zod";
import { DNS_LABEL, PortSchema } from "../schemas/common.js";
import { SshPublicKeySchema } from "../schemas/user-stack.js";

const Email = z
  .string()
  .max(254)
  .transform((s) => s.trim().toLowerCase())
  .pipe(z.email("must be an e-mail address such as alice@example.com"))
  .describe("E-mail address (compared case-insensitively). @example alice@example.com");

const Password = z
  .string()
  .min(10, "must be at least 10 characters")
  .max(256, "must be at most 256 characters")
  .describe("At least 10 characters; a passphrase is best.");

/** Display names: printable text, no control or bidirectional-override characters. */
const DisplayName = z
  .string()
  .trim()
  .min(1, "must not be empty")
  .max(60, "must be at most 60 characters")
  .refine(
    (s) => !/[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2066-\u2069<>]/.test(s),
    "must not contain control, invisible or angle-bracket characters",
  )
  .describe("Display name. @example Alice Martin");

export const RegisterBody = z.object({ email: Email, password: Password, name: DisplayName.optional() }).strict();
export const VerifyEmailBody = z.object({ email: Email, code: z.string().regex(/^\d{6}$/, "must be the 6-digit code from the e-mail") }).strict();
export const ResendBody = z.object({ email: Email }).strict();
export const LoginBody = z.object({ email: Email, password: z.string().min(1).max(256) }).strict();
export const RefreshBody = z.object({ refreshToken: z.string().min(1).max(200) }).strict();
export const LogoutBody = z.object({ refreshToken: z.string().min(1).max(200).optional() }).strict();
export const PasswordBody = z.object({ currentPassword: z.string().min(1).max(256), newPassword: Password }).strict();

export const UserOut = z.object({
  id: z.number().int(),
  email: z.string(),
  name: z.string(),
  role: z.enum(["user", "admin"]),
  verified: z.boolean(),
  stack: z.string().nullable().describe("The stack file this account owns (stacks/<stack>.yaml), once verified."),
  createdAt: z.string(),
});
export const TokensOut = z.object({ accessToken: z.string(), refreshToken: z.string(), expiresIn: z.number().int(), user: UserOut });

/** Names users give instances: one DNS label, nothing a path or a shell could read otherwise. */
const InstanceName = z
  .string()
  .max(30, "must be at most 30 characters")
  .regex(DNS_LABEL, "must be lower-case letters, digits and '-', starting and ending with a letter or digit")
  .describe("Instance name, unique in your stack. @example web");
const CatalogName = z.string().max(63).regex(DNS_LABEL, "must be a catalog name (lower-case letters, digits and '-')");

export const CreateInstanceBody = z
  .object({
    name: InstanceName,
    template: CatalogName.describe("A template from GET /api/templates. @example debian-12"),
    plan: CatalogName.describe("A plan from GET /api/plans. @example small"),
    sshKeys: z
      .array(SshPublicKeySchema)
      .min(1)
      .max(20)
      .optional()
      .describe("Needed only for your first instance: the public keys allowed to log in (they go into your new stack file)."),
  })
  .strict();
export const ResizeBody = z.object({ plan: CatalogName }).strict();
export const PageQuery = z
  .object({
    page: z.coerce.number().int().min(1).max(1_000_000).default(1),
    limit: z.coerce.number().int().min(1).max(100, "must be at most 100").default(20),
  })
  .strict();

export const InstanceOut = z.object({
  id: z.string().describe("<stack>.<instance> @example alice.web"),
  stack: z.string(),
  name: z.string(),
  template: z.string(),
  plan: z.string(),
  power: z.enum(["running", "stopped"]).describe("Desired power, as the stack file says."),
  state: z.enum(["provisioning", "running", "stopped", "error"]).describe("What the engine last observed."),
  reason: z.string().nullable().describe("Plain words when state is error or the stack is not settled."),
  vmid: z.number().int().nullable(),
  ip: z.string().nullable(),
  hostnames: z.array(z.string()),
  protected: z.boolean(),
  pointsPerDay: z.number(),
});
export const InstanceListOut = z.object({ items: z.array(InstanceOut), page: z.number().int(), limit: z.number().int(), total: z.number().int() });

export const DomainBody = z
  .object({
    subdomain: z.string().max(40).regex(DNS_LABEL, "must be lower-case letters, digits and '-' (one DNS label)").describe("@example www"),
    port: PortSchema,
  })
  .strict();
export const DomainOut = z.object({ subdomain: z.string(), port: z.number().int(), hostname: z.string(), pointsPerDay: z.number() });

/** Proxmox's rule for snapshot names (format pve-configid, at most 40 characters; 'current' and 'vzdump' are its own). */
const SnapshotName = z
  .string()
  .regex(/^[a-zA-Z][a-zA-Z0-9_]{1,39}$/, "must start with a letter, then 1–39 letters, digits or '_' (Proxmox allows no '-' or '.')")
  .refine((n) => n !== "current" && n !== "vzdump", "'current' and 'vzdump' are reserved by Proxmox")
  .describe("@example before_upgrade");
export const SnapshotBody = z.object({ name: SnapshotName, description: z.string().max(200).optional() }).strict();
export const SnapshotOut = z.object({ name: z.string(), description: z.string(), createdAt: z.string().nullable() });
export const BackupOut = z.object({ volid: z.string(), createdAt: z.string() });

export const TimeframeQuery = z.object({ timeframe: z.enum(["hour", "day", "week"]).default("hour") }).strict();
export const StatsOut = z.object({
  state: z.string(),
  cpu: z.number().describe("CPU use, 0–1 of the cores."),
  cores: z.number(),
  memory: z.object({ used: z.number(), total: z.number() }),
  disk: z.object({ used: z.number(), total: z.number() }),
  network: z.object({ in: z.number(), out: z.number() }),
  uptime: z.number(),
});

export const VpnKeyBody = z.object({ publicKey: z.string().max(60) }).strict();
export const VpnConfigBody = z.object({ format: z.enum(["png", "svg"]).default("svg") }).strict();

export const PointsOut = z.object({
  balance: z.number(),
  balanceMicro: z.number().int(),
  burnPerDay: z.number(),
  runwaySeconds: z.number().nullable(),
});
export const LedgerOut = z.object({
  items: z.array(
    z.object({
      id: z.number(),
      amount: z.number(),
      amountMicro: z.number(),
      reason: z.string(),
      note: z.string().nullable(),
      balance: z.number(),
      at: z.string(),
    }),
  ),
  page: z.number(),
  limit: z.number(),
  total: z.number(),
});

export const AdminUsersQuery = PageQuery.extend({ search: z.string().max(100).default("") }).strict();
export const BanBody = z
  .object({
    banned: z.boolean(),
    reason: z.string().trim().min(1).max(500).optional(),
    expiresAt: z.iso.datetime({ offset: true }).optional().describe("When the ban ends; permanent when absent."),
  })
  .strict()
  .refine((b) => !b.banned || b.reason !== undefined, { message: "a ban needs a reason", path: ["reason"] });
export const RoleBody = z.object({ role: z.enum(["user", "admin"]) }).strict();
export const GrantBody = z
  .object({
    amount: z
      .number()
      .refine((n) => Number.isFinite(n) && n !== 0 && Math.abs(n) <= 1_000_000, "must be a non-zero number of points up to 1,000,000")
      .refine((n) => Number.isInteger(n * 1_000_000) || Math.abs(n * 1e6 - Math.round(n * 1e6)) < 1e-6, "has more than 6 decimals"),
    reason: z.string().trim().min(1).max(500),
  })
  .strict();

export const TerminalTicketOut = z.object({ ticket: z.string(), expiresAt: z.string(), url: z.string() });
