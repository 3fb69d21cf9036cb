// Creating an administrator from the command line: a verified account with role admin (an existing account is promoted).
import { existsSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { z } from "zod";
import type { Clock } from "../lib/clock.js";
import { ProxstackError } from "../lib/errors.js";
import type { PortalDb } from "./db.js";
import type { PasswordHasher } from "./passwords.js";
import { createAccountsRepo } from "./repos/accounts.js";
import { sanitiseStackName, uniqueStackName } from "./stack-names.js";

export interface CreatedAdministrator {
  id: number;
  email: string;
  stack: string;
  /** True when the account existed and was promoted. */
  promoted: boolean;
  /** Set when the password was generated (shown once). */
  generatedPassword?: string;
}

const EmailSchema = z.string().trim().toLowerCase().pipe(z.email());

/**
 * Creates (or promotes) an administrator. `password` undefined: a new account gets a generated one
 * (returned once), an existing account keeps its own. Passwords shorter than 10 characters are refused.
 */
export async function createAdministrator(
  db: PortalDb,
  deps: { hasher: PasswordHasher; clock: Clock; stacksDir: string },
  input: { email: string; password?: string },
): Promise<CreatedAdministrator> {
  const parsed = EmailSchema.safeParse(input.email);
  if (!parsed.success) throw new ProxstackError("invalid-email", `--email: ${JSON.stringify(input.email)} is not an e-mail address`, { kind: "stall" });
  const email = parsed.data;
  if (input.password !== undefined && input.password.length < 10) {
    throw new ProxstackError("weak-password", "the password must be at least 10 characters", { kind: "stall" });
  }
  const accounts = createAccountsRepo(db);
  const now = deps.clock.now();
  const existing = accounts.byEmail(email);
  if (existing) {
    const stack = existing.stack ?? freeStack(accounts.stacksTaken(), deps.stacksDir, email);
    accounts.tx(() => {
      accounts.setRole(existing.id, "admin", now);
      if (!existing.verifiedAt || !existing.stack) accounts.verify(existing.id, stack, now);
    });
    if (input.password !== undefined) accounts.setPassword(existing.id, await deps.hasher.hash(input.password), now);
    return { id: existing.id, email, stack, promoted: true };
  }
  const generated = input.password === undefined ? randomBytes(18).toString("base64url") : undefined;
  const hash = await deps.hasher.hash(input.password ?? generated ?? "");
  const stack = freeStack(accounts.stacksTaken(), deps.stacksDir, email);
  const a = accounts.tx(() => {
    const created = accounts.create({ email, name: email.split("@")[0] ?? "admin", passwordHash: hash, role: "admin", verified: true }, now);
    accounts.verify(created.id, stack, now);
    return created;
  });
  return { id: a.id, email, stack, promoted: false, ...(generated ? { generatedPassword: generated } : {}) };
}

function freeStack(taken: Set<string>, stacksDir: string, email: string): string {
  return uniqueStackName(sanitiseStackName(email.split("@")[0] ?? ""), (n) => taken.has(n) || existsSync(join(stacksDir, `${n}.yaml`)));
}
