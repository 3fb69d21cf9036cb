// The desired state in memory: every stack file's text, verdict, spec and hash, refreshed per file or by a full resync.
import { createSerialGate } from "../lib/serial-gate.js";
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import type { PlatformSpec, UserStackSpec } from "../schemas/index.js";
import { formatPositionedError } from "../stackfiles/positioned-error.js";
import { createStackSetValidator, isStackFileName, validateStackSet, type StackFileInput } from "../stackfiles/validate.js";
import { PLATFORM_FILE, PLATFORM_STACK } from "../programs/naming.js";
import { platformStackHash, routesOf, userStackHash } from "./spec-hash.js";

/** One user stack file as last read. */
export interface StackEntry {
  name: string;
  path: string;
  text: string;
  /** Size and modification time when the text was read: an unchanged pair skips the read on resync. */
  stamp?: string;
  /** Valid now: the spec and its desired-state hash. */
  valid?: { spec: UserStackSpec; hash: string };
  /** Invalid now: the validator's `path:line:col: message` lines. */
  errors?: string[];
  /** The last spec that was valid, kept while the file is invalid (the platform stack still routes it). */
  lastGood?: UserStackSpec;
}

export interface StackIndex {
  readonly dir: string;
  platform(): { spec?: PlatformSpec; errors?: string[] };
  get(name: string): StackEntry | undefined;
  names(): string[];
  /** Every user spec the platform stack should route: valid ones, and the last good one of invalid files. */
  routedUsers(): UserStackSpec[];
  platformHash(): string | undefined;
  /** Reads every file; returns the stacks whose desired state changed ("platform" when it did). Unchanged text is not parsed again. */
  resync(): Promise<{ changed: string[]; removed: string[]; read: number }>;
  /** Reads one stack (after a watcher event); returns whether its desired state changed. */
  reload(name: string): Promise<{ changed: string[]; removed: string[] }>;
}

/** Stack name of a file name in the stacks directory, or undefined when it is not a stack file. */
export function stackNameOfFile(file: string): string | undefined {
  if (!isStackFileName(file)) return undefined;
  return file.slice(0, -".yaml".length);
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT" || (err as NodeJS.ErrnoException).code === "EISDIR") return undefined;
    throw err;
  }
}

/** Values that live resources hold (`vmid 2001`, `ip 10.0.0.5` → stack), whether or not a file still claims them. */
export type LiveHolders = () => ReadonlyMap<string, string>;

export interface StackIndexOptions {
  /** Held by running or retained resources (the status store): no other file may take them. */
  liveHolders?: LiveHolders;
}

type Claimed = "vmid" | "ip" | "hostname";
const claimKey = (what: Claimed, value: string): string => `${what} ${value}`;

/** The VMIDs, addresses and hostnames a spec claims, keyed as the validator names them. */
function claimsOfSpec(spec: UserStackSpec): string[] {
  return spec.instances.flatMap((i) => [
    ...(i.vmid !== undefined ? [claimKey("vmid", String(i.vmid))] : []),
    ...(i.ip !== undefined ? [claimKey("ip", i.ip)] : []),
    ...i.domains.map((d) => claimKey("hostname", `${spec.name}-${i.name}-${d.subdomain}`)),
  ]);
}

