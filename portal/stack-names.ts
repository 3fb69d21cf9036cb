// Names of new users' stacks: a sanitised, unique DNS label from their name, and a Linux user name from it.
import { LINUX_USERNAME, RESERVED_USERNAMES } from "../schemas/user-stack.js";

/** Longest stack name: keeps <stack>-<instance>-<subdomain> within one DNS label for ordinary names. */
export const MAX_STACK_NAME = 20;

/** `Zoë O'Brien` → `zoe-obrien`; empty when nothing usable is left. */
export function sanitiseStackName(raw: string): string {
  const ascii = raw
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase();
  let s = ascii
    .replace(/['’]/g, "")
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "");
  if (/^[0-9]/.test(s)) s = `u-${s}`;
  return s.slice(0, MAX_STACK_NAME).replace(/-+$/g, "");
}

/** The first of `base`, `base-2`, `base-3`… not in `taken` and never `platform`. */
export function uniqueStackName(base: string, taken: (name: string) => boolean): string {
  const root = base.length > 0 ? base : "user";
  for (let n = 1; ; n++) {
    const suffix = n === 1 ? "" : `-${n}`;
    const name = root.slice(0, MAX_STACK_NAME - suffix.length).replace(/-+$/g, "") + suffix;
    if (name !== "platform" && !taken(name)) return name;
  }
}

/** A Linux login for the stack: the stack name when it is one and not reserved, else prefixed. */
export function linuxUserFor(stack: string): string {
  const candidate = stack.slice(0, 32);
  if (LINUX_USERNAME.test(candidate) && !RESERVED_USERNAMES.has(candidate)) return candidate;
  return `u-${stack}`.slice(0, 32).replace(/-+$/g, "");
}
