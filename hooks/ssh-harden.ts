// The ssh-harden hook: the owner's user with sudo, authorized_keys from the stack, a key-only sshd drop-in, verified by logging in.
import { posix } from "node:path";
import { z } from "zod";
import { ProxstackError } from "../lib/errors.js";
import type { Logger } from "../lib/logger.js";
import { PortSchema } from "../schemas/index.js";
import type { HookHandler } from "./hook.js";
import type { HostKeyStore } from "../ssh/host-keys.js";
import type { SshIdentity } from "../ssh/provisioning-key.js";
import { checkLinuxUser, checkPublicKeys, type CheckedKey } from "../ssh/input.js";
import { cleanRemoteText } from "../ssh/remote-text.js";
import { firstLines, openSshSession, sftpOps, type SftpOps, type SshSession } from "../ssh/session.js";

export const SSH_HARDEN = "ssh-harden";

/** The drop-in's name sorts first, because sshd keeps the first value it reads for each setting. */
export const SSHD_DROPIN = "/etc/ssh/sshd_config.d/00-proxstack-hardening.conf";

export const SSHD_DROPIN_CONTENT = `# Managed by proxstack (ssh-harden hook): logins by key only. Replaced on every run.
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
PubkeyAuthentication yes
`;

/** What `sshd -T` must print (lower-case keywords; sshd spells prohibit-password as without-password). */
const EXPECTED_EFFECTIVE: Record<string, string[]> = {
  passwordauthentication: ["no"],
  kbdinteractiveauthentication: ["no"],
  permitrootlogin: ["without-password", "prohibit-password"],
  pubkeyauthentication: ["yes"],
};

export const SshHardenParamsSchema = z
  .object({
    port: PortSchema.default(22).describe("Port sshd listens on in the containers. @default 22"),
    onlyChanged: z
      .boolean()
      .default(false)
      .describe(
        "Harden only instances created or changed by the apply. Off by default, so key changes in the stack file reach every running container. @default false",
      ),
  })
  .strict();
export type SshHardenParams = z.infer<typeof SshHardenParamsSchema>;

export interface SshHardenDeps {
  /** The platform's provisioning key: root logs in with it; it is also authorised for the owner. */
  identity: SshIdentity;
  hostKeys: HostKeyStore;
  /** Handshake timeout per connection. @default 10000 */
  readyTimeoutMs?: number;
  /** Timeout of a whole hook run (all instances of a stack); each command and SFTP call has its own shorter bound (ssh/session.ts SSH_LIMITS). @default 90000 */
  timeoutMs?: number;
}

export interface HardenTarget {
  host: string;
  port: number;
  user: string;
  /** Public key lines from the stack file. */
  keys: readonly string[];
  identity: SshIdentity;
  hostKeys: HostKeyStore;
  /** The container's VMID: its host-key pin belongs to (vmid, address), so a new container at the address is a first contact. */
  vmid?: number;
  signal?: AbortSignal;
  readyTimeoutMs?: number;
  log?: Logger;
}

export interface HardenReport {
  changed: boolean;
  /** What was done, in order; empty when the host was already converged. */
  actions: string[];
  /** How the result was verified. */
  verified: string;
}

