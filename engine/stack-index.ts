// The desired state in memory: every stack file's text, verdict, spec and hash, refreshed per file or by a full resync.
import { createSerialGate } from "../lib/serial-gate.js";
import { statSync, type Stats } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { basename, join } from "node:path";
import type { PlatformSpec, UserStackSpec } from "../schemas/index.js";
import { formatPositionedError, type PositionedError } from "../stackfiles/positioned-error.js";
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

function statOrUndefined(path: string): Stats | undefined {
  try {
    return statSync(path, { throwIfNoEntry: false });
  } catch {
    return undefined;
  }
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
  /**
   * After the first whole pass, a change re-checks only the files it can affect: the changed file and every file
   * sharing a VMID, address, hostname or stack name with it, before or after, or with a value whose holder moved
   * (the default). False re-derives every file's verdict on every change: the reference the incremental path is
   * tested against (engine/stack-index.test.ts), and the same verdicts.
   */
  incremental?: boolean;
  /**
   * How many validation passes one change may take for values to settle with their holders: a file freed by a chain
   * of holder changes (dee lets 2003 go, so cy's edit taking it is valid, so cy's old 2001 goes to eve) is freed by
   * the same change when the chain is at most this long; a longer one finishes at the next change. @default 8
   */
  settlePasses?: number;
}

type Claimed = "vmid" | "ip" | "hostname";
const claimKey = (what: Claimed, value: string): string => `${what} ${value}`;
const heldOfKey = (key: string): { what: Claimed; value: string } => {
  const sp = key.indexOf(" ");
  return { what: key.slice(0, sp) as Claimed, value: key.slice(sp + 1) };
};

/** The VMIDs, addresses and hostnames a spec claims, keyed as the validator names them. */
function claimsOfSpec(spec: UserStackSpec): string[] {
  return spec.instances.flatMap((i) => [
    ...(i.vmid !== undefined ? [claimKey("vmid", String(i.vmid))] : []),
    ...(i.ip !== undefined ? [claimKey("ip", i.ip)] : []),
    ...i.domains.map((d) => claimKey("hostname", `${spec.name}-${i.name}-${d.subdomain}`)),
  ]);
}

/** Keys whose value differs between two maps. */
function movedKeys(a: ReadonlyMap<string, string>, b: ReadonlyMap<string, string>): string[] {
  const out: string[] = [];
  for (const [k, v] of a) if (b.get(k) !== v) out.push(k);
  for (const k of b.keys()) if (!a.has(k)) out.push(k);
  return out;
}

