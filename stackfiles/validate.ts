// Validating a set of stack files: each file alone, then the invariants that span files, with a
// deterministic verdict per file (the engine applies valid user files and never invalid ones).
import { readdir, readFile, stat } from "node:fs/promises";
import { basename, join } from "node:path";
import { PLATFORM_FILE } from "../programs/naming.js";
import {
  cidrSpan,
  DNS_LABEL,
  inSpan,
  IPV4,
  ipv4ToInt,
  MAX_DNS_LABEL,
  MAX_DNS_NAME,
  rangeSpan,
  type PlatformSpec,
  type UserStackSpec,
} from "../schemas/index.js";
import { parseStackFile, stackNameOfPath, type ParsedStackFile, type ParseOptions, type StackKind } from "./parse.js";
import { compareErrors, formatPositionedError, type PositionedError } from "./positioned-error.js";
import { lineCol, type DataPath, type YamlSource } from "./yaml-source.js";

/** One file to validate; bytes are checked for UTF-8, strings are taken as decoded text. */
export interface StackFileInput {
  path: string;
  text: string | Uint8Array;
}

export interface FileReport {
  path: string;
  /** The kind the file declares, when readable. */
  kind?: StackKind;
  /** True when the file has no error of its own and none across files. */
  valid: boolean;
  errors: PositionedError[];
}

export interface ValidUserStack {
  path: string;
  spec: UserStackSpec;
}

export interface StackSetReport {
  /** True when every file is valid. */
  valid: boolean;
  /** Every file, sorted by path. */
  files: FileReport[];
  /** The platform, when exactly one valid platform file was given. */
  platform?: { path: string; spec: PlatformSpec };
  /** The valid user stacks, sorted by path: exactly the ones the engine may apply. */
  users: ValidUserStack[];
  /** All errors of all files, sorted by path and position. */
  errors: PositionedError[];
}

/**
 * Validates a set of files: each alone (YAML, schema, name, SSH keys) and then across files.
 *
 * Blame rule for conflicts between files (a VMID, IP address, hostname or stack name claimed
 * twice): every claim involved is an error in its own file, so every file involved is invalid.
 * Why not blame only the file that sorts later: the verdict would then depend on names, and a
 * new file sorting before an existing one (aaron.yaml vs alice.yaml) would be applied and clash
 * with containers that already exist. Blaming all sides means no apply ever runs on a disputed
 * resource; the files involved keep their last good state until the conflict is resolved, and
 * each author's error names the other file. Files that are readable YAML but fail their schema
 * still claim the VMIDs, addresses and hostnames they spell out, for the same reason; files that
 * are not even readable YAML claim the `vmid:` and `ip:` values found by scanning their text.
 *
 * User files are checked against the platform only when exactly one platform file is given and it
 * is valid; otherwise they are invalid ("cannot be checked").
 */
export function validateStackSet(files: readonly StackFileInput[], opts: ParseOptions = {}): StackSetReport {
  return checkSet(files, (f) => parseStackFile(f.path, f.text, opts));
}

/** Which stack holds a claim already (the engine knows from running resources and the last good files); undefined when none does. */
export type ClaimHolder = (what: "vmid" | "ip" | "hostname", value: string) => string | undefined;

/**
 * What the engine knows beyond the files. With `holder`, a conflict is blamed only on the claims of
 * stacks other than the holder, so the file that held a value first keeps running and the file that
 * introduced the conflict is the one refused; a value held by a stack without a file (a retained or
 * still-live container) is refused even when no other file claims it.
 */
export interface SetContext {
  holder?: ClaimHolder;
}

/** A change to the set a validator saw last: files added or edited, paths gone, and claimed values whose holder changed. */
export interface SetChange {
  /** Files added to the set or with new content. */
  files?: readonly StackFileInput[];
  /** Paths no longer in the set. */
  removed?: readonly string[];
  /** Values whose holder (see {@link ClaimHolder}) may differ from the last call's: every file claiming one is checked again. */
  held?: readonly { what: "vmid" | "ip" | "hostname"; value: string }[];
}