/** The hook handler the registry holds. */
export function createSshHardenHandler(deps: SshHardenDeps): HookHandler<SshHardenParams> {
  return {
    type: SSH_HARDEN,
    params: SshHardenParamsSchema as z.ZodType<SshHardenParams>,
    timeoutMs: deps.timeoutMs ?? 90_000,
    async run(ctx, params) {
      const user = checkLinuxUser(ctx.spec.linuxUser);
      checkPublicKeys(ctx.spec.sshKeys);
      const targets = ctx.instances.filter((i) => i.power === "running" && (!params.onlyChanged || i.changed));
      const lines: string[] = [];
      const failures: { where: string; err: unknown }[] = [];
      let changed = false;
      for (const inst of targets) {
        const where = `${inst.name} (${inst.ip})`;
        try {
          const r = await hardenHost({
            host: inst.ip,
            port: params.port,
            user,
            keys: ctx.spec.sshKeys,
            identity: deps.identity,
            hostKeys: deps.hostKeys,
            ...(inst.vmid > 0 ? { vmid: inst.vmid } : {}),
            signal: ctx.signal,
            readyTimeoutMs: deps.readyTimeoutMs,
            log: ctx.log.child({ instance: inst.name }),
          });
          changed ||= r.changed;
          lines.push(`${where}: ${r.actions.join(", ") || "no changes"}; ${r.verified}`);
        } catch (err) {
          failures.push({ where, err });
        }
      }
      if (failures.length > 0) {
        const all = failures.map((f) => f.err);
        throw new ProxstackError(
          failures.length === 1 && all[0] instanceof ProxstackError ? all[0].code : "ssh-harden-failed",
          failures.map((f) => `${f.where}: ${f.err instanceof Error ? f.err.message : String(f.err)}`).join("; "),
          { kind: all.every((e) => e instanceof ProxstackError && e.kind === "stall") ? "stall" : "retry", cause: all[0] },
        );
      }
      return { changed, output: lines.join("\n") || "no running instances" };
    },
  };
}

/**
 * Hardens one host and verifies it; idempotent (a converged host reports changed=false).
 * Inputs are checked before connecting; every remote command passes its arguments single-quoted,
 * and files are written through SFTP, so no user data is ever read by a shell as code.
 */
export async function hardenHost(t: HardenTarget): Promise<HardenReport> {
  const user = checkLinuxUser(t.user);
  const keys = checkPublicKeys(t.keys);
  const [platformKey] = checkPublicKeys([t.identity.publicKey], () => "the provisioning key");
  const actions: string[] = [];
  const root = await openSshSession({
    host: t.host,
    port: t.port,
    username: "root",
    privateKey: t.identity.privateKey,
    hostKeys: t.hostKeys,
    vmid: t.vmid,
    signal: t.signal,
    readyTimeoutMs: t.readyTimeoutMs,
  });
  try {
    const fs = sftpOps(await root.sftp());
    await preflight(root);
    const account = await ensureUser(root, fs, user, actions);
    await ensureSudo(root, fs, user, actions);
    await ensureAuthorizedKeys(fs, account, [...keys, ...(platformKey ? [platformKey] : [])], actions);
    const dropinChanged = await ensureSshdDropin(root, fs, user, actions);
    let verified = dropinChanged ? undefined : await verifyLogin(t, user);
    // A previous run may have written the drop-in and failed before the reload: the login shows it.
    if (!verified || verified.offersPasswords) {
      await root.script("reload sshd", RELOAD_SSHD);
      if (!dropinChanged) actions.push("reloaded sshd (it still offered password logins)");
      verified = await verifyLogin(t, user, { untilKeyOnly: true });
    }
    if (verified.offersPasswords) {
      throw new ProxstackError("ssh-verify-failed", `after the reload sshd still offers ${verified.methods.join(", ")} to ${user}`, { kind: "retry" });
    }
    t.log?.info({ host: t.host, actions }, "ssh-harden done");
    return {
      changed: actions.length > 0,
      actions,
      verified: `verified key login as ${user} (sshd offers ${verified.methods.join(", ") || "publickey"}; sudo works)`,
    };
  } finally {
    root.end();
  }
}

/** The commands a template must provide (testhosts/ssh-host.ts `TEST_HOST_TOOLS` names their Debian packages). */
export const TEMPLATE_TOOLS = ["useradd", "usermod", "getent", "id", "sudo", "visudo"] as const;

// Checked first so a bad template fails with one clear reason.
const PREFLIGHT = `missing=""
for c in ${TEMPLATE_TOOLS.join(" ")}; do command -v "$c" >/dev/null 2>&1 || missing="$missing $c"; done
[ -x /usr/sbin/sshd ] || missing="$missing /usr/sbin/sshd"
[ -d /etc/sudoers.d ] || missing="$missing /etc/sudoers.d"
if [ -n "$missing" ]; then echo "the template lacks:$missing (install openssh-server, sudo and passwd)" >&2; exit 1; fi`;

