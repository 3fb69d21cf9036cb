// The stacks repository's OWNERS file (CODEOWNERS-style globs → e-mails) and who may change which stack file.
import type { PositionedError } from "../stackfiles/positioned-error.js";

/** The file's name inside the stacks directory. */
export const OWNERS_FILE = "OWNERS";

export interface OwnersRule {
  pattern: string;
  emails: string[];
  /** 1-based line in OWNERS. */
  line: number;
  match: (file: string) => boolean;
}

export interface OwnersFile {
  rules: OwnersRule[];
  errors: PositionedError[];
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/**
 * Parses OWNERS: one rule per line, `<glob> <email> [<email>…]`, `#` starts a comment. As in GitHub's
 * CODEOWNERS, the last rule that matches a file decides its owners, paths are relative to the stacks
 * directory, `*` matches within one path segment, `**` across segments, a leading `/` anchors the
 * pattern and a pattern without a slash matches a file name at any depth.
 * @example parseOwners("*  ops@example.com\nalice.yaml  alice@example.com ops@example.com\n", "stacks/OWNERS")
 */
export function parseOwners(text: string, displayPath: string): OwnersFile {
  const rules: OwnersRule[] = [];
  const errors: PositionedError[] = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.replace(/(^|\s)#.*$/, "").trim();
    if (line === "") return;
    const [pattern = "", ...emails] = line.split(/\s+/);
    const bad = emails.find((e) => !EMAIL.test(e));
    if (emails.length === 0 || bad !== undefined) {
      const col = bad === undefined ? raw.indexOf(pattern) + 1 : raw.indexOf(bad) + 1;
      errors.push({
        path: displayPath,
        line: i + 1,
        col,
        code: "owners.rule",
        message:
          bad === undefined
            ? `rule ${JSON.stringify(pattern)} names no owner; write '<glob> <email> [<email>…]'`
            : `${JSON.stringify(bad)} is not an e-mail address; OWNERS lists owners by e-mail`,
      });
      return;
    }
    rules.push({ pattern, emails: emails.map((e) => e.toLowerCase()), line: i + 1, match: globMatcher(pattern) });
  });
  return { rules, errors };
}

/** Owners of a file (path relative to the stacks directory): those of the last matching rule, or none. */
export function ownersOf(owners: OwnersFile | undefined, file: string): string[] {
  if (!owners) return [];
  for (let i = owners.rules.length - 1; i >= 0; i--) {
    const r = owners.rules[i];
    if (r?.match(file)) return r.emails;
  }
  return [];
}

/** One changed file as the ownership rule sees it. */
export interface OwnedChange {
  /** Path relative to the stacks directory, e.g. `alice.yaml`. */
  file: string;
  /** What the reader sees in messages, e.g. `stacks/alice.yaml`. */
  displayPath: string;
  /** `owner.email` of the user file before the change (when it existed and was readable). */
  ownerBefore?: string;
  /** `owner.email` of the user file after the change (when it exists and is readable). */
  ownerAfter?: string;
  status: "added" | "modified" | "deleted";
}

/**
 * Who may change a file: its user (the `owner.email` it had before the change, or for a new file the
 * one it declares), and whoever OWNERS lists for it (operators). OWNERS itself is read as it was at
 * the base, so a change cannot grant its own author rights. Returns one error per refused file.
 */
export function ownershipErrors(author: string, changes: readonly OwnedChange[], owners: OwnersFile | undefined): PositionedError[] {
  const who = author.toLowerCase();
  const out: PositionedError[] = [];
  for (const c of changes) {
    const listed = ownersOf(owners, c.file);
    const user = (c.status === "added" ? c.ownerAfter : c.ownerBefore)?.toLowerCase();
    if (listed.includes(who) || (user !== undefined && user === who)) continue;
    const holders = [...(user !== undefined ? [`its owner ${user}`] : []), ...(listed.length > 0 ? [`${listed.join(", ")} (${OWNERS_FILE})`] : [])];
    out.push({
      path: c.displayPath,
      line: 1,
      col: 1,
      code: "owners.not-allowed",
      message: `${author} may not ${c.status === "added" ? "add" : c.status === "deleted" ? "delete" : "change"} this file: ${holders.length > 0 ? `only ${holders.join(" or ")} may` : `no one is listed for it in ${OWNERS_FILE}`}`,
    });
  }
  return out;
}

function globMatcher(pattern: string): (file: string) => boolean {
  const anchored = pattern.startsWith("/") || pattern.slice(0, -1).includes("/");
  const dirOnly = pattern.endsWith("/");
  const body = pattern.replace(/^\//, "").replace(/\/$/, "");
  let re = "";
  for (let i = 0; i < body.length; i++) {
    const ch = body[i] ?? "";
    if (ch === "*" && body[i + 1] === "*") {
      re += ".*";
      i++;
      if (body[i + 1] === "/") i++;
    } else if (ch === "*") re += "[^/]*";
    else if (ch === "?") re += "[^/]";
    else re += ch.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  const rx = new RegExp(`^${anchored ? "" : "(?:.*/)?"}${re}${dirOnly ? "/.*" : "(?:/.*)?"}$`);
  return (file) => rx.test(file);
}