/** The verdicts a change can have moved: only the files it touched and the files sharing a claimed value with them. */
export interface SetRevision {
  /** The reports of the files checked again, sorted by path; every other file's report stands as it was. */
  files: FileReport[];
  /** Those of them that are valid user stacks, sorted by path. */
  users: ValidUserStack[];
}

/** Validates sets again and again (the engine's watcher), re-parsing only files whose content changed. */
export interface StackSetValidator {
  /** Same result as {@link validateStackSet}; parse results of unchanged files are reused (treat them as read-only). */
  validate(files: readonly StackFileInput[], ctx?: SetContext): StackSetReport;
  /**
   * The set of the last call with `change` applied, checked again only where it can differ: the changed files, and every
   * file that claims (before or after) a VMID, address, hostname or stack name one of them claims or whose holder changed.
   * Each report is exactly what {@link validate} of the whole new set gives for that file. Undefined when the change needs
   * a whole pass instead (nothing validated yet, or a file of kind Platform added, edited or removed); the set is then
   * unknown to the validator until the next {@link validate}.
   */
  revise(change: SetChange, ctx?: SetContext): SetRevision | undefined;
}

/** What a validator keeps of the last set for {@link StackSetValidator.revise}. */
interface SetState {
  platform: ChosenPlatform;
  files: Map<string, KeptFile>;
  /** Claims by value (`what\0value`), in the order a whole pass sees them: by path, then within the file. */
  groups: Map<string, Claim[]>;
}
interface KeptFile {
  result: ParsedStackFile;
  /** Its checks against the platform and its claims; with the parse's errors, all that does not depend on other user files. */
  contribution: FileContribution;
}

/**
 * A validator that keeps each file's parse result while its path and content stay the same.
 * `validate` runs the cross-file checks in full and forgets files absent from the call; `revise` checks
 * again only what a change can have moved.
 */
