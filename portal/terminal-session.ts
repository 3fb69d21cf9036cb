// Web-terminal sessions: a PTY shell on an instance as its owner over ssh2, the address taken from the engine's state.
import type { ClientChannel } from "ssh2";
import { ProxstackError } from "../lib/errors.js";
import type { Logger } from "../lib/logger.js";
import type { HostKeyStore } from "../ssh/host-keys.js";
import type { SshIdentity } from "../ssh/provisioning-key.js";
import { checkLinuxUser } from "../ssh/input.js";
import { openSshSession } from "../ssh/session.js";

/** Where an instance lives, as the engine recorded it. */
export interface TerminalTarget {
  ip: string;
  linuxUser: string;
}

/** Looks an instance up in the engine's state; undefined when the stack has no such (running) instance. */
export type InstanceLookup = (stack: string, instance: string) => TerminalTarget | undefined;

export interface TerminalSessionDeps {
  lookup: InstanceLookup;
  /** The platform key; the ssh-harden hook authorises it for every stack's Linux user. */
  identity: SshIdentity;
  hostKeys: HostKeyStore;
  /** @default 22 */
  port?: number;
  /** @default 15000 */
  readyTimeoutMs?: number;
  log?: Logger;
}

export interface OpenTerminal {
  stack: string;
  instance: string;
  cols: number;
  rows: number;
  /** @default xterm-256color */
  term?: string;
  signal?: AbortSignal;
}

export interface TerminalSession {
  write(data: string | Buffer): void;
  /** Subscribes to output (stdout and stderr of the PTY); returns an unsubscribe function. */
  onData(listener: (chunk: Buffer) => void): () => void;
  resize(cols: number, rows: number): void;
  close(): void;
  /** Resolves when the shell ends (exit, close() or a dropped connection). */
  closed: Promise<{ exitCode: number | null }>;
}

export interface TerminalSessions {
  /**
   * Opens a shell as the stack's Linux user on the instance's recorded address. The caller (the
   * portal) has already checked that the requester owns `stack`; the client never names a host.
   */
  open(req: OpenTerminal): Promise<TerminalSession>;
}

const TERM = /^[A-Za-z0-9._+-]{1,64}$/;

function checkSize(cols: number, rows: number): void {
  const ok = (n: number) => Number.isInteger(n) && n >= 1 && n <= 1000;
  if (!ok(cols) || !ok(rows)) {
    throw new ProxstackError("terminal-bad-size", `terminal size must be whole numbers from 1 to 1000, got ${cols}x${rows}`, { kind: "stall", status: 400 });
  }
}

export function createTerminalSessions(deps: TerminalSessionDeps): TerminalSessions {
  return {
    async open(req) {
      checkSize(req.cols, req.rows);
      if (req.term !== undefined && !TERM.test(req.term))
        throw new ProxstackError("terminal-bad-term", `unsupported terminal type '${req.term.slice(0, 64)}'`, { kind: "stall", status: 400 });
      const target = deps.lookup(req.stack, req.instance);
      if (!target) {
        throw new ProxstackError("terminal-unknown-instance", `${req.stack}/${req.instance}: no such running instance`, { kind: "stall", status: 404 });
      }
      const user = checkLinuxUser(target.linuxUser);
      const session = await openSshSession({
        host: target.ip,
        port: deps.port ?? 22,
        username: user,
        privateKey: deps.identity.privateKey,
        hostKeys: deps.hostKeys,
        signal: req.signal,
        readyTimeoutMs: deps.readyTimeoutMs,
      });
      let channel: ClientChannel;
      try {
        channel = await session.shell({ cols: req.cols, rows: req.rows, term: req.term });
      } catch (err) {
        session.end();
        throw err;
      }
      deps.log?.info({ stack: req.stack, instance: req.instance }, "terminal opened");
      let exitCode: number | null = null;
      channel.once("exit", (code: number | null) => (exitCode = code));
      // The channel closes on exit; the connection closing covers a dropped link or close().
      const closed = Promise.race([new Promise<void>((r) => channel.once("close", () => r())), session.closed]).then(() => {
        session.end();
        deps.log?.info({ stack: req.stack, instance: req.instance, exitCode }, "terminal closed");
        return { exitCode };
      });
      return {
        write: (data) => {
          channel.write(data);
        },
        onData(listener) {
          channel.on("data", listener);
          channel.stderr.on("data", listener);
          return () => {
            channel.off("data", listener);
            channel.stderr.off("data", listener);
          };
        },
        resize(cols, rows) {
          checkSize(cols, rows);
          channel.setWindow(rows, cols, 0, 0);
        },
        close: () => {
          channel.close();
          session.end();
        },
        closed,
      };
    },
  };
}
