// Sessions repository: every SQL statement about login sessions (token families) and their rotating refresh tokens.
import type { PortalDb } from "../db.js";

export interface RefreshRecord {
  tokenHash: string;
  accountId: number;
  family: string;
  expiresAt: string;
  rotatedAt: string | undefined;
  revokedAt: string | undefined;
}

export interface SessionsRepo {
  createSession(family: string, accountId: number, now: Date): void;
  /** Whether the session is live (exists and not revoked). */
  isLive(family: string, accountId: number): boolean;
  addRefresh(tokenHash: string, accountId: number, family: string, now: Date, expiresAt: Date): void;
  getRefresh(tokenHash: string): RefreshRecord | undefined;
  /** Marks a refresh token used; false when another request used it first. */
  markRotated(tokenHash: string, now: Date): boolean;
  revokeFamily(family: string, reason: string, now: Date): void;
  /** Revokes every session of the account except `keep`; returns how many. */
  revokeAccount(accountId: number, reason: string, now: Date, keep?: string): number;
  tx<T>(fn: () => T): T;
}

export function createSessionsRepo(db: PortalDb): SessionsRepo {
  const createSession = db.prepare("INSERT INTO sessions (family, account_id, created_at) VALUES (?, ?, ?)");
  const isLive = db.prepare("SELECT 1 FROM sessions WHERE family = ? AND account_id = ? AND revoked_at IS NULL");
  const addRefresh = db.prepare("INSERT INTO refresh_tokens (token_hash, account_id, family, created_at, expires_at) VALUES (?, ?, ?, ?, ?)");
  const getRefresh = db.prepare("SELECT token_hash, account_id, family, expires_at, rotated_at, revoked_at FROM refresh_tokens WHERE token_hash = ?");
  const markRotated = db.prepare("UPDATE refresh_tokens SET rotated_at = ? WHERE token_hash = ? AND rotated_at IS NULL AND revoked_at IS NULL");
  const revokeFamilyTokens = db.prepare("UPDATE refresh_tokens SET revoked_at = ? WHERE family = ? AND revoked_at IS NULL");
  const revokeFamily = db.prepare("UPDATE sessions SET revoked_at = ?, revoke_reason = ? WHERE family = ? AND revoked_at IS NULL");
  const familiesOf = db.prepare("SELECT family FROM sessions WHERE account_id = ? AND revoked_at IS NULL AND family != ?");
  const tx = <T>(fn: () => T): T => db.transaction(fn)();
  const revoke = (family: string, reason: string, now: Date) => {
    revokeFamily.run(now.toISOString(), reason, family);
    revokeFamilyTokens.run(now.toISOString(), family);
  };
  return {
    createSession: (family, accountId, now) => void createSession.run(family, accountId, now.toISOString()),
    isLive: (family, accountId) => isLive.get(family, accountId) !== undefined,
    addRefresh: (h, accountId, family, now, exp) => void addRefresh.run(h, accountId, family, now.toISOString(), exp.toISOString()),
    getRefresh(h) {
      const r = getRefresh.get(h) as
        { token_hash: string; account_id: number; family: string; expires_at: string; rotated_at: string | null; revoked_at: string | null } | undefined;
      return r
        ? {
            tokenHash: r.token_hash,
            accountId: r.account_id,
            family: r.family,
            expiresAt: r.expires_at,
            rotatedAt: r.rotated_at ?? undefined,
            revokedAt: r.revoked_at ?? undefined,
          }
        : undefined;
    },
    markRotated: (h, now) => markRotated.run(now.toISOString(), h).changes === 1,
    revokeFamily: (family, reason, now) => tx(() => revoke(family, reason, now)),
    revokeAccount: (accountId, reason, now, keep = "") =>
      tx(() => {
        const fams = (familiesOf.all(accountId, keep) as { family: string }[]).map((r) => r.family);
        for (const f of fams) revoke(f, reason, now);
        return fams.length;
      }),
    tx,
  };
}
