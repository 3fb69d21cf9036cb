// Process configuration (environment), parsed once at start-up by entry points and passed down.
import { readFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { ProxstackError } from "../lib/errors.js";

const UrlSchema = z.url("must be a URL such as https://pve.example.com:8006");

export const EnvSchema = z.object({
  PROXSTACK_DATA_DIR: z.string().min(1).default("./data").describe("SQLite databases, Pulumi file backend, keys, simulator state. @default ./data"),
  PROXSTACK_STACKS_DIR: z.string().min(1).optional().describe("The stacks git repository the engine watches. @default <data dir>/stacks"),
  PORT: z.coerce.number().int().min(0).max(65535).default(8080).describe("Portal HTTP port (0 picks a free one; serve.json tells which). @default 8080"),
  PROXMOX_VE_ENDPOINT: UrlSchema.optional().describe("Real Proxmox API endpoint; simulation when unset."),
  PROXMOX_VE_API_TOKEN: z
    .string()
    .regex(/^[^@\s]+@[^!\s]+![^=\s]+=\S+$/, "must look like USER@REALM!TOKENID=SECRET")
    .optional()
    .describe("Proxmox API token."),
  PROXMOX_VE_INSECURE: z.enum(["true", "false"]).optional().describe("Accept a self-signed Proxmox certificate without pinning."),
  PROXMOX_VE_FINGERPRINT: z
    .string()
    .regex(/^([0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}$/, "must be a SHA-256 fingerprint AA:BB:…")
    .optional()
    .describe("Pinned SHA-256 fingerprint of the Proxmox certificate."),
  CLOUDFLARE_API_TOKEN: z.string().min(1).optional().describe("Real Cloudflare API token; simulation when unset."),
  CLOUDFLARE_API_URL: UrlSchema.optional().describe("Cloudflare API base URL. @default https://api.cloudflare.com/client/v4"),
  PULUMI_BACKEND_URL: z.string().min(1).optional().describe("Pulumi state backend. @default file://<data dir>/pulumi"),
  PULUMI_CONFIG_PASSPHRASE: z.string().optional().describe("Pulumi secrets passphrase."),
  PULUMI_CONFIG_PASSPHRASE_FILE: z
    .string()
    .optional()
    .describe("File holding the Pulumi secrets passphrase. @default <data dir>/pulumi-passphrase (generated)"),
  VPN_URL: UrlSchema.optional().describe("URL of the VPN service; started in-process where the host allows when unset."),
  VPN_TOKEN: z.string().min(16, "must be at least 16 characters").optional().describe("Bearer token of the VPN service."),
  VPN_TOKEN_FILE: z.string().min(1).optional().describe("File holding the VPN service's bearer token (instead of VPN_TOKEN); read once at start-up."),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info").describe("Log level. @default info"),
  SMTP_URL: z
    .url("must be a URL such as smtp://user:pass@mail.example.com:587")
    .optional()
    .describe("Outgoing mail; when unset each message is written as an .eml file into <data dir>/outbox/."),
  MAIL_FROM: z
    .email("must be an e-mail address such as proxstack@example.com")
    .default("proxstack@localhost")
    .describe("Sender of the portal's mail. @default proxstack@localhost"),
  PORTAL_JWT_SECRET_FILE: z
    .string()
    .min(1)
    .optional()
    .describe("File holding the portal's token signing secret (at least 32 bytes). @default <data dir>/portal-jwt-secret (generated, 0600)"),
  PORTAL_CORS_ORIGINS: z
    .string()
    .regex(/^https?:\/\/[^\s,]+(,https?:\/\/[^\s,]+)*$/, "must be a comma-separated list of origins such as https://app.example.com")
    .optional()
    .describe("Origins allowed to call the portal API from a browser; CORS is off when unset."),
  PORTAL_TRUST_PROXY: z
    .string()
    .regex(
      /^(loopback|linklocal|uniquelocal|\d+|[0-9a-fA-F.:/]+(,[0-9a-fA-F.:/]+)*)$/,
      "must be a hop count, loopback, or a comma-separated list of proxy addresses/CIDRs",
    )
    .optional()
    .describe("Reverse proxies whose X-Forwarded-For the portal believes (express 'trust proxy'); off when unset."),
  GIT_WEBHOOK_SECRET: z
    .string()
    .min(16, "must be at least 16 characters")
    .optional()
    .describe("Shared secret of the stacks repository's push webhook (POST /api/hooks/git, GitHub's X-Hub-Signature-256); the route is off when unset."),
  PROXSTACK_SYNC_INTERVAL_SECONDS: z.coerce
    .number()
    .int()
    .min(5)
    .max(86_400)
    .default(60)
    .describe("How often serve syncs the stacks repository with its remote (when it has one). @default 60"),
  PROXSTACK_REMOVAL_GRACE_SECONDS: z.coerce
    .number()
    .int()
    .min(0)
    .max(30 * 86_400)
    .default(600)
    .describe("A stack whose file is missing is destroyed only after this long (or an explicit proxstack destroy). @default 600"),
  PROXSTACK_REMOVAL_HOLD_ABOVE_STACKS: z.coerce
    .number()
    .int()
    .min(0)
    .default(3)
    .describe("More missing files than this at once hold every removal until confirmed. @default 3"),
  PROXSTACK_REMOVAL_HOLD_ABOVE_PERCENT: z.coerce
    .number()
    .min(0)
    .max(100)
    .default(10)
    .describe("More than this share of known stacks missing at once holds every removal until confirmed. @default 10"),
  PORTAL_RUNWAY_HOURS: z.coerce
    .number()
    .min(0)
    .max(24 * 365)
    .default(24)
    .describe("Creating or resizing needs points for this many hours at the new burn rate (402 otherwise). @default 24"),
});

export type Env = z.infer<typeof EnvSchema>;

/** Configuration after defaults are resolved; what entry points pass down. */
export interface Config {
  dataDir: string;
  stacksDir: string;
  port: number;
  proxmox: { endpoint: string; token: string; insecure: boolean; fingerprint?: string } | undefined;
  cloudflare: { token: string; apiUrl: string } | undefined;
  pulumi: { backendUrl: string; passphrase?: string; passphraseFile: string };
  /** The VPN service to use (VPN_URL with its token). */
  vpn: { url: string; token: string } | undefined;
  /** The VPN service's bearer token (VPN_TOKEN or the contents of VPN_TOKEN_FILE), also without VPN_URL: `proxstack vpn serve` checks it. */
  vpnToken: string | undefined;
  /** CLOUDFLARE_API_URL exactly as set (the Pulumi CLI path passes only an explicit URL to the provider). */
  cloudflareApiUrl: string | undefined;
  /** Whether PROXSTACK_STACKS_DIR is set (`proxstack validate` then defaults to it rather than ./stacks). */
  stacksDirSet: boolean;
  logLevel: Env["LOG_LEVEL"];
  mail: { smtpUrl: string | undefined; from: string; outboxDir: string };
  portal: { jwtSecretFile: string; corsOrigins: string[]; trustProxy: string | undefined; runwayHours: number };
  /** The stacks repository's remote: the push webhook's secret and the sync interval. */
  git: { webhookSecret: string | undefined; syncIntervalMs: number };
  /** Brakes on destroying stacks whose files went missing (engine options). */
  removal: { graceMs: number; holdAboveStacks: number; holdAboveShare: number };
}

export class ConfigError extends ProxstackError {
  override name = "ConfigError";
  constructor(message: string) {
    super("config.invalid", message, { kind: "stall" });
  }
}

/** Parses the environment once; throws ConfigError naming each bad variable. */
export function loadConfig(env: Record<string, string | undefined>, cwd: string): Config {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
    throw new ConfigError(`bad configuration:\n  ${lines.join("\n  ")}`);
  }
  const e = parsed.data;
  if (Boolean(e.PROXMOX_VE_ENDPOINT) !== Boolean(e.PROXMOX_VE_API_TOKEN)) {
    throw new ConfigError("bad configuration: set both PROXMOX_VE_ENDPOINT and PROXMOX_VE_API_TOKEN, or neither (simulation)");
  }
  const vpnToken = vpnTokenOf(e, cwd);
  if (Boolean(e.VPN_URL) && !vpnToken) {
    throw new ConfigError("bad configuration: VPN_URL is set but neither VPN_TOKEN nor VPN_TOKEN_FILE is");
  }
  const dataDir = path.resolve(cwd, e.PROXSTACK_DATA_DIR);
  return {
    dataDir,
    stacksDir: path.resolve(cwd, e.PROXSTACK_STACKS_DIR ?? path.join(dataDir, "stacks")),
    port: e.PORT,
    proxmox:
      e.PROXMOX_VE_ENDPOINT && e.PROXMOX_VE_API_TOKEN
        ? {
            endpoint: e.PROXMOX_VE_ENDPOINT,
            token: e.PROXMOX_VE_API_TOKEN,
            insecure: e.PROXMOX_VE_INSECURE === "true",
            ...(e.PROXMOX_VE_FINGERPRINT ? { fingerprint: e.PROXMOX_VE_FINGERPRINT } : {}),
          }
        : undefined,
    cloudflare: e.CLOUDFLARE_API_TOKEN ? { token: e.CLOUDFLARE_API_TOKEN, apiUrl: e.CLOUDFLARE_API_URL ?? "https://api.cloudflare.com/client/v4" } : undefined,
    pulumi: {
      backendUrl: e.PULUMI_BACKEND_URL ?? `file://${path.join(dataDir, "pulumi")}`,
      ...(e.PULUMI_CONFIG_PASSPHRASE !== undefined ? { passphrase: e.PULUMI_CONFIG_PASSPHRASE } : {}),
      passphraseFile: path.resolve(cwd, e.PULUMI_CONFIG_PASSPHRASE_FILE ?? path.join(dataDir, "pulumi-passphrase")),
    },
    vpn: e.VPN_URL && vpnToken ? { url: e.VPN_URL, token: vpnToken } : undefined,
    vpnToken,
    cloudflareApiUrl: e.CLOUDFLARE_API_URL,
    stacksDirSet: e.PROXSTACK_STACKS_DIR !== undefined,
    logLevel: e.LOG_LEVEL,
    mail: { smtpUrl: e.SMTP_URL, from: e.MAIL_FROM, outboxDir: path.join(dataDir, "outbox") },
    portal: {
      jwtSecretFile: path.resolve(cwd, e.PORTAL_JWT_SECRET_FILE ?? path.join(dataDir, "portal-jwt-secret")),
      corsOrigins: e.PORTAL_CORS_ORIGINS ? e.PORTAL_CORS_ORIGINS.split(",") : [],
      trustProxy: e.PORTAL_TRUST_PROXY,
      runwayHours: e.PORTAL_RUNWAY_HOURS,
    },
    git: { webhookSecret: e.GIT_WEBHOOK_SECRET, syncIntervalMs: e.PROXSTACK_SYNC_INTERVAL_SECONDS * 1000 },
    removal: {
      graceMs: e.PROXSTACK_REMOVAL_GRACE_SECONDS * 1000,
      holdAboveStacks: e.PROXSTACK_REMOVAL_HOLD_ABOVE_STACKS,
      holdAboveShare: e.PROXSTACK_REMOVAL_HOLD_ABOVE_PERCENT / 100,
    },
  };
}

/** VPN_TOKEN, or the first line of VPN_TOKEN_FILE; a token must be at least 16 characters without spaces. */
function vpnTokenOf(e: Env, cwd: string): string | undefined {
  if (e.VPN_TOKEN !== undefined && e.VPN_TOKEN_FILE !== undefined) {
    throw new ConfigError("bad configuration: set VPN_TOKEN or VPN_TOKEN_FILE, not both");
  }
  if (e.VPN_TOKEN_FILE === undefined) return e.VPN_TOKEN;
  const file = path.resolve(cwd, e.VPN_TOKEN_FILE);
  let token: string;
  try {
    token = readFileSync(file, "utf8").trim();
  } catch (err) {
    throw new ConfigError(`bad configuration:\n  VPN_TOKEN_FILE: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  if (token.length < 16 || /\s/.test(token)) {
    throw new ConfigError(`bad configuration:\n  VPN_TOKEN_FILE: ${file} must hold a token of at least 16 characters without spaces`);
  }
  return token;
}