// sshd keeps its pid in /run/sshd.pid under systemd, OpenRC and plain -D alike; service managers are fallbacks.
const RELOAD_SSHD = `pid=$(cat /run/sshd.pid 2>/dev/null || true)
if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -HUP "$pid"
elif command -v systemctl >/dev/null 2>&1 && systemctl reload ssh 2>/dev/null; then :
elif command -v systemctl >/dev/null 2>&1 && systemctl reload sshd 2>/dev/null; then :
elif command -v rc-service >/dev/null 2>&1 && rc-service sshd reload; then :
else echo "found no running sshd to reload" >&2; exit 1; fi`;

async function preflight(root: SshSession): Promise<void> {
  const r = await root.exec(["sh", "-c", PREFLIGHT]);
  if (r.code !== 0)
    throw new ProxstackError("ssh-template-unsupported", firstLines(r.stderr) === "no output" ? "the template lacks required commands" : firstLines(r.stderr), {
      kind: "stall",
    });
}

interface Account {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

async function ensureUser(root: SshSession, fs: SftpOps, user: string, actions: string[]): Promise<Account> {
  if ((await root.exec(["id", "-u", "--", user])).code !== 0) {
    const shell = (await fs.lstat("/bin/bash")) ? "/bin/bash" : "/bin/sh";
    // '*' is "no password" rather than the locked '!': sshd without PAM refuses locked accounts even with a key.
    await root.run(`create user ${user}`, ["useradd", "--create-home", "--shell", shell, "--password", "*", "--", user]);
    actions.push(`created user ${user}`);
  }
  const { stdout } = await root.run(`look up user ${user}`, ["getent", "passwd", "--", user]);
  const [name, , uid, gid, , home] = stdout.trim().split(":");
  if (name !== user || !home || !posix.isAbsolute(home) || !/^\d+$/.test(uid ?? "") || !/^\d+$/.test(gid ?? "")) {
    throw new ProxstackError("ssh-user-invalid", `unexpected passwd entry for ${user}`, { kind: "retry" });
  }
  const st = await fs.lstat(home);
  if (!st) {
    await root.run(`create home of ${user}`, ["mkhomedir_helper", user]).catch(async () => {
      await root.run(`create home of ${user}`, ["install", "-d", "-m", "0750", "-o", user, "-g", gid!, "--", home]);
    });
    actions.push(`created home ${home}`);
  } else if (!st.isDirectory()) {
    throw new ProxstackError("ssh-home-invalid", `home ${home} of ${user} is not a directory`, { kind: "stall" });
  }
  return { name: user, uid: Number(uid), gid: Number(gid), home };
}

async function ensureSudo(root: SshSession, fs: SftpOps, user: string, actions: string[]): Promise<void> {
  const group =
    (await root.exec(["getent", "group", "sudo"])).code === 0 ? "sudo" : (await root.exec(["getent", "group", "wheel"])).code === 0 ? "wheel" : undefined;
  if (group) {
    const groups = (await root.run(`list groups of ${user}`, ["id", "-nG", "--", user])).stdout.trim().split(/\s+/);
    if (!groups.includes(group)) {
      await root.run(`add ${user} to ${group}`, ["usermod", "-aG", group, "--", user]);
      actions.push(`added ${user} to ${group}`);
    }
  }
  // The user has no password (key-only), so sudo must not ask for one.
  const path = `/etc/sudoers.d/proxstack-${user}`;
  const want = `# Managed by proxstack (ssh-harden hook).\n${user} ALL=(ALL:ALL) NOPASSWD:ALL\n`;
  const st = await fs.lstat(path);
  if ((await readManaged(fs, path)).content === want && st && (st.mode & 0o777) === 0o440 && st.uid === 0) return;
  // Names containing '.' are ignored by sudo's includedir, so the candidate is inert until checked.
  const tmp = `/etc/sudoers.d/.proxstack-${user}.new`;
  await fs.writeFile(tmp, want, 0o440);
  await fs.chmod(tmp, 0o440);
  await fs.chown(tmp, 0, 0);
  const check = await root.exec(["visudo", "-c", "-q", "-f", tmp]);
  if (check.code !== 0) {
    await fs.unlink(tmp);
    throw new ProxstackError("sudoers-invalid", `visudo rejected the sudoers rule for ${user}: ${firstLines(check.stderr || check.stdout)}`, { kind: "stall" });
  }
  await fs.rename(tmp, path);
  actions.push(`granted ${user} sudo`);
}

function authorizedKeysContent(keys: readonly CheckedKey[]): string {
  return `# Managed by proxstack from the stack file's sshKeys plus the platform key; edits are replaced on the next run.\n${keys.map((k) => k.line + "\n").join("")}`;
}

function keyIds(content: string | undefined): Set<string> {
  return new Set(
    (content ?? "")
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith("#"))
      .map((l) => l.split(/ +/).slice(0, 2).join(" ")),
  );
}

