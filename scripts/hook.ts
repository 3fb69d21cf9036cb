// `proxstack hook ssh-harden --host H [--port P] --user U --keys FILE [--identity KEY]`: runs a post-deploy hook by hand.
import { readFile, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { chainMessage, ProxstackError } from "../lib/errors.js";
import { systemClock } from "../lib/clock.js";
import { createHostKeyStore } from "../ssh/host-keys.js";
import { loadProvisioningIdentity, readIdentity } from "../ssh/provisioning-key.js";
import { hardenHost } from "../hooks/ssh-harden.js";
import { checkPublicKeys } from "../ssh/input.js";
import { loadConfig } from "../schemas/index.js";
import { EXIT, intFlag, parseFlags, UsageError, type CliIo, type Command } from "./cli.js";

const HELP = `Usage: proxstack hook ssh-harden --host H [--port P] --user U --keys FILE [--identity KEY] [--timeout S] [--json]

Runs the SSH hardening hook against one host, exactly as the engine does after an apply:
logs in as root with the provisioning key (pinning the host key on first contact and refusing a
changed one), creates user U with a home and passwordless sudo, writes ~U/.ssh/authorized_keys
from FILE plus the platform key, installs a key-only sshd drop-in (validated with sshd -t, the
previous config kept when it fails), reloads sshd and verifies by logging in as U.

  --host H        address or name of the host
  --port P        sshd port; default 22
  --user U        Linux user to create or update
  --keys FILE     public keys, one per line as in authorized_keys ('#' comments and blank lines skipped)
  --identity KEY  private key to log in as root with; default: the provisioning key in
                  $PROXSTACK_DATA_DIR/keys/provisioning_ed25519 (generated on first use)
  --timeout S     seconds to wait for the SSH handshake; default 15
  --json          print one JSON line {host, port, user, changed, actions, verified} instead of the listing

Host-key pins live in $PROXSTACK_DATA_DIR/host-keys.db.
Exit: 0 done (prints what changed), 1 the hook failed (prints why), 2 usage error.
`;

const HOST = /^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$|^\[?[0-9A-Fa-f:]+\]?$/;

async function readKeys(cwd: string, path: string): Promise<string[]> {
  const abs = resolve(cwd, path);
  const st = await stat(abs).catch(() => undefined);
  if (!st?.isFile()) throw new UsageError(`--keys: no such file: ${path}`);
  const keys: string[] = [];
  (await readFile(abs, "utf8")).split("\n").forEach((raw, i) => {
    const line = raw.replace(/\r$/, "").trim();
    if (line === "" || line.startsWith("#")) return;
    // Checked line by line here so an error points at the file and line.
    checkPublicKeys([line], () => `${path}:${i + 1}`);
    keys.push(line);
  });
  if (keys.length === 0) throw new ProxstackError("hook-bad-input", `${path}: no keys in the file`, { kind: "stall" });
  return keys;
}

async function sshHarden(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseFlags(args, {
    host: { type: "string" },
    port: { type: "string" },
    user: { type: "string" },
    keys: { type: "string" },
    identity: { type: "string" },
    timeout: { type: "string" },
    json: { type: "boolean" },
  });
  if (positionals.length > 0) throw new UsageError(`unexpected argument: ${positionals.join(" ")}`);
  if (!values.host) throw new UsageError("--host is required");
  if (!HOST.test(values.host)) throw new UsageError(`--host must be an address or a host name, got '${values.host}'`);
  if (!values.user) throw new UsageError("--user is required");
  if (!values.keys) throw new UsageError("--keys is required (a file of public keys)");
  const port = intFlag(values.port, "port", 1) ?? 22;
  const timeoutS = intFlag(values.timeout, "timeout", 1, 600) ?? 15;

  try {
    const config = loadConfig(io.env, io.cwd);
    const keys = await readKeys(io.cwd, values.keys);
    const identity = values.identity ? await readIdentity(resolve(io.cwd, values.identity)) : await loadProvisioningIdentity(config.dataDir);
    const hostKeys = createHostKeyStore(join(config.dataDir, "host-keys.db"), systemClock);
    try {
      const host = values.host.replace(/^\[|\]$/g, "");
      const r = await hardenHost({ host, port, user: values.user, keys, identity, hostKeys, readyTimeoutMs: timeoutS * 1000 });
      if (values.json) {
        io.stdout(JSON.stringify({ host, port, user: values.user, changed: r.changed, actions: r.actions, verified: r.verified }) + "\n");
        return EXIT.ok;
      }
      io.stdout(`${host}:${port}: ${r.changed ? "changed" : "no changes"}\n`);
      for (const a of r.actions) io.stdout(`  - ${a}\n`);
      io.stdout(`  ${r.verified}\n`);
      return EXIT.ok;
    } finally {
      hostKeys.close();
    }
  } catch (err) {
    if (err instanceof UsageError) throw err;
    const code = err instanceof ProxstackError ? `${err.code}: ` : "";
    io.stderr(`proxstack hook ssh-harden: ${code}${chainMessage(err)}\n`);
    return EXIT.failed;
  }
}

export const command: Command = {
  summary: "run a post-deploy hook by hand (ssh-harden)",
  help: HELP,
  async run(args: string[], io: CliIo): Promise<number> {
    const [name, ...rest] = args;
    if (name === "ssh-harden") return sshHarden(rest, io);
    if (name === undefined) throw new UsageError("name the hook to run: ssh-harden");
    throw new UsageError(`unknown hook '${name}'; known: ssh-harden (VPN peers are managed by the VPN service)`);
  },
};
