// The spec store: the one way the portal (and billing) changes desired state — edit a stack file's YAML keeping its
// comments, validate the whole set as `proxstack validate` does, write atomically, commit to git as the person who asked.
import { randomBytes } from "node:crypto";
import { access, link, readFile, rename, rm, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { ProxstackError } from "../lib/errors.js";
import { createKeyedGate } from "../lib/serial-gate.js";
import { commitFile, createGit } from "../stackrepo/git.js";
import { DNS_LABEL, type PlatformSpec, type UserStackSpec } from "../schemas/index.js";
import { PLATFORM_FILE } from "../programs/naming.js";
import { fileIdentity, sameFile, sameOrBothAbsent, type FileIdentity } from "./file-identity.js";
import { parseStackFile } from "./parse.js";
import { formatPositionedError, type PositionedError } from "./positioned-error.js";
import { createStackSetValidator, readStackDir, type StackFileInput } from "./validate.js";

/** Who a commit is authored by: `Name <email>`. */
export interface Author {
  name: string;
  email: string;
}

/** One user stack file as read from disk. */
export interface StackFile {
  stack: string;
  path: string;
  text: string;
  /** Undefined when the file does not pass its own validation (then `errors` says why). */
  spec: UserStackSpec | undefined;
  errors: PositionedError[];
}

/** Turns the current text into the next; throw a ProxstackError to refuse (nothing is written). */
export type StackMutation = (text: string, current: { spec: UserStackSpec | undefined; platform: PlatformSpec }) => string;

export interface EditResult {
  stack: string;
  text: string;
  spec: UserStackSpec;
  /** False when the mutation changed nothing (no write, no commit). */
  changed: boolean;
}

export interface SpecStore {
  readonly dir: string;
  /** The valid platform file; throws a `stall` error when it is missing or invalid. */
  platform(): Promise<PlatformSpec>;
  /** One user stack file, or undefined when there is none by that name. */
  read(stack: string): Promise<StackFile | undefined>;
  /** Every user stack file whose own validation passes, sorted by name. */
  list(): Promise<StackFile[]>;
  /**
   * Edits one stack file: `mutate` runs on the current text; the result must keep the whole set valid;
   * the file is replaced atomically and committed with `author`. A write racing ours (the engine's
   * allocation write-back, another process) makes us re-read and re-apply `mutate` (a few times, then 409).
   */
  edit(stack: string, author: Author, message: string, mutate: StackMutation): Promise<EditResult>;
  /** Creates a new stack file (409 `stack-exists` if the name is taken), validated and committed like an edit. */
  create(stack: string, author: Author, message: string, text: string): Promise<EditResult>;
}

export interface SpecStoreOptions {
  /** Re-reads on a changed base before giving up with 409. @default 5 */
  attempts?: number;
  /** Committer identity (the author is the user). */
  committer?: Author;
}

/** Validation codes that mean "over your quota" and "someone else has this name", answered apart from other invalid specs. */
const QUOTA_CODE = /^set\.quota-/;
const CONFLICT_CODE = /^set\.[a-z-]+-conflict$/;

export function createSpecStore(dir: string, opts: SpecStoreOptions = {}): SpecStore {
  const attempts = opts.attempts ?? 5;
  const committer = opts.committer ?? { name: "proxstack portal", email: "portal@proxstack.invalid" };
  const validator = createStackSetValidator();
  // Reads check one file against the platform; a separate validator so its cache never evicts the whole set's.
  const readValidator = createStackSetValidator();
  const gate = createKeyedGate();
  const git = createGit(dir, committer);
  // Parsed files, reused while the file and the platform it was checked against are unchanged on disk.
  const cache = new Map<string, { id: FileIdentity; platform: FileIdentity | undefined; file: StackFile }>();
  let platformCache: { id: FileIdentity; spec: PlatformSpec } | undefined;

  const pathOf = (stack: string) => {
    if (!DNS_LABEL.test(stack) || stack === "platform")
      throw new ProxstackError("stack-name-invalid", `${JSON.stringify(stack)} is not a stack name`, { kind: "stall", status: 400 });
    return join(dir, `${stack}.yaml`);
  };

  async function readOne(stack: string): Promise<StackFile | undefined> {
    const path = pathOf(stack);
    const id = await fileIdentity(path);
    if (!id) {
      cache.delete(path);
      return undefined;
    }
    const platformId = await fileIdentity(join(dir, PLATFORM_FILE));
    const hit = cache.get(path);
    if (hit && sameFile(hit.id, id) && sameOrBothAbsent(hit.platform, platformId)) return hit.file;
    const text = await readFile(path, "utf8");
    const file = await againstPlatform(stack, path, text);
    cache.set(path, { id, platform: platformId, file });
    return file;
  }

  /** A file checked alone and against the platform (template, plan, ranges, quotas), not against other users' files. */
  async function againstPlatform(stack: string, path: string, text: string): Promise<StackFile> {
    const platformPath = join(dir, PLATFORM_FILE);
    const platformText = await readFile(platformPath).catch(() => undefined);
    if (!platformText) return parseUser(stack, path, text);
    const report = readValidator.validate([
      { path: platformPath, text: platformText },
      { path, text },
    ]);
    const errors = report.files.find((f) => f.path === path)?.errors ?? [];
    const spec = report.users.find((u) => u.path === path)?.spec;
    return { stack, path, text, spec: errors.length === 0 ? spec : undefined, errors };
  }

  async function platform(): Promise<PlatformSpec> {
    const path = join(dir, PLATFORM_FILE);
    const id = await fileIdentity(path);
    if (platformCache && sameFile(platformCache.id, id)) return platformCache.spec;
    const text = id ? await readFile(path) : undefined;
    const parsed = text ? parseStackFile(path, text) : undefined;
    if (!parsed?.ok || parsed.kind !== "Platform") {
      throw new ProxstackError("platform-invalid", "the platform file stacks/platform.yaml is missing or invalid; run `proxstack validate`", {
        kind: "stall",
        status: 503,
      });
    }
    if (id) platformCache = { id, spec: parsed.spec };
    return parsed.spec;
  }

  /** Validates the directory with `path` holding `next`; throws the first problem of that file. */
  async function checkSet(path: string, next: string): Promise<UserStackSpec> {
    const files: StackFileInput[] = (await readStackDir(dir)).filter((f) => f.path !== path);
    files.push({ path, text: next });
    const report = validator.validate(files);
    const mine = report.files.find((f) => f.path === path);
    const errors = mine?.errors ?? [];
    if (errors.length > 0) throw invalid(errors);
    const spec = report.users.find((u) => u.path === path)?.spec;
    if (!spec) throw new ProxstackError("invalid-spec", "the edited stack file is not a valid user stack", { kind: "stall", status: 422 });
    return spec;
  }

  async function commit(path: string, author: Author, message: string): Promise<void> {
    if (!(await exists(join(dir, ".git")))) return;
    await commitFile(git, basename(path), message, { author: { name: gitName(author.name, author.email), email: author.email } });
  }

  /** Writes and commits; if the commit fails the file goes back to `before`, so disk and git never disagree. */
  async function writeAndCommit(path: string, before: string | undefined, next: string, author: Author, message: string): Promise<boolean> {
    const ok = before === undefined ? await createExclusive(path, next) : await replaceIfUnchanged(path, before, next);
    if (!ok) return false;
    try {
      await commit(path, author, message);
    } catch (err) {
      if (before === undefined) await rm(path, { force: true });
      else await replaceIfUnchanged(path, next, before);
      throw new ProxstackError("commit-failed", `could not commit ${basename(path)}: ${err instanceof Error ? err.message : String(err)}`, {
        kind: "retry",
        status: 500,
        cause: err,
      });
    }
    return true;
  }

  return {
    dir,
    platform,
    read: readOne,
    async list() {
      const names = (await readStackDir(dir)).map((f) => basename(f.path, ".yaml")).filter((n) => n !== "platform" && DNS_LABEL.test(n));
      const out: StackFile[] = [];
      for (const n of names) {
        const f = await readOne(n);
        if (f?.spec) out.push(f);
      }
      return out;
    },
    async edit(stack, author, message, mutate) {
      const path = pathOf(stack);
      return gate(path, async () => {
        const plat = await platform();
        for (let attempt = 0; attempt < attempts; attempt++) {
          const before = await readFile(path, "utf8").catch(() => undefined);
          if (before === undefined) throw new ProxstackError("stack-not-found", `no stack named ${stack}`, { kind: "stall", status: 404 });
          const current = parseUser(stack, path, before);
          const next = mutate(before, { spec: current.spec, platform: plat });
          if (next === before) {
            if (!current.spec) throw invalid(current.errors);
            return { stack, text: before, spec: current.spec, changed: false };
          }
          const spec = await checkSet(path, next);
          if (await writeAndCommit(path, before, next, author, message)) return { stack, text: next, spec, changed: true };
        }
        throw new ProxstackError("conflict", `${stack}.yaml kept changing while it was being edited; try again`, { kind: "retry", status: 409 });
      });
    },
    async create(stack, author, message, text) {
      const path = pathOf(stack);
      return gate(path, async () => {
        await platform();
        if (await exists(path)) throw new ProxstackError("stack-exists", `a stack named ${stack} already exists`, { kind: "stall", status: 409 });
        const spec = await checkSet(path, text);
        if (!(await writeAndCommit(path, undefined, text, author, message))) {
          throw new ProxstackError("stack-exists", `a stack named ${stack} already exists`, { kind: "stall", status: 409 });
        }
        return { stack, text, spec, changed: true };
      });
    },
  };
}

function parseUser(stack: string, path: string, text: string): StackFile {
  const parsed = parseStackFile(path, text);
  if (parsed.ok && parsed.kind === "UserStack") return { stack, path, text, spec: parsed.spec, errors: [] };
  const errors = parsed.ok ? [{ path, line: 1, col: 1, code: "kind", message: "is not a UserStack file" }] : parsed.errors;
  return { stack, path, text, spec: undefined, errors };
}

/** The validation failure as an API error: quota → 409 quota-exceeded, a name someone holds → 409, else 422. */
function invalid(errors: readonly PositionedError[]): ProxstackError {
  const first = errors[0];
  const message = first ? first.message : "the stack file is invalid";
  const detail = { fields: Object.fromEntries(errors.slice(0, 20).map((e, i) => [`${i}`, formatPositionedError({ ...e, path: basename(e.path) })])) };
  if (first && QUOTA_CODE.test(first.code)) return new ProxstackError("quota-exceeded", message, { kind: "stall", status: 409, ...detail });
  const conflict = errors.find((e) => CONFLICT_CODE.test(e.code));
  // Another stack holds it: say so without naming the other file or its owner.
  if (conflict)
    return new ProxstackError("already-taken", `${conflict.message.replace(/ is also claimed by .*$/, "")} is already taken by another stack; choose another`, {
      kind: "stall",
      status: 409,
    });
  return new ProxstackError("invalid-spec", message, { kind: "stall", status: 422, ...detail });
}

async function exists(p: string): Promise<boolean> {
  return access(p).then(
    () => true,
    () => false,
  );
}

/** Atomic replace, only while the file still holds `expected` (re-read just before the rename). */
async function replaceIfUnchanged(path: string, expected: string, next: string): Promise<boolean> {
  const tmp = join(path, "..", `.${basename(path)}.${randomBytes(4).toString("hex")}.tmp`);
  await writeFile(tmp, next, "utf8");
  const now = await readFile(path, "utf8").catch(() => undefined);
  if (now !== expected) {
    await rm(tmp, { force: true });
    return false;
  }
  await rename(tmp, path);
  return true;
}

/** Atomic create: a complete temp file hard-linked into place, which fails if the name exists. */
async function createExclusive(path: string, text: string): Promise<boolean> {
  const tmp = join(path, "..", `.${basename(path)}.${randomBytes(4).toString("hex")}.tmp`);
  await writeFile(tmp, text, "utf8");
  try {
    await link(tmp, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw err;
  } finally {
    await rm(tmp, { force: true });
  }
}

/** A git author name: no angle brackets or control characters; the e-mail's local part when nothing is left. */
function gitName(name: string, email: string): string {
  const clean = name.replace(/[<>\u0000-\u001f\u007f]/g, "").trim();
  return clean.length > 0 ? clean.slice(0, 100) : (email.split("@")[0] ?? "user");
}
