// How an account is shown to its owner and to administrators (never the hash, never codes).
import type { z } from "zod";
import type { UserOut } from "./api-schemas.js";
import type { Account } from "./repos/accounts.js";

export function userOut(a: Account): z.infer<typeof UserOut> {
  return { id: a.id, email: a.email, name: a.name, role: a.role, verified: a.verifiedAt !== undefined, stack: a.stack ?? null, createdAt: a.createdAt };
}