export function createStackSetValidator(opts: ParseOptions = {}): StackSetValidator {
  let cache = new Map<string, { text: string | Uint8Array; result: ParsedStackFile }>();
  let state: SetState | undefined;
  // A file's checks against the platform and its claims depend only on its parse and the platform:
  // kept per parse result while the platform stays the same, so revalidating after one edit is cheap.
  const contributions = new WeakMap<ParsedStackFile, { platform: PlatformSpec | undefined; why: string; value: FileContribution }>();
  const derive: Derive = (input, result, platform) => {
    const hit = contributions.get(result);
    if (hit && hit.platform === platform.spec && hit.why === platform.why) return hit.value;
    const value = deriveFile(input, result, platform);
    contributions.set(result, { platform: platform.spec, why: platform.why, value });
    return value;
  };
  const parseCached = (f: StackFileInput): ParsedStackFile => {
    const hit = cache.get(f.path);
    return hit && sameContent(hit.text, f.text) ? hit.result : parseStackFile(f.path, f.text, opts);
  };
  return {
    validate(files, ctx = {}) {
      const next = new Map<string, { text: string | Uint8Array; result: ParsedStackFile }>();
      const report = checkSet(
        files,
        (f) => {
          const result = parseCached(f);
          next.set(f.path, { text: f.text, result });
          return result;
        },
        ctx,
        derive,
        (s) => (state = s),
      );
      cache = next;
      return report;
    },
    revise(change, ctx = {}) {
      const st = state;
      if (!st) return undefined;
      const incoming = (change.files ?? []).map((input) => ({ input, result: parseCached(input) }));
      const gone = change.removed ?? [];
      // The platform is chosen among the files of kind Platform: a change to one of them moves every verdict.
      const platformMoves =
        incoming.some((f) => f.result.kind === "Platform" || st.files.get(f.input.path)?.result.kind === "Platform") ||
        gone.some((p) => st.files.get(p)?.result.kind === "Platform");
      if (platformMoves) {
        state = undefined;
        return undefined;
      }
      const touched = new Set<string>();
      const drop = (path: string): void => {
        const old = st.files.get(path);
        if (!old) return;
        for (const c of old.contribution.claims) {
          const key = groupKey(c);
          touched.add(key);
          const g = st.groups.get(key)?.filter((x) => x.path !== path) ?? [];
          if (g.length > 0) st.groups.set(key, g);
          else st.groups.delete(key);
        }
        st.files.delete(path);
      };
      for (const path of gone) {
        drop(path);
        cache.delete(path);
      }
      for (const { input, result } of incoming) {
        drop(input.path);
        cache.set(input.path, { text: input.text, result });
        const d = derive(input, result, st.platform);
        st.files.set(input.path, { result, contribution: d });
        for (const c of d.claims) {
          const key = groupKey(c);
          touched.add(key);
          const g = st.groups.get(key);
          if (!g) st.groups.set(key, [c]);
          else {
            // After every claim of an earlier path and of this file already placed: the order a whole pass builds.
            const at = g.findIndex((x) => x.path > c.path);
            g.splice(at < 0 ? g.length : at, 0, c);
          }
        }
      }
      for (const h of change.held ?? []) touched.add(groupKey(h));

      const affected = new Set(incoming.map((f) => f.input.path));
      for (const key of touched) for (const c of st.groups.get(key) ?? []) affected.add(c.path);
      const byGroup = new Map<string, Map<string, PositionedError[]>>();
      const conflictsOf = (key: string): Map<string, PositionedError[]> => {
        let out = byGroup.get(key);
        if (out) return out;
        const errs = new Map<string, PositionedError[]>();
        out = errs;
        groupConflicts(st.groups.get(key) ?? [], st.platform.spec?.baseDomain, (e) => errs.set(e.path, [...(errs.get(e.path) ?? []), e]), ctx.holder);
        byGroup.set(key, out);
        return out;
      };
      const files: FileReport[] = [];
      const users: ValidUserStack[] = [];
      for (const path of [...affected].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))) {
        const kept = st.files.get(path);
        if (!kept) continue;
        const errors = [...(kept.result.ok ? [] : kept.result.errors), ...kept.contribution.errors];
        for (const key of new Set(kept.contribution.claims.map(groupKey))) errors.push(...(conflictsOf(key).get(path) ?? []));
        errors.sort(compareErrors);
        const { result } = kept;
        files.push({ path, ...(result.kind ? { kind: result.kind } : {}), valid: errors.length === 0, errors });
        if (errors.length === 0 && result.ok && result.kind === "UserStack") users.push({ path, spec: result.spec });
      }
      return { files, users };
    },
  };
}

function sameContent(a: string | Uint8Array, b: string | Uint8Array): boolean {
  if (typeof a === "string" || typeof b === "string") return a === b;
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}

/** What one file contributes to the set given the platform: its errors against the platform, and its claims. */
interface FileContribution {
  errors: PositionedError[];
  claims: Claim[];
}
type Derive = (input: StackFileInput, result: ParsedStackFile, platform: ChosenPlatform) => FileContribution;

function deriveFile(input: StackFileInput, result: ParsedStackFile, platform: ChosenPlatform): FileContribution {
  const errors: PositionedError[] = [];
  const add = errors.push.bind(errors);
  if (result.ok && result.kind === "UserStack") {
    if (platform.spec) checkAgainstPlatform(result.source, result.spec, platform.spec, add);
    else add({ path: input.path, line: 1, col: 1, code: "set.platform-unavailable", message: `cannot be checked: ${platform.why}` });
    return { errors, claims: claimsOf(result.source, result.spec) };
  }
  if (!result.ok && result.source && result.kind === "UserStack") return { errors, claims: claimsOf(result.source, rawUserShape(result.source.data)) };
  if (!result.ok && !result.source) return { errors, claims: scannedClaims(input) };
  return { errors, claims: [] };
}

