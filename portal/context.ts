// Everything a portal route reaches, passed in once by createApp: repositories, services and options.
import type { Clock } from "../lib/clock.js";
import type { Logger } from "../lib/logger.js";
import type { ProxmoxClient } from "../clients/proxmox/client.js";
import type { SpecStore } from "../stackfiles/spec-store.js";
import type { VpnClient } from "../vpn/client.js";
import type { EngineView } from "./engine-view.js";
import type { MailTransport } from "./mail.js";
import type { PasswordHasher } from "./passwords.js";
import type { PointsLedger } from "./points-ledger.js";
import type { RateLimiter } from "./rate-limit.js";
import type { AccountsRepo } from "./repos/accounts.js";
import type { AuditRepo } from "./repos/audit.js";
import type { SessionsRepo } from "./repos/sessions.js";
import type { TerminalSessions } from "./terminal-session.js";
import type { TokenService } from "./tokens.js";

/** The Proxmox operations the portal performs itself (runtime actions; desired state always goes through the spec store). */
export type PortalProxmox = Pick<
  ProxmoxClient,
  | "containerStatus"
  | "rrddata"
  | "listSnapshots"
  | "createSnapshot"
  | "deleteSnapshot"
  | "rollbackSnapshot"
  | "backup"
  | "listBackups"
  | "deleteVolume"
  | "rebootContainer"
  | "nodes"
>;

/** Where the admin's git interface reads and writes: `config.stacksDir` and `config.dataDir`. */
export interface StackRepoPaths {
  stacksDir: string;
  dataDir: string;
}

export interface PortalOptions {
  /** Origins allowed by CORS; none: CORS off. @default [] */
  corsOrigins: string[];
  /** express `trust proxy`; undefined: off (X-Forwarded-For ignored). */
  trustProxy: string | undefined;
  /** @default 100 */
  signupBonusPoints: number;
  /** Points for this many hours at the new burn rate are needed to create or resize. @default 24 */
  runwayHours: number;
  /** @default 900 */
  accessTtlSeconds: number;
  /** @default 30 days */
  refreshTtlSeconds: number;
  /** Failed logins per account per window. @default 10 */
  loginFailuresPerAccount: number;
  /** Auth requests per IP per window. @default 100 */
  authRequestsPerIp: number;
  /** @default 15 minutes */
  rateWindowMs: number;
  /** Wrong codes before a verification code is void. @default 5 */
  verifyAttempts: number;
  /** @default 30 minutes */
  verifyCodeTtlMs: number;
  /** @default 30000 */
  terminalTicketTtlMs: number;
  /** @default 900000 (15 minutes) */
  terminalIdleMs: number;
  /** @default 3 */
  terminalSessionsPerUser: number;
  /** Snapshots one instance may hold (taken through the portal or by schedule). @default 10 */
  maxSnapshots: number;
  /** SSE heartbeat. @default 15000 */
  heartbeatMs: number;
}

export const DEFAULT_PORTAL_OPTIONS: PortalOptions = {
  corsOrigins: [],
  trustProxy: undefined,
  signupBonusPoints: 100,
  runwayHours: 24,
  accessTtlSeconds: 900,
  refreshTtlSeconds: 30 * 86_400,
  loginFailuresPerAccount: 10,
  authRequestsPerIp: 100,
  rateWindowMs: 15 * 60_000,
  verifyAttempts: 5,
  verifyCodeTtlMs: 30 * 60_000,
  terminalTicketTtlMs: 30_000,
  terminalIdleMs: 15 * 60_000,
  terminalSessionsPerUser: 3,
  maxSnapshots: 10,
  heartbeatMs: 15_000,
};

export interface PortalContext {
  clock: Clock;
  log: Logger;
  options: PortalOptions;
  accounts: AccountsRepo;
  sessions: SessionsRepo;
  audit: AuditRepo;
  hasher: PasswordHasher;
  tokens: TokenService;
  mail: MailTransport;
  ledger: PointsLedger;
  specs: SpecStore;
  engine: EngineView;
  pve: PortalProxmox | undefined;
  /** The stacks git repository and the data dir (sync.json) for the admin's sync status and rollback; undefined: those routes answer 503. */
  stackRepo: StackRepoPaths | undefined;
  vpn: VpnClient | undefined;
  terminal: TerminalSessions | undefined;
  limits: { loginPerAccount: RateLimiter; authPerIp: RateLimiter };
}