export function createStackIndex(dir: string, opts: StackIndexOptions = {}): StackIndex {
  const incremental = opts.incremental ?? true;
  const settlePasses = Math.max(1, opts.settlePasses ?? 8);
  const users = new Map<string, StackEntry>();
  let platformText: string | undefined;
  let platformSpec: PlatformSpec | undefined;
  let platformErrors: string[] | undefined;
  let lastPlatformHash: string | undefined;
  // The same validator as `proxstack validate`, keeping parses of unchanged files between calls.
  const validator = createStackSetValidator();
  const platformPath = join(dir, PLATFORM_FILE);
  const pathOf = (name: string): string => join(dir, `${name}.yaml`);
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

  // Who holds a value through its last good spec: the stacks claiming each value, and each stack's place in `users`
  // (the first one there holds it, as a walk over `users` finds it).
  const order = new Map<string, number>();
  let nextOrder = 0;
  const lastGoodClaims = new Map<string, Set<string>>();
  const putEntry = (e: StackEntry): void => {
    if (!users.has(e.name)) order.set(e.name, nextOrder++);
    users.set(e.name, e);
  };
  const setLastGood = (e: StackEntry, spec: UserStackSpec): void => {
    if (e.lastGood === spec) return;
    if (e.lastGood) for (const k of claimsOf(e.lastGood)) lastGoodClaims.get(k)?.delete(e.name);
    e.lastGood = spec;
    for (const k of claimsOf(spec)) {
      const s = lastGoodClaims.get(k);
      if (s) s.add(e.name);
      else lastGoodClaims.set(k, new Set([e.name]));
    }
  };
  /** Forgets a stack; returns the values its last good spec held. */
  const dropEntry = (name: string): string[] => {
    const e = users.get(name);
    users.delete(name);
    order.delete(name);
    if (!e?.lastGood) return [];
    const keys = claimsOf(e.lastGood);
    for (const k of keys) {
      const s = lastGoodClaims.get(k);
      s?.delete(name);
      if (s?.size === 0) lastGoodClaims.delete(k);
    }
    return keys;
  };
  const firstLastGood = (key: string): string | undefined => {
    let best: string | undefined;
    let bestAt = Infinity;
    for (const n of lastGoodClaims.get(key) ?? []) {
      const at = order.get(n) ?? Infinity;
      if (at < bestAt) [best, bestAt] = [n, at];
    }
    return best;
  };
  const holderOf = (key: string, live: ReadonlyMap<string, string>): string | undefined => live.get(key) ?? firstLastGood(key);

  /** Who holds each value now: live resources first, then the last good spec of each file (the reference walk). */
  const holders = (live: ReadonlyMap<string, string>): Map<string, string> => {
    const held = new Map<string, string>();
    for (const e of users.values()) if (e.lastGood) for (const k of claimsOf(e.lastGood)) if (!held.has(k)) held.set(k, e.name);
    for (const [k, stack] of live) held.set(k, stack);
    return held;
  };
  const sameHolders = (a: ReadonlyMap<string, string>, b: ReadonlyMap<string, string>): boolean =>
    a.size === b.size && [...a].every(([k, v]) => b.get(k) === v);
  const liveNow = (): ReadonlyMap<string, string> => opts.liveHolders?.() ?? new Map<string, string>();

  // What the last pass left behind: the live holders it used, the values whose holder moved after its last
  // check (their files are checked at the next change, as a whole pass would), and whether the validator holds the set.
  let lastLive: ReadonlyMap<string, string> = new Map();
  let pendingKeys = new Set<string>();
  let lastHolders = new Map<string, string>();
  let validatorHoldsSet = false;
  // Bumped whenever a routed spec may have moved: the platform hash is computed again only then.
  let routesVersion = 0;

  type Input = { name: string; path: string; text: string; stamp?: string };
  const putInput = (i: Input): void => {
    const prev = users.get(i.name);
    putEntry({
      name: i.name,
      path: i.path,
      text: i.text,
      ...(i.stamp ? { stamp: i.stamp } : prev?.stamp ? { stamp: prev.stamp } : {}),
      ...(prev?.lastGood ? { lastGood: prev.lastGood } : {}),
    });
  };
  /**
   * One file's verdict from its report. When it changes the file's last good spec, `before` (if given) records the
   * holder each value of the old and new spec had before, so the caller can tell which values changed holder.
   */
  const applyVerdict = (
    e: StackEntry,
    spec: UserStackSpec | undefined,
    errors: readonly PositionedError[],
    live: ReadonlyMap<string, string>,
    before?: Map<string, string | undefined>,
  ): void => {
    delete e.valid;
    delete e.errors;
    if (spec && platformSpec) {
      e.valid = { spec, hash: hashOf(spec, platformSpec) };
      if (e.lastGood !== spec) {
        if (before) for (const k of [...(e.lastGood ? claimsOf(e.lastGood) : []), ...claimsOf(spec)]) if (!before.has(k)) before.set(k, holderOf(k, live));
        setLastGood(e, spec);
      }
    } else {
      const lines = errors.map(formatPositionedError);
      e.errors = lines.length > 0 ? lines : [`${e.path}:1:1: cannot be checked: the platform file has errors`];
    }
  };

  /**
   * Validates the whole set (files in memory plus `inputs`) exactly as `proxstack validate` does, with
   * one addition: a value some stack already holds stays with it, and the file that introduced the
   * conflict is the one refused. Further passes run while a pass released or took values (at most `settlePasses`).
   */
  const validateAll = (inputs: Input[]): void => {
    for (const i of inputs) putInput(i);
    const live = liveNow();
    let held = holders(live);
    for (let pass = 0; pass < settlePasses; pass++) {
      const files: StackFileInput[] = [...users.values()].map((e) => ({ path: e.path, text: e.text }));
      if (platformText !== undefined) files.push({ path: platformPath, text: platformText });
      const holder = (what: Claimed, value: string) => held.get(claimKey(what, value));
      const report = validator.validate(files, { holder });
      const byPath = new Map(report.files.map((f) => [f.path, f]));
      const validByPath = new Map(report.users.map((u) => [u.path, u.spec]));
      for (const e of users.values()) applyVerdict(e, validByPath.get(e.path), byPath.get(e.path)?.errors ?? [], live);
      const next = holders(live);
      const settled = sameHolders(held, next);
      // Values whose holder moved after this pass checked them: a further pass (or, after the last, the next change) sees them.
      pendingKeys = new Set(settled ? [] : movedKeys(held, next));
      held = next;
      if (settled) break;
    }
    lastHolders = held;
    lastLive = new Map(live);
    validatorHoldsSet = platformSpec !== undefined;
    routesVersion++;
  };

  /**
   * The same verdicts as {@link validateAll}, checking again only the files the change can affect: the inputs, the
   * files sharing a value with them or with a removed file, and the claimants of values whose holder moved (live
   * resources came or went, a last good spec changed). False when a whole pass is needed.
   */
  const validateSome = (inputs: Input[], removed: { path: string; freed: string[] }[], desiredBefore: Map<string, string>): boolean => {
    if (!incremental || !validatorHoldsSet || !platformSpec) return false;
    const live = liveNow();
    let dirty = new Set([...pendingKeys, ...removed.flatMap((r) => r.freed), ...movedKeys(lastLive, live)]);
    const holder = (what: Claimed, value: string) => holderOf(claimKey(what, value), live);
    for (let pass = 0; pass < settlePasses; pass++) {
      const r = validator.revise(
        {
          ...(pass === 0 ? { files: inputs.map((i) => ({ path: i.path, text: i.text })), removed: removed.map((x) => x.path) } : {}),
          held: [...dirty].map(heldOfKey),
        },
        { holder },
      );
      if (!r) {
        validatorHoldsSet = false;
        return false;
      }
      const note = (name: string): void => {
        const e = users.get(name);
        if (e && !desiredBefore.has(name)) desiredBefore.set(name, desiredKey(e));
      };
      if (pass === 0)
        for (const i of inputs) {
          note(i.name);
          putInput(i);
        }
      const validByPath = new Map(r.users.map((u) => [u.path, u.spec]));
      const before = new Map<string, string | undefined>();
      for (const f of r.files) {
        const e = users.get(stackNameOfFile(basename(f.path)) ?? "");
        if (!e || e.path !== f.path) continue;
        note(e.name);
        applyVerdict(e, validByPath.get(f.path), f.errors, live, before);
      }
      dirty = new Set([...before].filter(([k, was]) => holderOf(k, live) !== was).map(([k]) => k));
      if (dirty.size === 0) break;
    }
    pendingKeys = dirty;
    lastLive = new Map(live);
    routesVersion++;
    return true;
  };

  /** Validates and returns every stack whose verdict or desired hash moved (not only the inputs: a conflict resolved elsewhere frees a file). */
  const validateAndDiff = (inputs: Input[], removed: { path: string; freed: string[] }[]): string[] => {
    // Only the files checked again can move: their verdicts before, and after. A new file is always a change.
    const desiredBefore = new Map<string, string>();
    if (validateSome(inputs, removed, desiredBefore)) {
      const touched = new Set([...inputs.map((i) => i.name), ...desiredBefore.keys()]);
      return [...touched].filter((n) => users.has(n) && desiredBefore.get(n) !== desiredKey(users.get(n)));
    }
    const before = new Map([...users.values()].map((e) => [e.name, desiredKey(e)]));
    validateAll(inputs);
    return [...users.values()].filter((e) => before.get(e.name) !== desiredKey(e)).map((e) => e.name);
  };

  /** Whether live resources took or released a value since the last pass, so that some value has another holder now. */
  const holdersMoved = (): boolean => {
    const live = liveNow();
    if (!incremental) return !sameHolders(lastHolders, holders(live));
    return movedKeys(lastLive, live).some((k) => holderOf(k, lastLive) !== holderOf(k, live));
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
    // Every verdict depends on the platform: the next pass is a whole one.
    validatorHoldsSet = false;
    routesVersion++;
    if (text === undefined) {
      platformErrors = [`${join(dir, PLATFORM_FILE)}:1:1: the platform file is missing`];
      return true;
    }
    const report = validateStackSet([{ path: join(dir, PLATFORM_FILE), text }]);
    if (report.platform) platformSpec = report.platform.spec;
    else platformErrors = report.errors.map(formatPositionedError);
    return true;
  };

  let platformHashCache: { version: number; platform: PlatformSpec; hash: string } | undefined;

  // resync and reload both rewrite the maps: one at a time.
  const serial = createSerialGate();

  const index: StackIndex = {
    dir,
    platform: () => ({ ...(platformSpec ? { spec: platformSpec } : {}), ...(platformErrors ? { errors: platformErrors } : {}) }),
    get: (name) => users.get(name),
    names: () => [...users.keys()].sort(),
    routedUsers: () => [...users.values()].flatMap((e) => (e.valid ? [e.valid.spec] : e.lastGood ? [e.lastGood] : [])),
    platformHash: () => {
      if (!platformSpec) return undefined;
      if (platformHashCache?.version !== routesVersion || platformHashCache.platform !== platformSpec) {
        platformHashCache = { version: routesVersion, platform: platformSpec, hash: platformStackHash(platformSpec, index.routedUsers()) };
      }
      return platformHashCache.hash;
    },

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
      // Unchanged chunks need no I/O wait: let other work in between them.
      if (i > 0) await new Promise<void>((r) => setImmediate(r));
      const chunk = names.slice(i, i + CHUNK);
      const texts = await Promise.all(
        chunk.map(async (n) => {
          const path = join(dir, `${n}.yaml`);
          // Synchronous: a stat of a cached inode costs less than the promise and thread-pool round trip around it.
          const st = statOrUndefined(path);
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
    const gone = removed.map((n) => ({ path: pathOf(n), freed: dropEntry(n) }));
    // Unchanged files, nothing removed and the same holders: the verdicts stand, nothing to validate.
    const changed = toValidate.length > 0 || removed.length > 0 || holdersMoved() ? validateAndDiff(toValidate, gone) : [];
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
      const freed = dropEntry(name);
      // Values it held are free now: a file refused for them may be valid.
      const changed = validateAndDiff([], [{ path, freed }]);
      if (platformChanged()) changed.push(PLATFORM_STACK);
      return { changed, removed: [name] };
    }
    if (prev && prev.text === text) return { changed: [], removed: [] };
    const routesBefore = routesKey(prev);
    const changed = validateAndDiff([{ name, path, text }], []);
    // The platform hash spans every user: recompute it only when routes moved (this user's, or another's freed by it).
    if ((changed.length > 1 || routesKey(users.get(name)) !== routesBefore) && platformChanged()) changed.push(PLATFORM_STACK);
    return { changed, removed: [] };
  }
  return index;
}
