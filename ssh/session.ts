// One SSH connection (ssh2) with a pinned host key: argument-safe commands, SFTP file operations, errors translated to codes.
import { Client, type ClientChannel, type SFTPWrapper, type Stats } from "ssh2";
import { ProxstackError } from "../lib/errors.js";
import { hostId, type HostKeyStore } from "./host-keys.js";
import { cleanRemoteText } from "./remote-text.js";

export interface SshTarget {
  host: string;
  port: number;
  username: string;
  privateKey: Buffer;
  hostKeys: HostKeyStore;
  /** The container's VMID when known: host-key pins then belong to (vmid, address) (ssh/host-keys.ts). */
  vmid?: number;
  signal?: AbortSignal;
  /** How long to wait for the SSH handshake. @default 10000 */
  readyTimeoutMs?: number;
  /** How long one command (exec, run, script) may take before its channel is closed. @default 20000 */
  commandTimeoutMs?: number;
  /** Bytes kept per output stream of one command; past it the channel is closed and the command fails. @default 1 MiB */
  maxOutputBytes?: number;
}

/** Per-step bounds: a hostile or hung container costs at most this much time and memory per step. */
export const SSH_LIMITS = {
  readyTimeoutMs: 10_000,
  commandTimeoutMs: 20_000,
  maxOutputBytes: 1024 * 1024,
  maxFileBytes: 64 * 1024,
  sftpTimeoutMs: 10_000,
} as const;

export interface ExecResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface SshSession {
  /** Runs argv on the remote host, each argument single-quoted; never rejects on a non-zero exit. */
  exec(argv: readonly string[], opts?: { input?: string }): Promise<ExecResult>;
  /** Like exec, but a non-zero exit becomes an error naming `what`. */
  run(what: string, argv: readonly string[], opts?: { input?: string }): Promise<ExecResult>;
  /** Runs a fixed script (no caller data inside it) through `sh -c`, with arguments passed as $1…. */
  script(what: string, script: string, args?: readonly string[]): Promise<ExecResult>;
  sftp(): Promise<SFTPWrapper>;
  /** Opens an interactive login shell on a PTY. */
  shell(pty: { cols: number; rows: number; term?: string }): Promise<ClientChannel>;
  /** The server's list of methods left after a failed `none` attempt (what sshd offers this user). */
  methodsOffered: string[];
  /** Resolves when the connection closes, for whatever reason. */
  closed: Promise<void>;
  end(): void;
}

