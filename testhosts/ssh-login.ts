// Login probes for tests: does sshd accept this user with this password or key, and which methods does it offer?
import { Client, type ConnectConfig } from "ssh2";

export interface LoginAttempt {
  host: string;
  port: number;
  username: string;
  password?: string;
  privateKey?: Buffer | string;
  /** A command to run once logged in; its stdout is returned. */
  command?: string;
  timeoutMs?: number;
}

export type LoginResult = { ok: true; stdout: string; code: number | null } | { ok: false; reason: string; methodsOffered: string[] };

/**
 * Tries one login with exactly the given credential and reports whether sshd accepted it.
 * Test-only: it accepts any host key (the hook's pinning is tested on its own).
 */
export function tryLogin(a: LoginAttempt): Promise<LoginResult> {
  return new Promise((resolve) => {
    const client = new Client();
    let methodsOffered: string[] = [];
    let tried = false;
    const done = (r: LoginResult) => {
      client.end();
      resolve(r);
    };
    const config: ConnectConfig = {
      host: a.host,
      port: a.port,
      username: a.username,
      readyTimeout: a.timeoutMs ?? 10_000,
      hostVerifier: () => true,
      authHandler: (methodsLeft, _partial, next) => {
        if (methodsLeft) methodsOffered = methodsLeft;
        if (tried) return next(false as never);
        tried = true;
        if (a.password !== undefined) return next({ type: "password", username: a.username, password: a.password });
        if (a.privateKey !== undefined) return next({ type: "publickey", username: a.username, key: a.privateKey });
        return next({ type: "none", username: a.username });
      },
    };
    client.once("ready", () => {
      if (a.command === undefined) return done({ ok: true, stdout: "", code: 0 });
      client.exec(a.command, (err, stream) => {
        if (err) return done({ ok: false, reason: err.message, methodsOffered });
        let out = "";
        stream.on("data", (d: Buffer) => (out += d.toString("utf8")));
        stream.stderr.resume();
        stream.once("close", (code: number | null) => done({ ok: true, stdout: out, code }));
      });
    });
    client.on("error", (err) => done({ ok: false, reason: err.message, methodsOffered }));
    client.connect(config);
  });
}
