// Password hashing with scrypt (node:crypto): salted, parameters stored with the hash, compared in constant time.
import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from "node:crypto";

const scrypt = (pw: string, salt: Buffer, len: number, opts: ScryptOptions) =>
  new Promise<Buffer>((resolve, reject) => scryptCb(pw, salt, len, opts, (err, key) => (err ? reject(err) : resolve(key))));

/** N=2^15, r=8, p=1: ~32 MiB and tens of milliseconds per hash (OWASP's scrypt minimum is N=2^17 at r=8 p=1 for 128 MiB; see README). */
export const SCRYPT_PARAMS = { N: 1 << 15, r: 8, p: 1 } as const;

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(password: string, stored: string): Promise<boolean>;
}

/** `scrypt$N$r$p$salt$key` (base64url). `params` lower for tests only. */
export function createPasswordHasher(params: { N: number; r: number; p: number } = SCRYPT_PARAMS): PasswordHasher {
  const opts = (N: number, r: number, p: number): ScryptOptions => ({ N, r, p, maxmem: 256 * N * r + 1024 * 1024 });
  return {
    async hash(password) {
      const salt = randomBytes(16);
      const key = await scrypt(password.normalize("NFC"), salt, 32, opts(params.N, params.r, params.p));
      return ["scrypt", params.N, params.r, params.p, salt.toString("base64url"), key.toString("base64url")].join("$");
    },
    async verify(password, stored) {
      const [kind, n, r, p, salt, key] = stored.split("$");
      if (kind !== "scrypt" || !n || !r || !p || !salt || !key) return false;
      const expected = Buffer.from(key, "base64url");
      const got = await scrypt(password.normalize("NFC"), Buffer.from(salt, "base64url"), expected.length, opts(Number(n), Number(r), Number(p)));
      return got.length === expected.length && timingSafeEqual(got, expected);
    },
  };
}
