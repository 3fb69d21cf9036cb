// The desired state in memory: every stack file's text, verdict, spec and hash, refreshed per file or by a full resync.
import { createSerialGate } from "../lib/serial-gate.js";
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import type { PlatformSpec, UserStackSpec } from "../schemas/index.js";
import { formatPositionedError } from "../stackfiles/positioned-error.js";
import { isStackFileName, validateStackSet, type StackFileInput } from "../stackfiles/validate.js";
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

export function createStackIndex(dir: string): StackIndex {
  const users = new Map<string, StackEntry>();
  let platformText: string | undefined;
  let platformSpec: PlatformSpec | undefined;
  let platformErrors: string[] | undefined;
  let lastPlatformHash: string | undefined;

  /** Validates changed user files against the platform and against the others already known. */
  const validate = (inputs: { name: string; path: string; text: string; stamp?: string }[]): void => {
    const files: StackFileInput[] = inputs.map((i) => ({ path: i.path, text: i.text }));
    if (platformText !== undefined) files.push({ path: join(dir, PLATFORM_FILE), text: platformText });
    const report = validateStackSet(files);
    const byPath = new Map(report.files.map((f) => [f.path, f]));
    const validByPath = new Map(report.users.map((u) => [u.path, u.spec]));
    const changedNames = new Set(inputs.map((i) => i.name));
    // Claims of stacks not in this batch: a changed file may not take what another already holds.
    const held = new Map<string, string>();
    for (const e of users.values()) {
      if (changedNames.has(e.name)) continue;
      const s = e.valid?.spec ?? e.lastGood;
      for (const i of s?.instances ?? []) {
        if (i.vmid !== undefined) held.set(`vmid ${i.vmid}`, e.name);
        if (i.ip !== undefined) held.set(`ip ${i.ip}`, e.name);
      }
    }
    for (const i of inputs) {
      const prev = users.get(i.name);
      const entry: StackEntry = { name: i.name, path: i.path, text: i.text, ...(i.stamp ? { stamp: i.stamp } : {}), ...(prev?.lastGood ? { lastGood: prev.lastGood } : {}) };
      const spec = validByPath.get(i.path);
      const errors = (byPath.get(i.path)?.errors ?? []).map(formatPositionedError);
      if (spec && platformSpec) {
        for (const inst of spec.instances) {
          for (const claim of [inst.vmid !== undefined ? `vmid ${inst.vmid}` : "", inst.ip !== undefined ? `ip ${inst.ip}` : ""]) {
            const other = claim && held.get(claim);
            if (other) errors.push(`${i.path}:1:1: instance ${inst.name}: ${claim} is already used by ${other}.yaml; remove it and the engine allocates a free one`);
          }
        }
      }
      if (spec && platformSpec && errors.length === 0) {
        entry.valid = { spec, hash: userStackHash(spec, platformSpec) };
        entry.lastGood = spec;
      } else {
        entry.errors = errors.length > 0 ? errors : [`${i.path}:1:1: cannot be checked: the platform file has errors`];
      }
      users.set(i.name, entry);
    }
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
    const before = new Map<string, string>();
    let read = 1;
    // Reads run in parallel chunks: thousands of files take one pass of the event loop each.
    const names = files.filter((f) => f !== PLATFORM_FILE).map((f) => stackNameOfFile(f)).filter((n): n is string => n !== undefined);
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
        before.set(name, desiredKey(prev));
        toValidate.push({ name, path: join(dir, `${name}.yaml`), text: got.text, stamp: got.stamp });
      });
    }
    if (toValidate.length > 0) validate(toValidate);
    const removed = [...users.keys()].filter((n) => !seen.has(n));
    for (const n of removed) users.delete(n);
    const changed = toValidate.filter((t) => before.get(t.name) !== desiredKey(users.get(t.name))).map((t) => t.name);
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
      return { changed: platformChanged() ? [PLATFORM_STACK] : [], removed: [name] };
    }
    if (prev && prev.text === text) return { changed: [], removed: [] };
    const key = desiredKey(prev);
    const routesBefore = routesKey(prev);
    validate([{ name, path, text }]);
    const changed = key !== desiredKey(users.get(name)) ? [name] : [];
    // The platform hash spans every user: recompute it only when this user's routes moved.
    if (routesKey(users.get(name)) !== routesBefore && platformChanged()) changed.push(PLATFORM_STACK);
    return { changed, removed: [] };
  }
  return index;
}
