// Access tokens: short-lived JWTs signed with HS256 through jose, algorithm, issuer and audience pinned on verify.
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

/** @param secret at least 32 bytes. @param accessTtlSeconds @default 900 */
export function createTokenService(secret: Uint8Array, clock: Clock, accessTtlSeconds = 900): TokenService {
  if (secret.length < 32) throw new ProxstackError("jwt-secret-short", "the portal's token secret must be at least 32 bytes", { kind: "stall" });
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
        .sign(secret);
    },
    async verify(token) {
      try {
        const { payload } = await jwtVerify(token, secret, {
          algorithms: [ALG],
          issuer: ISSUER,
          audience: AUDIENCE,
          currentDate: clock.now(),
          requiredClaims: ["exp", "sub", "sid"],
        });
        const id = Number(payload.sub);
        if (!Number.isSafeInteger(id) || id <= 0 || typeof payload.sid !== "string") throw unauthorized("malformed");
        return { accountId: id, session: payload.sid };
      } catch (err) {
        if (err instanceof ProxstackError) throw err;
        if (err instanceof joseErrors.JWTExpired) throw unauthorized("expired", err);
        throw unauthorized("invalid", err);
      }
    },
  };
}
