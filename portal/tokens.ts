// Access tokens: short-lived JWTs signed with HS256 through jose, algorithm, issuer and audience pinned on verify.
// A token jose has verified is remembered by its exact text until it expires, so a client reusing its token (every
// request for up to 15 minutes) skips the HMAC: the same bytes under the same secret verify the same way, and the
// expiry is still checked on every request.
import { webcrypto } from "node:crypto";
import { errors as joseErrors, jwtVerify, SignJWT } from "jose";
import type { Clock } from "../lib/clock.js";
import { ProxstackError } from "../lib/errors.js";

const ISSUER = "proxstack";
const AUDIENCE = "proxstack-portal";
const ALG = "HS256";

export interface AccessClaims {
  /** Account id. */
  accountId: number;
  /** Session (refresh-token family) the token belongs to: logging out or a reuse ends it at once. */
  session: string;
}

export interface TokenService {
  sign(claims: AccessClaims): Promise<string>;
  /** Throws 401 `invalid-token` for anything but a well-formed, unexpired HS256 token we signed. */
  verify(token: string): Promise<AccessClaims>;
  readonly accessTtlSeconds: number;
}

/** Verified tokens remembered at most (oldest forgotten first). */
export const VERIFIED_TOKENS_KEPT = 10_000;

/** @param secret at least 32 bytes. @param accessTtlSeconds @default 900 */
export function createTokenService(secret: Uint8Array, clock: Clock, accessTtlSeconds = 900): TokenService {
  if (secret.length < 32) throw new ProxstackError("jwt-secret-short", "the portal's token secret must be at least 32 bytes", { kind: "stall" });
  // Imported once: jose would import a raw secret again on every call.
  let key: Promise<webcrypto.CryptoKey> | undefined;
  const keyOf = () => (key ??= webcrypto.subtle.importKey("raw", secret, { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]));
  /** Token text → its claims and `exp` (seconds), for tokens jose verified. */
  const verified = new Map<string, { claims: AccessClaims; exp: number }>();
  const unauthorized = (why: string, cause?: unknown) =>
    new ProxstackError("invalid-token", `the access token is ${why}; log in again or refresh it`, { kind: "stall", status: 401, cause });
  return {
    accessTtlSeconds,
    async sign(c) {
      const now = Math.floor(clock.now().getTime() / 1000);
      return new SignJWT({ sid: c.session })
        .setProtectedHeader({ alg: ALG, typ: "JWT" })
        .setSubject(String(c.accountId))
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setIssuedAt(now)
        .setExpirationTime(now + accessTtlSeconds)
        .sign(await keyOf());
    },
    async verify(token) {
      const hit = verified.get(token);
      // jose's rule: expired once `exp` <= now in whole seconds; an expired token falls through so jose answers it.
      if (hit && hit.exp > Math.floor(clock.now().getTime() / 1000)) return hit.claims;
      if (hit) verified.delete(token);
      try {
        const { payload } = await jwtVerify(token, await keyOf(), {
          algorithms: [ALG],
          issuer: ISSUER,
          audience: AUDIENCE,
          currentDate: clock.now(),
          requiredClaims: ["exp", "sub", "sid"],
        });
        const id = Number(payload.sub);
        if (!Number.isSafeInteger(id) || id <= 0 || typeof payload.sid !== "string" || typeof payload.exp !== "number") throw unauthorized("malformed");
        const claims = { accountId: id, session: payload.sid };
        if (verified.size >= VERIFIED_TOKENS_KEPT) verified.delete(verified.keys().next().value ?? "");
        verified.set(token, { claims, exp: payload.exp });
        return claims;
      } catch (err) {
        if (err instanceof ProxstackError) throw err;
        if (err instanceof joseErrors.JWTExpired) throw unauthorized("expired", err);
        throw unauthorized("invalid", err);
      }
    },
  };
}