/** Quotes one argument for a POSIX shell: the result is always a single word with the exact bytes. */
export function shellQuote(arg: string): string {
  if (arg.includes("\0")) throw new ProxstackError("ssh-bad-argument", "an argument contains a NUL byte", { kind: "bug" });
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** Opens a session; host keys are pinned on first contact and a changed key is refused. */
export function openSshSession(t: SshTarget): Promise<SshSession> {
  const id = hostId(t.host, t.port);
  const where = `${t.host}:${t.port}`;
  const readyTimeoutMs = t.readyTimeoutMs ?? SSH_LIMITS.readyTimeoutMs;
  return new Promise((resolve, reject) => {
    const client = new Client();
    let refused: ProxstackError | undefined;
    let methodsOffered: string[] = [];
    let triedKey = false;
    let settled = false;
    const onAbort = () => {
      client.destroy();
      fail(new ProxstackError("ssh-aborted", `${where}: aborted`, { kind: "retry" }));
    };
    const fail = (err: ProxstackError) => {
      if (settled) return;
      settled = true;
      t.signal?.removeEventListener("abort", onAbort);
      client.destroy();
      reject(err);
    };
    if (t.signal?.aborted) return onAbort();
    t.signal?.addEventListener("abort", onAbort, { once: true });

    client.once("ready", () => {
      if (settled) return;
      settled = true;
      const session = makeSession(client, where, methodsOffered, {
        commandTimeoutMs: t.commandTimeoutMs ?? SSH_LIMITS.commandTimeoutMs,
        maxOutputBytes: t.maxOutputBytes ?? SSH_LIMITS.maxOutputBytes,
      });
      // After the handshake an abort still has to end a running command.
      t.signal?.removeEventListener("abort", onAbort);
      const endOnAbort = () => client.destroy();
      t.signal?.addEventListener("abort", endOnAbort, { once: true });
      void session.closed.then(() => t.signal?.removeEventListener("abort", endOnAbort));
      resolve(session);
    });
    client.on("error", (err: Error & { level?: string; code?: string }) => fail(refused ?? translate(err, where, t.username, readyTimeoutMs)));
    client.once("close", () => fail(refused ?? new ProxstackError("ssh-closed", `${where}: the connection closed during the handshake`, { kind: "retry" })));
    client.connect({
      host: t.host,
      port: t.port,
      username: t.username,
      readyTimeout: readyTimeoutMs,
      keepaliveInterval: 0,
      hostVerifier: (key: Buffer) => {
        const v = t.hostKeys.check(id, key, t.vmid);
        if (v.ok) return true;
        refused = new ProxstackError(
          "ssh-host-key-changed",
          `${where}: host key changed: it presented ${v.fingerprint} but ${v.pinned} was pinned on ${v.pinnedAt}; refusing to connect (if the container was deliberately re-created, forget its pin)`,
          { kind: "stall" },
        );
        return false;
      },
      authHandler: (methodsLeft, _partial, next) => {
        if (methodsLeft) methodsOffered = [...methodsLeft];
        if (methodsLeft === null) return next({ type: "none", username: t.username });
        if (!methodsLeft.includes("publickey") || triedKey) return next(false as never);
        triedKey = true;
        return next({ type: "publickey", username: t.username, key: t.privateKey });
      },
    });
  });
}

function translate(err: Error & { level?: string; code?: string }, where: string, user: string, readyTimeoutMs: number): ProxstackError {
  const msg = err.message;
  if (err.level === "client-timeout" || /Timed out while waiting for handshake/.test(msg)) {
    return new ProxstackError("ssh-timeout", `${where}: no SSH answer within ${Math.round(readyTimeoutMs / 1000)}s (is the container up and sshd running?)`, {
      kind: "retry",
      cause: err,
    });
  }
  if (err.code === "ECONNREFUSED")
    return new ProxstackError("ssh-unreachable", `${where}: connection refused (sshd not listening yet?)`, { kind: "retry", cause: err });
  if (err.code === "EHOSTUNREACH" || err.code === "ENETUNREACH" || err.code === "ETIMEDOUT") {
    return new ProxstackError("ssh-unreachable", `${where}: host unreachable (${err.code})`, { kind: "retry", cause: err });
  }
  if (err.level === "client-authentication" || /authentication methods failed/.test(msg)) {
    return new ProxstackError("ssh-auth-failed", `${where}: ${user} was not accepted with the provisioning key (does the template authorise it for ${user}?)`, {
      kind: "retry",
      cause: err,
    });
  }
  return new ProxstackError("ssh-failed", `${where}: ${msg}`, { kind: "retry", cause: err });
}

function makeSession(client: Client, where: string, offered: string[], limits: { commandTimeoutMs: number; maxOutputBytes: number }): SshSession {
  const closed = new Promise<void>((resolve) => client.once("close", () => resolve()));
  let sftp: Promise<SFTPWrapper> | undefined;
  const exec: SshSession["exec"] = (argv, opts = {}) =>
    new Promise((resolve, reject) => {
      const what = cleanRemoteText(argv[0] ?? "", 80);
      client.exec(argv.map(shellQuote).join(" "), (err, stream) => {
        if (err) return reject(new ProxstackError("ssh-exec-failed", `${where}: cannot run ${what}`, { kind: "retry", cause: err }));
        const out = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
        const size = { stdout: 0, stderr: 0 };
        let done = false;
        // Past a limit the channel is closed: the remote side gets EPIPE and nothing more is buffered here.
        const stop = (e: ProxstackError) => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          stream.close();
          reject(e);
        };
        const timer = setTimeout(
          () =>
            stop(
              new ProxstackError(
                "ssh-step-timeout",
                `${where}: ${what} did not finish within ${Math.round(limits.commandTimeoutMs / 1000)}s; closed its channel`,
                { kind: "retry" },
              ),
            ),
          limits.commandTimeoutMs,
        );
        const collect = (which: "stdout" | "stderr") => (d: Buffer) => {
          if (done) return;
          size[which] += d.length;
          if (size[which] > limits.maxOutputBytes) {
            return stop(
              new ProxstackError("ssh-output-too-large", `${where}: ${what} wrote more than ${limits.maxOutputBytes} bytes to ${which}; closed its channel`, {
                kind: "retry",
              }),
            );
          }
          out[which].push(d);
        };
        stream.on("data", collect("stdout"));
        stream.stderr.on("data", collect("stderr"));
        stream.once("close", (code: number | null) => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          resolve({ code, stdout: Buffer.concat(out.stdout).toString("utf8"), stderr: Buffer.concat(out.stderr).toString("utf8") });
        });
        stream.end(opts.input ?? "");
      });
    });
  const run: SshSession["run"] = async (what, argv, opts) => {
    const r = await exec(argv, opts);
    if (r.code !== 0) {
      throw new ProxstackError("ssh-command-failed", `${where}: ${what} failed (exit ${r.code ?? "signal"}): ${firstLines(r.stderr || r.stdout)}`, {
        kind: "retry",
      });
    }
    return r;
  };
  return {
    exec,
    run,
    script: (what, script, args = []) => run(what, ["sh", "-c", script, "sh", ...args]),
    sftp() {
      sftp ??= new Promise((resolve, reject) =>
        client.sftp((err, s) =>
          err ? reject(new ProxstackError("ssh-sftp-failed", `${where}: SFTP is not available (${err.message})`, { kind: "retry", cause: err })) : resolve(s),
        ),
      );
      return sftp;
    },
    shell: (pty) =>
      new Promise((resolve, reject) =>
        client.shell({ cols: pty.cols, rows: pty.rows, term: pty.term ?? "xterm-256color" }, (err, ch) =>
          err ? reject(new ProxstackError("ssh-shell-failed", `${where}: cannot open a shell (${err.message})`, { kind: "retry", cause: err })) : resolve(ch),
        ),
      ),
    methodsOffered: offered,
    closed,
    end: () => client.end(),
  };
}

