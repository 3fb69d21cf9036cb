// Runs the host tools the VPN drives (`wg`, `ip`, `nft`, `wireguard-go`), optionally inside a network namespace.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { ProxstackError } from "../lib/errors.js";

const KEY_LIKE = /[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=/g;

export interface RunOptions {
  /** Written to the command's stdin (keys travel this way, never on the command line). */
  input?: string;
  timeoutMs?: number;
}

export interface CommandRunner {
  /** Runs to completion; rejects with a ProxstackError carrying the command's stderr. */
  run(cmd: string, args: string[], opts?: RunOptions): Promise<{ stdout: string; stderr: string }>;
  /** Starts a long-running background process (wireguard-go), stdout and stderr to `logFd`; it outlives this process. */
  spawnDaemon(cmd: string, args: string[], logFd: number): ChildProcess;
}

export interface CommandRunnerOptions {
  /** Network namespace to run everything in (`ip netns exec NAME …`); the current one when absent. */
  netns?: string;
}

/** Wraps a command in `ip netns exec` when a namespace is set. */
function wrap(netns: string | undefined, cmd: string, args: string[]): [string, string[]] {
  return netns === undefined ? [cmd, args] : ["ip", ["netns", "exec", netns, cmd, ...args]];
}

export function createCommandRunner(opts: CommandRunnerOptions = {}): CommandRunner {
  return {
    run(cmd, args, o = {}) {
      const [file, argv] = wrap(opts.netns, cmd, args);
      return new Promise((resolve, reject) => {
        const child = execFile(file, argv, { timeout: o.timeoutMs ?? 30_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
          if (err) {
            const e = err as NodeJS.ErrnoException & { code?: string | number };
            const why = e.code === "ENOENT" ? `${file} is not installed` : stderr.trim() || e.message;
            // wg quotes a config line it cannot parse; a key in it must not reach a log or an HTTP answer.
            reject(
              new ProxstackError("host-command-failed", `${[cmd, args[0]].filter(Boolean).join(" ")}: ${why.replace(KEY_LIKE, "[key]")}`, { kind: "retry" }),
            );
          } else resolve({ stdout, stderr });
        });
        child.stdin?.on("error", () => undefined);
        child.stdin?.end(o.input ?? "");
      });
    },
    spawnDaemon(cmd, args, logFd) {
      const [file, argv] = wrap(opts.netns, cmd, args);
      const child = spawn(file, argv, { stdio: ["ignore", logFd, logFd], detached: true });
      child.unref();
      return child;
    },
  };
}
