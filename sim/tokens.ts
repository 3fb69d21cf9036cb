// Generated credentials for the simulators: a PVE API token (USER@REALM!TOKENID=SECRET) and a Cloudflare bearer token.
import { randomBytes, randomUUID } from "node:crypto";

/** A fresh PVE-style API token, e.g. `proxstack@pve!sim=2f1c…` (secret is a UUID, as PVE shows once). */
export function generatePveToken(): string {
  return `proxstack@pve!sim=${randomUUID()}`;
}

/** A fresh Cloudflare-style API token (40 url-safe characters). */
export function generateCloudflareToken(): string {
  return randomBytes(30).toString("base64url");
}
