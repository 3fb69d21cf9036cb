// The desired-state hash: a digest of a stack's normalised spec plus the program version, so unchanged stacks are not run.
import { createHash } from "node:crypto";
import type { PlatformSpec, UserStackSpec } from "../schemas/index.js";

/**
 * Version of what the programs do with a spec. Bump it when programs/ changes in a way that must
 * re-apply every stack (a new resource, a changed default); every stack's hash changes with it.
 */
export const PROGRAM_VERSION = "1";

/** JSON with object keys sorted at every depth and `undefined` dropped: equal specs, equal text. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v === undefined ? null : v)).join(",")}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
}

function digest(parts: unknown): string {
  return createHash("sha256").update(canonicalJson(parts)).digest("hex");
}

/** One public route of the tunnel: what the platform stack needs from a user stack. */
export interface Route {
  user: string;
  instance: string;
  subdomain: string;
  port: number;
  ip: string | undefined;
}

/** The routes a user stack contributes to the platform stack, in a stable order. */
export function routesOf(spec: UserStackSpec): Route[] {
  const routes: Route[] = [];
  for (const i of spec.instances) {
    for (const d of i.domains) routes.push({ user: spec.name, instance: i.name, subdomain: d.subdomain, port: d.port, ip: i.ip });
  }
  return routes.sort((a, b) => canonicalJson(a).localeCompare(canonicalJson(b)));
}

/**
 * Hash of what a user stack run applies: the user's spec and the platform settings it reads
 * (plans, templates, network), with the program version. Comments and key order do not count.
 */
export function userStackHash(spec: UserStackSpec, platform: PlatformSpec): string {
  return digest({ v: PROGRAM_VERSION, kind: "user", spec, platform });
}

/** Hash of the platform stack: the platform spec and the routes of every user (in user order). */
export function platformStackHash(platform: PlatformSpec, users: readonly UserStackSpec[]): string {
  const routes = [...users].sort((a, b) => (a.name < b.name ? -1 : 1)).map((u) => [u.name, routesOf(u)]);
  return digest({ v: PROGRAM_VERSION, kind: "platform", platform, routes });
}