async function ensureAuthorizedKeys(fs: SftpOps, a: Account, keys: readonly CheckedKey[], actions: string[]): Promise<void> {
  const dir = posix.join(a.home, ".ssh");
  const file = posix.join(dir, "authorized_keys");
  // Root writes into a directory the user controls: refuse symlinks so a link cannot redirect the write.
  const dst = await fs.lstat(dir);
  if (!dst) {
    await fs.mkdir(dir, 0o700);
    await fs.chown(dir, a.uid, a.gid);
    actions.push(`created ${dir}`);
  } else if (!dst.isDirectory()) {
    throw new ProxstackError("ssh-dir-invalid", `${dir} is not a directory (a symlink?); refusing to write through it`, { kind: "stall" });
  } else if (dst.uid !== a.uid || (dst.mode & 0o077) !== 0) {
    await fs.chown(dir, a.uid, a.gid);
    await fs.chmod(dir, 0o700);
    actions.push(`fixed owner and mode of ${dir}`);
  }
  const want = authorizedKeysContent(keys);
  const fst = await fs.lstat(file);
  if (fst && !fst.isFile())
    throw new ProxstackError("ssh-dir-invalid", `${file} is not a regular file (a symlink?); refusing to write through it`, { kind: "stall" });
  const { content: have, oversized } = fst ? await readManaged(fs, file) : {};
  if (have === want && fst && fst.uid === a.uid && (fst.mode & 0o777) === 0o600) return;
  const tmp = posix.join(dir, ".authorized_keys.proxstack-new");
  await fs.writeFile(tmp, want, 0o600);
  await fs.chmod(tmp, 0o600);
  await fs.chown(tmp, a.uid, a.gid);
  await fs.rename(tmp, file);
  const before = keyIds(have);
  const after = keyIds(want);
  const added = [...after].filter((k) => !before.has(k)).length;
  const removed = [...before].filter((k) => !after.has(k)).length;
  actions.push(
    oversized !== undefined
      ? `replaced an oversized authorized_keys (${oversized} bytes, not read) (${after.size} keys)`
      : have === undefined
        ? `wrote authorized_keys (${after.size} keys)`
        : `updated authorized_keys (+${added} −${removed}, ${after.size} keys)`,
  );
}