function checkSet(
  files: readonly StackFileInput[],
  parseOne: (f: StackFileInput) => ParsedStackFile,
  ctx: SetContext = {},
  derive: Derive = deriveFile,
  keep?: (state: SetState) => void,
): StackSetReport {
  const sorted = [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const parsed = sorted.map((f) => ({ path: f.path, input: f, result: parseOne(f) }));
  const errors = new Map<string, PositionedError[]>(sorted.map((f) => [f.path, []]));
  const add = (e: PositionedError) => errors.get(e.path)?.push(e);
  for (const p of parsed) if (!p.result.ok) p.result.errors.forEach(add);

  const platform = choosePlatform(parsed, add);
  const claims: Claim[] = [];
  const kept = keep ? new Map<string, KeptFile>() : undefined;
  for (const { path, input, result } of parsed) {
    const d = derive(input, result, platform);
    d.errors.forEach(add);
    for (const c of d.claims) claims.push(c);
    kept?.set(path, { result, contribution: d });
  }
  const groups = reportConflicts(claims, platform.spec?.baseDomain, add, ctx.holder);
  if (kept && keep) keep({ platform, files: kept, groups });

  const report: FileReport[] = parsed.map(({ path, result }) => {
    const errs = (errors.get(path) ?? []).sort(compareErrors);
    const kind = result.ok ? result.kind : result.kind;
    return { path, ...(kind ? { kind } : {}), valid: errs.length === 0, errors: errs };
  });
  const validPaths = new Set(report.filter((r) => r.valid).map((r) => r.path));
  const users: ValidUserStack[] = [];
  for (const { path, result } of parsed) {
    if (result.ok && result.kind === "UserStack" && validPaths.has(path)) users.push({ path, spec: result.spec });
  }
  return {
    valid: report.every((r) => r.valid),
    files: report,
    ...(platform.spec && platform.path && validPaths.has(platform.path) ? { platform: { path: platform.path, spec: platform.spec } } : {}),
    users,
    errors: report.flatMap((r) => r.errors),
  };
}

/** Reads every `*.yaml` file of a directory (editor temp and hidden files ignored) and validates the set. */
export async function loadStackDir(dir: string, opts: ParseOptions = {}): Promise<StackSetReport> {
  return validateStackSet(await readStackDir(dir), opts);
}

/** Whether a directory entry is a stack file rather than an editor's temp, backup or lock file. */
export function isStackFileName(name: string): boolean {
  return name.endsWith(".yaml") && !name.startsWith(".") && !name.startsWith("#") && !name.includes("~");
}

/**
 * The stack files of a directory as inputs for {@link validateStackSet}, sorted by name.
 * `displayDir` is what their paths start with in errors (e.g. the relative path a user typed).
 */
export async function readStackDir(dir: string, displayDir = dir): Promise<StackFileInput[]> {
  const names = (await readdir(dir)).filter(isStackFileName).sort();
  const out: StackFileInput[] = [];
  for (const name of names) {
    if (!(await stat(join(dir, name))).isFile()) continue;
    out.push({ path: join(displayDir, name), text: await readFile(join(dir, name)) });
  }
  return out;
}

/** The lines `path:line:col: message` of a report, in order. */
export function formatReport(report: StackSetReport): string[] {
  return report.errors.map(formatPositionedError);
}

// --- the platform ---

interface ChosenPlatform {
  spec?: PlatformSpec;
  path?: string;
  why: string;
}

/**
 * The platform is stacks/platform.yaml whenever it is among the files; a file of kind Platform under any other name is a
 * second platform, whatever its name sorts as (else a user file `aaa.yaml` of kind Platform would set every quota and
 * catalog). Without a platform.yaml, the first Platform file by path (`proxstack validate` given other names).
 */
function choosePlatform(parsed: readonly { path: string; result: ParsedStackFile }[], add: (e: PositionedError) => void): ChosenPlatform {
  const named = (p: { path: string }) => basename(p.path) === PLATFORM_FILE;
  const candidates = parsed.filter((p) => p.result.kind === "Platform");
  const platforms = [...candidates.filter(named), ...candidates.filter((p) => !named(p))];
  const first = platforms[0];
  if (first === undefined) {
    return { why: "no platform file (kind: Platform) was given; validate user files together with stacks/platform.yaml" };
  }
  for (const extra of platforms.slice(1)) {
    const at = extra.result.ok || extra.result.source ? locate(extra.result, ["kind"]) : { line: 1, col: 1 };
    add({
      path: extra.path,
      ...at,
      code: "set.platform-duplicate",
      message: `a second Platform file; the platform is already defined in ${first.path} and an installation has exactly one`,
    });
  }
  if (!first.result.ok || first.result.kind !== "Platform") return { path: first.path, why: `the platform file ${first.path} has errors` };
  return { spec: first.result.spec, path: first.path, why: "" };
}

function locate(result: ParsedStackFile, path: DataPath): { line: number; col: number } {
  const source = result.ok ? result.source : result.source;
  if (!source) return { line: 1, col: 1 };
  const l = source.locate(path);
  return { line: l.line, col: l.col };
}

// --- one user file against the platform ---

/** What every user file is checked against, worked out once per platform spec rather than once per file. */
interface PlatformFacts {
  templates: string[];
  plans: string[];
  pool: ReturnType<typeof cidrSpan>;
  reserved: { r: string; span: ReturnType<typeof rangeSpan> }[];
  operatorRoutes: Set<string>;
}
const platformFactsCache = new WeakMap<PlatformSpec, PlatformFacts>();
function platformFacts(platform: PlatformSpec): PlatformFacts {
  let facts = platformFactsCache.get(platform);
  if (!facts) {
    facts = {
      templates: Object.keys(platform.templates),
      plans: Object.keys(platform.plans),
      pool: cidrSpan(platform.network.pool),
      reserved: platform.network.reserved.map((r) => ({ r, span: rangeSpan(r) })),
      operatorRoutes: new Set(platform.cloudflare.extraIngress.map((r) => r.hostname.toLowerCase())),
    };
    platformFactsCache.set(platform, facts);
  }
  return facts;
}

/** The plan quotas, with the unit each message names. */
const QUOTA_UNITS = [
  ["cores", "cores"],
  ["memoryMiB", "MiB of memory"],
  ["diskGiB", "GiB of disk"],
] as const;

/** Reports an error at a data path of a file (module-level: a closure per file costs a name under tsx). */
function errorAt(source: YamlSource, add: (e: PositionedError) => void, p: DataPath, code: string, message: string): void {
  const l = source.locate(p);
  add({ path: source.path, line: l.line, col: l.col, code, message });
}

function checkAgainstPlatform(source: YamlSource, spec: UserStackSpec, platform: PlatformSpec, add: (e: PositionedError) => void): void {
  const { templates, plans, pool, reserved, operatorRoutes } = platformFacts(platform);
  const { from, to } = platform.proxmox.vmidRange;
  const q = platform.quotas;
  const used = { cores: 0, memoryMiB: 0, diskGiB: 0, domains: 0 };

  spec.instances.forEach((inst, i) => {
    const label = `instances[${i}]`;
    if (!templates.includes(inst.template)) {
      errorAt(
        source,
        add,
        ["instances", i, "template"],
        "set.template-unknown",
        `${label}.template ${JSON.stringify(inst.template)} is not in the platform's catalog; choose one of ${templates.join(", ")}`,
      );
    }
    const plan = platform.plans[inst.plan];
    if (!plan)
      errorAt(
        source,
        add,
        ["instances", i, "plan"],
        "set.plan-unknown",
        `${label}.plan ${JSON.stringify(inst.plan)} is not in the platform's catalog; choose one of ${plans.join(", ")}`,
      );
    const tpl = platform.templates[inst.template];
    if (plan && tpl && "clone" in tpl && tpl.clone.diskGiB !== undefined && tpl.clone.diskGiB > plan.diskGiB) {
      errorAt(
        source,
        add,
        ["instances", i, "plan"],
        "set.template-disk-too-big",
        `${label}.plan ${JSON.stringify(inst.plan)} has a ${plan.diskGiB} GiB disk, smaller than template ${JSON.stringify(inst.template)} (${tpl.clone.diskGiB} GiB); a clone cannot shrink, so choose a plan with at least ${tpl.clone.diskGiB} GiB`,
      );
    }

    const host = `${spec.name}-${inst.name}`;
    if (host.length > MAX_DNS_LABEL) {
      errorAt(
        source,
        add,
        ["instances", i, "name"],
        "set.hostname-too-long",
        `${label}.name makes the container hostname ${JSON.stringify(host)} ${host.length} characters long; a DNS label has at most ${MAX_DNS_LABEL}, so shorten the instance name`,
      );
    }
    inst.domains.forEach((d, j) => {
      const first = `${host}-${d.subdomain}`;
      const fqdn = `${first}.${platform.baseDomain}`;
      if (first.length > MAX_DNS_LABEL) {
        errorAt(
          source,
          add,
          ["instances", i, "domains", j, "subdomain"],
          "set.hostname-too-long",
          `${label}.domains[${j}].subdomain makes the hostname ${fqdn} start with a label of ${first.length} characters; a DNS label has at most ${MAX_DNS_LABEL}, so shorten the subdomain or instance name`,
        );
      } else if (fqdn.length > MAX_DNS_NAME) {
        errorAt(
          source,
          add,
          ["instances", i, "domains", j, "subdomain"],
          "set.hostname-too-long",
          `${label}.domains[${j}].subdomain makes the hostname ${fqdn.length} characters long; a domain name has at most ${MAX_DNS_NAME}`,
        );
      } else if (operatorRoutes.has(fqdn.toLowerCase())) {
        errorAt(
          source,
          add,
          ["instances", i, "domains", j, "subdomain"],
          "set.hostname-reserved",
          `${label}.domains[${j}].subdomain makes the hostname ${fqdn}, an operator route of the platform (cloudflare.extraIngress); choose another subdomain`,
        );
      }
    });

    if (inst.vmid !== undefined) {
      // Template VMIDs lie outside the range (a platform rule), so in range means not a template.
      if (inst.vmid < from || inst.vmid > to) {
        errorAt(
          source,
          add,
          ["instances", i, "vmid"],
          "set.vmid-out-of-range",
          `${label}.vmid ${inst.vmid} is outside the platform's VMID range ${from}–${to}; leave vmid out to have one allocated`,
        );
      }
    }
    if (inst.ip !== undefined) {
      const n = ipv4ToInt(inst.ip);
      const hit = reserved.find((r) => inSpan(n, r.span));
      const why = !inSpan(n, pool)
        ? `is outside the platform's pool ${platform.network.pool}`
        : n === pool.first || n === pool.last
          ? `is the ${n === pool.first ? "network" : "broadcast"} address of ${platform.network.pool}`
          : inst.ip === platform.network.gateway
            ? "is the gateway's address"
            : inst.ip === platform.network.engineHost || inst.ip === platform.network.tunnelConnector
              ? `is the address of the ${inst.ip === platform.network.engineHost ? "engine host" : "tunnel connector"}`
              : hit
                ? `lies in the reserved range ${hit.r}`
                : undefined;
      if (why) errorAt(source, add, ["instances", i, "ip"], "set.ip-unusable", `${label}.ip ${inst.ip} ${why}; leave ip out to have one allocated`);
    }

    // Quotas: the error points at the first instance (or domain) that goes over, the line a diff adds.
    if (i === q.instances)
      errorAt(source, add, ["instances", i], "set.quota-instances", `${label} is one instance too many: the quota is ${q.instances} instances per user`);
    if (plan) {
      for (const [k, unit] of QUOTA_UNITS) {
        const before = used[k];
        used[k] += plan[k];
        if (before <= q[k] && used[k] > q[k]) {
          errorAt(
            source,
            add,
            ["instances", i, "plan"],
            `set.quota-${k}`,
            `${label}.plan ${JSON.stringify(inst.plan)} brings this stack to ${used[k]} ${unit}; the quota is ${q[k]} per user`,
          );
        }
      }
    }
    inst.domains.forEach((_, j) => {
      used.domains++;
      if (used.domains === q.domains + 1)
        errorAt(
          source,
          add,
          ["instances", i, "domains", j],
          "set.quota-domains",
          `${label}.domains[${j}] is one domain too many: the quota is ${q.domains} domains per user`,
        );
    });
  });
}

// --- claims across files ---

interface Claim {
  what: "vmid" | "ip" | "hostname" | "stack name";
  value: string;
  path: string;
  /** Where the claim is written, located (see {@link locateClaim}) only when it conflicts: most claims never do. */
  /**
   * Where it is written: in a read file (`source`, with the instance and domain index; the data path follows from
   * `what`), or at an offset of a text that is not readable YAML. One object per claim: a set of 10,000 files keeps
   * about 50,000 of them.
   */
  source?: YamlSource;
  inst: number;
  dom: number;
  text?: string;
  offset: number;
  /** `alice/web`, for messages. */
  owner: string;
}

/** Line and column of a claim. */
function locateClaim(c: Claim): { line: number; col: number } {
  if (!c.source) return lineCol(c.text ?? "", c.offset);
  const at: DataPath =
    c.what === "stack name" ? ["name"] : c.what === "hostname" ? ["instances", c.inst, "domains", c.dom, "subdomain"] : ["instances", c.inst, c.what];
  return c.source.locate(at);
}

/** The stack a claim's file stands for (its file name), as the engine names stacks. */
const stackOfClaim = (c: Claim): string => stackNameOfPath(c.path) ?? c.path;

/** The loosely typed view of a user file that failed its schema, for its claims only. */
interface RawUser {
  name?: unknown;
  instances?: unknown;
}

function rawUserShape(data: unknown): Partial<UserStackSpec> {
  const raw = (data ?? {}) as RawUser;
  const name = typeof raw.name === "string" && DNS_LABEL.test(raw.name) ? raw.name : undefined;
  const instances = Array.isArray(raw.instances) ? (raw.instances as unknown[]) : [];
  return {
    ...(name ? { name } : {}),
    instances: instances.map((x) => {
      const r = (x ?? {}) as Record<string, unknown>;
      const domains = Array.isArray(r.domains) ? (r.domains as unknown[]) : [];
      return {
        name: typeof r.name === "string" ? r.name : "",
        vmid: typeof r.vmid === "number" && Number.isInteger(r.vmid) ? r.vmid : undefined,
        ip: typeof r.ip === "string" && IPV4.test(r.ip) ? r.ip : undefined,
        domains: domains.map((d) => {
          const s = ((d ?? {}) as Record<string, unknown>).subdomain;
          return { subdomain: typeof s === "string" ? s : "", port: 0 };
        }),
      } as UserStackSpec["instances"][number];
    }),
  };
}

function claimsOf(source: YamlSource, spec: Partial<UserStackSpec>): Claim[] {
  const out: Claim[] = [];
  const { path } = source;
  if (spec.name !== undefined) out.push({ what: "stack name", value: spec.name, owner: spec.name, path, source, inst: -1, dom: -1, offset: -1 });
  (spec.instances ?? []).forEach((inst, i) => {
    const owner = `${spec.name ?? "?"}/${inst.name}`;
    if (inst.vmid !== undefined) out.push({ what: "vmid", value: String(inst.vmid), owner, path, source, inst: i, dom: -1, offset: -1 });
    if (inst.ip !== undefined) out.push({ what: "ip", value: inst.ip, owner, path, source, inst: i, dom: -1, offset: -1 });
    if (spec.name === undefined || !DNS_LABEL.test(inst.name)) return;
    inst.domains.forEach((d, j) => {
      if (DNS_LABEL.test(d.subdomain)) {
        out.push({ what: "hostname", value: `${spec.name}-${inst.name}-${d.subdomain}`, owner, path, source, inst: i, dom: j, offset: -1 });
      }
    });
  });
  return out;
}

/** How much of an unreadable file is scanned for claims. */
const SCAN_LIMIT = 1024 * 1024;

/**
 * Claims of a file that is not readable YAML, found by scanning its text for `vmid: N` and
 * `ip: A.B.C.D` (best effort, comments included): a user who breaks the syntax of their file must
 * not free the VMIDs and addresses their running containers hold. Platform files are not scanned.
 */
function scannedClaims(input: StackFileInput): Claim[] {
  const text = typeof input.text === "string" ? input.text.slice(0, SCAN_LIMIT) : new TextDecoder().decode(input.text.subarray(0, SCAN_LIMIT));
  if (/^kind:\s*Platform\b/m.test(text)) return [];
  const owner = `${stackNameOfPath(input.path) ?? input.path}/?`;
  const out: Claim[] = [];
  const scan = (what: Claim["what"], re: RegExp, ok: (v: string) => string | undefined) => {
    for (const m of text.matchAll(re)) {
      const raw = m[1] ?? "";
      const value = ok(raw);
      const offset = (m.index ?? 0) + m[0].length - raw.length;
      if (value !== undefined) out.push({ what, value, owner, path: input.path, text, inst: -1, dom: -1, offset });
    }
  };
  scan("vmid", /\bvmid:[ \t]*(\d{3,9})\b/g, (v) => String(Number(v)));
  scan("ip", /\bip:[ \t]*["']?(\d{1,3}(?:\.\d{1,3}){3})\b/g, (v) => (IPV4.test(v) ? v : undefined));
  return out;
}

const CONFLICT_RULE: Record<Claim["what"], string> = {
  vmid: "a VMID belongs to one instance across all stacks",
  ip: "an address belongs to one instance across all stacks",
  hostname: "a hostname routes to one instance across all stacks",
  "stack name": "stack names are unique",
};

/** The key claims of one value share: `vmid\u00002001`. */
const groupKey = (c: { what: Claim["what"]; value: string }): string => `${c.what}\u0000${c.value}`;

/** Reports every conflict among the claims; returns them grouped by value (what `revise` keeps). */
function reportConflicts(
  claims: readonly Claim[],
  baseDomain: string | undefined,
  add: (e: PositionedError) => void,
  holder?: ClaimHolder,
): Map<string, Claim[]> {
  const groups = new Map<string, Claim[]>();
  for (const c of claims) {
    const key = groupKey(c);
    const g = groups.get(key);
    if (g) g.push(c);
    else groups.set(key, [c]);
  }
  for (const group of groups.values()) groupConflicts(group, baseDomain, add, holder);
  return groups;
}

/** The conflicts of the claims of one value: against its holder, or all sides blamed when no stack holds it. */
function groupConflicts(group: readonly Claim[], baseDomain: string | undefined, add: (e: PositionedError) => void, holder?: ClaimHolder): void {
  const first = group[0];
  if (first === undefined) return;
  const held = first.what === "stack name" ? undefined : holder?.(first.what, first.value);
  // One claim and no other holder: nothing to report (most values).
  if (group.length === 1 && (held === undefined || stackOfClaim(first) === held)) return;
  const shown = first.what === "hostname" && baseDomain ? `${first.value}.${baseDomain}` : first.value;
  let disputed = group;
  if (held !== undefined) {
    // The holder keeps its value; every other claim is the one refused, with the holder named.
    for (const c of group) {
      if (stackOfClaim(c) === held) continue;
      const at = locateClaim(c);
      add({
        path: c.path,
        line: at.line,
        col: at.col,
        code: `set.${c.what}-conflict`,
        message: `${c.what} ${shown} is already held by stack ${held}; ${CONFLICT_RULE[c.what]}`,
      });
    }
    // Within the holder's own file the value is still claimed once at most.
    disputed = group.filter((c) => stackOfClaim(c) === held);
  }
  if (disputed.length < 2) return;
  mutualBlame(disputed, shown, add);
}

/** Every claim of a disputed value is an error in its own file, naming the others. */
function mutualBlame(group: readonly Claim[], shown: string, add: (e: PositionedError) => void): void {
  const at = group.map(locateClaim);
  const where = (i: number) => `${group[i]?.path}:${at[i]?.line}:${at[i]?.col} (${group[i]?.owner})`;
  group.forEach((c, i) => {
    const others = group.map((_, j) => j).filter((j) => j !== i);
    const list = others.slice(0, 3).map(where).join(", ") + (others.length > 3 ? ` and ${others.length - 3} more` : "");
    add({
      path: c.path,
      line: at[i]?.line ?? 1,
      col: at[i]?.col ?? 1,
      code: `set.${c.what.replace(" ", "-")}-conflict`,
      message: `${c.what} ${shown} is also claimed by ${list}; ${CONFLICT_RULE[c.what]}`,
    });
  });
}