/** The first lines of a command's output, for a message: escape sequences and control characters stripped, length capped. */
export function firstLines(s: string): string {
  return cleanRemoteText(s.trim().split("\n").slice(0, 6).join(" | "), 500) || "no output";
}

/**
 * Promise forms of the SFTP calls the hooks use; a missing file reads as `undefined`. Every call gives up
 * after `timeoutMs`; `readFile` reads only regular files of at most `maxFileBytes` (checked with lstat
 * first, and the read itself stops one byte past the limit, so a file growing meanwhile cannot get
 * through): `ssh-file-too-large` / `ssh-file-not-regular` otherwise.
 */
export function sftpOps(s: SFTPWrapper, opts: { maxFileBytes?: number; timeoutMs?: number } = {}) {
  const maxFileBytes = opts.maxFileBytes ?? SSH_LIMITS.maxFileBytes;
  const timeoutMs = opts.timeoutMs ?? SSH_LIMITS.sftpTimeoutMs;
  const call = <T>(what: string, fn: (cb: (err: Error | null | undefined, v: T) => void) => void) =>
    new Promise<T>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new ProxstackError("ssh-step-timeout", `SFTP ${what} did not answer within ${Math.round(timeoutMs / 1000)}s`, { kind: "retry" })),
        timeoutMs,
      );
      fn((err, v) => {
        clearTimeout(timer);
        if (err) reject(err);
        else resolve(v);
      });
    });
  const isMissing = (err: unknown) => (err as { code?: number }).code === 2;
  const lstat = (p: string) => call<Stats>(`lstat ${p}`, (cb) => s.lstat(p, cb)).catch((err) => (isMissing(err) ? undefined : Promise.reject(err)));
  const readBounded = async (p: string): Promise<string> => {
    const handle = await call<Buffer>(`open ${p}`, (cb) => s.open(p, "r", cb));
    try {
      const buf = Buffer.alloc(maxFileBytes + 1);
      let got = 0;
      for (;;) {
        const n = await call<number>(`read ${p}`, (cb) => s.read(handle, buf, got, buf.length - got, got, (err, bytes) => cb(err, bytes)));
        if (n === 0) break;
        got += n;
        if (got > maxFileBytes) throw tooLarge(p, `more than ${maxFileBytes}`);
      }
      return buf.subarray(0, got).toString("utf8");
    } finally {
      await call<void>(`close ${p}`, (cb) => s.close(handle, (e) => cb(e, undefined))).catch(() => undefined);
    }
  };
  const tooLarge = (p: string, size: string) =>
    new ProxstackError("ssh-file-too-large", `${p} is ${size} bytes; files over ${maxFileBytes} bytes are not read`, { kind: "stall" });
  return {
    lstat,
    readFile: async (p: string): Promise<string | undefined> => {
      const st = await lstat(p);
      if (!st) return undefined;
      if (!st.isFile()) throw new ProxstackError("ssh-file-not-regular", `${p} is not a regular file (a symlink?); refusing to read it`, { kind: "stall" });
      if (st.size > maxFileBytes) throw tooLarge(p, String(st.size));
      return readBounded(p).catch((err) => (isMissing(err) ? undefined : Promise.reject(err)));
    },
    writeFile: (p: string, data: string, mode: number) => call<void>(`write ${p}`, (cb) => s.writeFile(p, data, { mode }, (e) => cb(e, undefined))),
    mkdir: (p: string, mode: number) => call<void>(`mkdir ${p}`, (cb) => s.mkdir(p, { mode }, (e) => cb(e, undefined))),
    chown: (p: string, uid: number, gid: number) => call<void>(`chown ${p}`, (cb) => s.chown(p, uid, gid, (e) => cb(e, undefined))),
    chmod: (p: string, mode: number) => call<void>(`chmod ${p}`, (cb) => s.chmod(p, mode, (e) => cb(e, undefined))),
    /** posix-rename@openssh.com: replaces the target atomically (plain SFTP rename refuses to). */
    rename: (from: string, to: string) => call<void>(`rename ${from}`, (cb) => s.ext_openssh_rename(from, to, (e) => cb(e, undefined))),
    unlink: (p: string) =>
      call<void>(`unlink ${p}`, (cb) => s.unlink(p, (e) => cb(e, undefined))).catch((err) => (isMissing(err) ? undefined : Promise.reject(err))),
  };
}

export type SftpOps = ReturnType<typeof sftpOps>;