/** Installs the drop-in; when `sshd -t` or the effective settings disagree, puts the previous file back. */
async function ensureSshdDropin(root: SshSession, fs: SftpOps, user: string, actions: string[]): Promise<boolean> {
  const dir = posix.dirname(SSHD_DROPIN);
  if (!(await fs.lstat(dir))) await fs.mkdir(dir, 0o755);
  // An oversized drop-in is not ours any more: it is replaced, and removed (not restored) on failure.
  const { content: previous } = await readManaged(fs, SSHD_DROPIN);
  const changed = previous !== SSHD_DROPIN_CONTENT;
  const restore = async () => {
    if (previous === undefined) await fs.unlink(SSHD_DROPIN);
    else await writeAtomic(fs, SSHD_DROPIN, previous, 0o644);
  };
  if (changed) await writeAtomic(fs, SSHD_DROPIN, SSHD_DROPIN_CONTENT, 0o644);
  const test = await root.exec(["/usr/sbin/sshd", "-t"]);
  if (test.code !== 0) {
    if (changed) await restore();
    throw new ProxstackError("sshd-config-invalid", `sshd -t rejected the configuration, so the previous one stays in place: ${firstLines(test.stderr)}`, {
      kind: "retry",
    });
  }
  for (const who of [user, "root"]) {
    const eff = await root.exec(["/usr/sbin/sshd", "-T", "-C", `user=${who},host=proxstack-check,addr=127.0.0.1`]);
    const settings = new Map(eff.stdout.split("\n").map((l) => l.trim().split(/\s+/, 2) as [string, string]));
    const wrong = Object.entries(EXPECTED_EFFECTIVE).filter(([k, ok]) => !ok.includes(settings.get(k) ?? ""));
    if (eff.code !== 0 || wrong.length > 0) {
      if (changed) await restore();
      throw new ProxstackError(
        "sshd-config-overridden",
        `the drop-in does not take effect for ${who} (${wrong.map(([k]) => `${k} is ${cleanRemoteText(settings.get(k) ?? "unset", 80)}`).join(", ") || firstLines(eff.stderr)}); ` +
          `an earlier sshd_config.d file, a Match block or a missing 'Include /etc/ssh/sshd_config.d/*.conf' overrides it; the previous config stays in place`,
        { kind: "stall" },
      );
    }
  }
  if (changed) actions.push(previous === undefined ? "installed the sshd key-only drop-in" : "rewrote the sshd key-only drop-in");
  return changed;
}

/**
 * Reads a file this hook manages. One that is too large to read (a user can `truncate -s 3G` their
 * authorized_keys) or is not a regular file is reported, not read: the caller replaces it.
 */
async function readManaged(fs: SftpOps, path: string): Promise<{ content?: string; oversized?: number }> {
  try {
    return { content: await fs.readFile(path) };
  } catch (err) {
    if (!(err instanceof ProxstackError) || (err.code !== "ssh-file-too-large" && err.code !== "ssh-file-not-regular")) throw err;
    return { oversized: (await fs.lstat(path))?.size ?? 0 };
  }
}

async function writeAtomic(fs: SftpOps, path: string, content: string, mode: number): Promise<void> {
  // The temporary name does not end in .conf, so sshd's Include never reads a half-written file.
  const tmp = `${path}.proxstack-new`;
  await fs.writeFile(tmp, content, mode);
  await fs.chmod(tmp, mode);
  await fs.chown(tmp, 0, 0);
  await fs.rename(tmp, path);
}

/**
 * Logs in as the user with the platform key and checks sudo. A reload makes sshd re-exec, so a
 * refused or reset connection right after it is retried a bounded number of times.
 */
async function verifyLogin(t: HardenTarget, user: string, opts: { untilKeyOnly?: boolean } = {}): Promise<{ methods: string[]; offersPasswords: boolean }> {
  let lastErr: unknown;
  for (let attempt = 0; attempt < 20; attempt++) {
    if (t.signal?.aborted) break;
    try {
      const s = await openSshSession({
        host: t.host,
        port: t.port,
        username: user,
        privateKey: t.identity.privateKey,
        hostKeys: t.hostKeys,
        vmid: t.vmid,
        signal: t.signal,
        readyTimeoutMs: t.readyTimeoutMs,
      });
      try {
        const who = await s.run(`verify login as ${user}`, ["id", "-un"]);
        if (who.stdout.trim() !== user)
          throw new ProxstackError("ssh-verify-failed", `logged in as ${firstLines(who.stdout)} instead of ${user}`, { kind: "retry" });
        await s.run(`verify sudo for ${user}`, ["sudo", "-n", "true"]);
        const methods = s.methodsOffered;
        const offersPasswords = methods.includes("password") || methods.includes("keyboard-interactive");
        if (!opts.untilKeyOnly || !offersPasswords) return { methods, offersPasswords };
        lastErr = new ProxstackError("ssh-verify-failed", `sshd still offers ${methods.join(", ")}`, { kind: "retry" });
      } finally {
        s.end();
      }
    } catch (err) {
      const code = err instanceof ProxstackError ? err.code : "";
      if (!["ssh-unreachable", "ssh-closed", "ssh-failed"].includes(code)) throw err;
      lastErr = err;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new ProxstackError("ssh-verify-failed", `could not verify the login as ${user}`, { kind: "retry", cause: lastErr });
}