export function createStackIndex(dir: string, opts: StackIndexOptions = {}): StackIndex {
  const users = new Map<string, StackEntry>();
  let platformText: string | undefined;
  let platformSpec: PlatformSpec | undefined;
  let platformErrors: string[] | undefined;
  let lastPlatformHash: string | undefined;
  // The same validator as `proxstack validate`, keeping parses of unchanged files between calls.
  const validator = createStackSetValidator();
  const platformPath = join(dir, PLATFORM_FILE);
  // The validator hands back the same spec object while a file's text is unchanged: its hash is kept with it.
  const hashes = new WeakMap<UserStackSpec, { platform: PlatformSpec; hash: string }>();
  const hashOf = (spec: UserStackSpec, platform: PlatformSpec): string => {
    const hit = hashes.get(spec);
    if (hit?.platform === platform) return hit.hash;
    const hash = userStackHash(spec, platform);
    hashes.set(spec, { platform, hash });
    return hash;
  };

  // A spec's claims, kept with the (unchanging) spec object.
  const claimsCache = new WeakMap<UserStackSpec, string[]>();
  const claimsOf = (spec: UserStackSpec): string[] => {
    let c = claimsCache.get(spec);
    if (!c) claimsCache.set(spec, (c = claimsOfSpec(spec)));
    return c;
  };
  /** Who holds each value now: live resources first, then the last good spec of each file. */
  const holders = (): Map<string, string> => {
    const held = new Map<string, string>();
    for (const e of users.values()) if (e.lastGood) for (const k of claimsOf(e.lastGood)) if (!held.has(k)) held.set(k, e.name);
    for (const [k, stack] of opts.liveHolders?.() ?? []) held.set(k, stack);
    return held;
  };
  const sameHolders = (a: ReadonlyMap<string, string>, b: ReadonlyMap<string, string>): boolean =>
    a.size === b.size && [...a].every(([k, v]) => b.get(k) === v);

  /**
   * Validates the whole set (files in memory plus `inputs`) exactly as `proxstack validate` does, with
   * one addition: a value some stack already holds stays with it, and the file that introduced the
   * conflict is the one refused. A second pass runs when the first released or took values.
   */
  const validate = (inputs: { name: string; path: string; text: string; stamp?: string }[]): Map<string, string> => {
    for (const i of inputs) {
      const prev = users.get(i.name);
      users.set(i.name, {
        name: i.name,
        path: i.path,
        text: i.text,
        ...(i.stamp ? { stamp: i.stamp } : prev?.stamp ? { stamp: prev.stamp } : {}),
        ...(prev?.lastGood ? { lastGood: prev.lastGood } : {}),
      });
    }
    let held = holders();
    for (let pass = 0; pass < 2; pass++) {
      const files: StackFileInput[] = [...users.values()].map((e) => ({ path: e.path, text: e.text }));
      if (platformText !== undefined) files.push({ path: platformPath, text: platformText });
      const holder = (what: Claimed, value: string) => held.get(claimKey(what, value));
      const report = validator.validate(files, { holder });
      const byPath = new Map(report.files.map((f) => [f.path, f]));
      const validByPath = new Map(report.users.map((u) => [u.path, u.spec]));
      for (const e of users.values()) {
        const spec = validByPath.get(e.path);
        delete e.valid;
        delete e.errors;
        if (spec && platformSpec) {
          e.valid = { spec, hash: hashOf(spec, platformSpec) };
          e.lastGood = spec;
        } else {
          const errors = (byPath.get(e.path)?.errors ?? []).map(formatPositionedError);
          e.errors = errors.length > 0 ? errors : [`${e.path}:1:1: cannot be checked: the platform file has errors`];
        }
      }
      const next = holders();
      const settled = sameHolders(held, next);
      held = next;
      if (settled) break;
    }
    return held;
  };

  let lastHolders = new Map<string, string>();
  /** Validates and returns every stack whose verdict or desired hash moved (not only the inputs: a conflict resolved elsewhere frees a file). */
  const validateAndDiff = (inputs: { name: string; path: string; text: string; stamp?: string }[]): string[] => {
    const before = new Map([...users.values()].map((e) => [e.name, desiredKey(e)]));
    lastHolders = validate(inputs);
    return [...users.values()].filter((e) => before.get(e.name) !== desiredKey(e)).map((e) => e.name);
  };

  const routesKey = (e: StackEntry | undefined): string => {
    const spec = e?.valid?.spec ?? e?.lastGood;
    return spec ? JSON.stringify(routesOf(spec)) : "";
  };

  const desiredKey = (e: StackEntry | undefined): string => (e?.valid ? `ok:${e.valid.hash}` : e ? `err:${(e.errors ?? []).join("\n")}` : "absent");

  const platformChanged = (): boolean => {
    const h = index.platformHash();
    const changed = h !== lastPlatformHash;
    lastPlatformHash = h;
    return changed;
  };

  const loadPlatform = (text: string | undefined): boolean => {
    if (text === platformText) return false;
    platformText = text;
    platformSpec = undefined;
    platformErrors = undefined;
    if (text === undefined) {
      platformErrors = [`${join(dir, PLATFORM_FILE)}:1:1: the platform file is missing`];
      return true;
    }
    const report = validateStackSet([{ path: join(dir, PLATFORM_FILE), text }]);
    if (report.platform) platformSpec = report.platform.spec;
    else platformErrors = report.errors.map(formatPositionedError);
    return true;
  };

  // resync and reload both rewrite the maps: one at a time.
  const serial = createSerialGate();

  const index: StackIndex = {
    dir,
    platform: () => ({ ...(platformSpec ? { spec: platformSpec } : {}), ...(platformErrors ? { errors: platformErrors } : {}) }),
    get: (name) => users.get(name),
    names: () => [...users.keys()].sort(),
    routedUsers: () => [...users.values()].flatMap((e) => (e.valid ? [e.valid.spec] : e.lastGood ? [e.lastGood] : [])),
    platformHash: () => (platformSpec ? platformStackHash(platformSpec, index.routedUsers()) : undefined),

    resync: () => serial(resyncNow),
    reload: (name) => serial(() => reloadNow(name)),
  };

  async function resyncNow(): Promise<{ changed: string[]; removed: string[]; read: number }> {
    const files = (await readdir(dir)).filter((f) => isStackFileName(f));
    const platformNow = files.includes(PLATFORM_FILE) ? await readText(join(dir, PLATFORM_FILE)) : undefined;
    const platformTouched = loadPlatform(platformNow);
    const seen = new Set<string>();
    const toValidate: { name: string; path: string; text: string; stamp: string }[] = [];
    let read = 1;
    // Reads run in parallel chunks: thousands of files take one pass of the event loop each.
    const names = files
      .filter((f) => f !== PLATFORM_FILE)
      .map((f) => stackNameOfFile(f))
      .filter((n): n is string => n !== undefined);
    const CHUNK = 256;
    for (let i = 0; i < names.length; i += CHUNK) {
      const chunk = names.slice(i, i + CHUNK);
      const texts = await Promise.all(
        chunk.map(async (n) => {
          const path = join(dir, `${n}.yaml`);
          const st = await stat(path).catch(() => undefined);
          if (!st?.isFile()) return undefined;
          const stamp = `${st.size}:${st.mtimeMs}:${st.ino}`;
          const prev = users.get(n);
          // Same size, mtime (ns resolution) and inode: the text is the one already parsed.
          if (!platformTouched && prev?.stamp === stamp) return { text: prev.text, stamp, cached: true };
          const text = await readText(path);
          return text === undefined ? undefined : { text, stamp, cached: false };
        }),
      );
      chunk.forEach((name, k) => {
        const got = texts[k];
        if (got === undefined) return;
        if (!got.cached) read++;
        seen.add(name);
        const prev = users.get(name);
        if (prev) prev.stamp = got.stamp;
        if (!platformTouched && prev && prev.text === got.text) return;
        toValidate.push({ name, path: join(dir, `${name}.yaml`), text: got.text, stamp: got.stamp });
      });
    }
    const removed = [...users.keys()].filter((n) => !seen.has(n));
    for (const n of removed) users.delete(n);
    // Unchanged files, nothing removed and the same holders: the verdicts stand, nothing to validate.
    const changed = toValidate.length > 0 || removed.length > 0 || !sameHolders(lastHolders, holders()) ? validateAndDiff(toValidate) : [];
    if (platformChanged()) changed.push(PLATFORM_STACK);
    return { changed, removed, read };
  }

  async function reloadNow(name: string): Promise<{ changed: string[]; removed: string[] }> {
    if (name === PLATFORM_STACK) {
      const text = await readText(join(dir, PLATFORM_FILE));
      if (text === platformText) return { changed: [], removed: [] };
      // The platform feeds every user's hash: a full pass re-validates them.
      loadPlatform(text);
      platformText = undefined;
      return resyncNow();
    }
    const path = join(dir, `${name}.yaml`);
    const text = await readText(path);
    const prev = users.get(name);
    if (text === undefined) {
      if (!prev) return { changed: [], removed: [] };
      users.delete(name);
      // Values it held are free now: a file refused for them may be valid.
      const changed = validateAndDiff([]);
      if (platformChanged()) changed.push(PLATFORM_STACK);
      return { changed, removed: [name] };
    }
    if (prev && prev.text === text) return { changed: [], removed: [] };
    const routesBefore = routesKey(prev);
    const changed = validateAndDiff([{ name, path, text }]);
    // The platform hash spans every user: recompute it only when routes moved (this user's, or another's freed by it).
    if ((changed.length > 1 || routesKey(users.get(name)) !== routesBefore) && platformChanged()) changed.push(PLATFORM_STACK);
    return { changed, removed: [] };
  }
  return index;
}
