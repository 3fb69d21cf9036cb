// `proxstack vpn serve`: runs the VPN service in its own process; the only place that reads its environment.
import fs from "node:fs";
import path from "node:path";
import { parse as parseYaml } from "yaml";
import { IPV4 } from "../schemas/common.js";
import { loadConfig, type Config } from "../schemas/config.js";
import { PlatformSpecSchema } from "../schemas/platform.js";
import { poolSpan, vpnNetwork } from "../vpn/addressing.js";
import { IFACE_NAME } from "../vpn/wg-device.js";
import { startVpnService } from "../vpn/server.js";
import { cliLogger, EXIT, intFlag, parseFlags, UsageError, type CliIo, type Command } from "./cli.js";

const HELP = `Usage: proxstack vpn serve [options]

Runs the VPN service: an HTTP API (bearer token) managing one WireGuard peer per user, each
isolated on this host with nftables so it reaches only its owner's containers. Needs root (or
CAP_NET_ADMIN), wireguard-tools, nftables, iproute2, and kernel WireGuard or wireguard-go.
Prints one JSON line {"url","publicKey","interface"} once listening; stops on SIGINT/SIGTERM and
leaves the device and rules up, so peers keep working while it restarts.

  --port P            HTTP port (default 8090; 0 picks a free one)
  --host H            HTTP listen address (default 127.0.0.1)
  --interface I       WireGuard interface (default wg-proxstack)
  --subnet CIDR       VPN subnet; the server takes its first address (default: platform file, else 10.99.0.0/24)
  --endpoint H:P      endpoint written into client configs (default: platform file's vpn.endpoint)
  --listen-port N     WireGuard UDP port (default: the endpoint's port)
  --pool CIDR         container pool peers' targets must lie in (default: platform file's network.pool)
  --dns IP[,IP…]      DNS servers for client configs (default: none)
  --ports N[,N…]      TCP/UDP ports peers may open on their containers (default: all)
  --data-dir D        state: vpn.db, server.key (default: $PROXSTACK_DATA_DIR/vpn, i.e. ./data/vpn)
  --platform FILE     platform file to take defaults from (default: stacks/platform.yaml when present)
  --netns NAME        run wg/ip/nft/wireguard-go inside this network namespace
  --token-file F      file holding the bearer token (else $VPN_TOKEN_FILE or $VPN_TOKEN; at least 16 characters)

Environment: VPN_TOKEN, VPN_TOKEN_FILE, PROXSTACK_DATA_DIR, LOG_LEVEL.
`;

interface PlatformDefaults {
  subnet?: string;
  endpoint?: string;
  pool?: string;
}

function platformDefaults(file: string | undefined, cwd: string): PlatformDefaults {
  const explicit = file !== undefined;
  const p = path.resolve(cwd, file ?? "stacks/platform.yaml");
  if (!fs.existsSync(p)) {
    if (explicit) throw new UsageError(`--platform: no such file: ${file}`);
    return {};
  }
  const parsed = PlatformSpecSchema.safeParse(parseYaml(fs.readFileSync(p, "utf8")));
  if (!parsed.success) throw new UsageError(`${path.relative(cwd, p)} is not a valid platform file; run 'proxstack validate' to see why`);
  return { subnet: parsed.data.vpn.subnet, endpoint: parsed.data.vpn.endpoint, pool: parsed.data.network.pool };
}

function list(value: string | undefined): string[] | undefined {
  return value === undefined
    ? undefined
    : value
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean);
}

function readToken(values: { "token-file"?: string }, io: CliIo, config: Config): string {
  const file = values["token-file"];
  let token: string | undefined;
  if (file !== undefined) {
    try {
      token = fs.readFileSync(path.resolve(io.cwd, file), "utf8").trim();
    } catch (err) {
      throw new UsageError(`cannot read the token file ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
  } else token = config.vpnToken;
  if (token === undefined || token === "") throw new UsageError("no token: set VPN_TOKEN or VPN_TOKEN_FILE, or pass --token-file FILE");
  if (token.length < 16 || /\s/.test(token)) throw new UsageError("the VPN token must be at least 16 characters without spaces");
  return token;
}

export const command: Command = {
  summary: "run the VPN service (WireGuard peers, nftables isolation)",
  help: HELP,
  async run(args: string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseFlags(args, {
      port: { type: "string" },
      host: { type: "string" },
      interface: { type: "string" },
      subnet: { type: "string" },
      endpoint: { type: "string" },
      "listen-port": { type: "string" },
      pool: { type: "string" },
      dns: { type: "string" },
      ports: { type: "string" },
      "data-dir": { type: "string" },
      platform: { type: "string" },
      netns: { type: "string" },
      "token-file": { type: "string" },
    });
    if (positionals[0] !== "serve" || positionals.length > 1) throw new UsageError(`expected 'proxstack vpn serve', got '${positionals.join(" ")}'`);
    const config = loadConfig(io.env, io.cwd);
    const token = readToken(values, io, config);
    const defaults = platformDefaults(values.platform, io.cwd);
    const subnet = values.subnet ?? defaults.subnet ?? "10.99.0.0/24";
    const endpoint = values.endpoint ?? defaults.endpoint;
    if (endpoint === undefined) throw new UsageError("no endpoint: pass --endpoint HOST:PORT (what clients connect to) or a platform file with vpn.endpoint");
    if (!/^[a-zA-Z0-9.-]+:\d{1,5}$/.test(endpoint) || Number(endpoint.split(":")[1]) > 65535)
      throw new UsageError(`--endpoint must be HOST:PORT such as vpn.example.com:51820, got '${endpoint}'`);
    const pool = values.pool ?? defaults.pool;
    const iface = values.interface ?? "wg-proxstack";
    try {
      vpnNetwork(subnet);
      if (pool !== undefined) poolSpan(pool);
    } catch (err) {
      throw new UsageError(`--subnet/--pool: ${(err as Error).message}`);
    }
    if (!IFACE_NAME.test(iface)) throw new UsageError(`--interface must be 1–15 letters, digits or _=+.-, got '${iface}'`);
    const dns = list(values.dns);
    for (const ip of dns ?? []) if (!IPV4.test(ip)) throw new UsageError(`--dns: '${ip}' is not an IPv4 address`);
    const ports = list(values.ports)?.map((p) => intFlag(p, "ports", 1, 65535)!);
    const port = intFlag(values.port, "port") ?? 8090;
    const listenPort = intFlag(values["listen-port"], "listen-port", 1, 65535);
    const dataDir = path.resolve(io.cwd, values["data-dir"] ?? path.join(config.dataDir, "vpn"));
    const log = cliLogger(io, config.logLevel);

    const server = await startVpnService({
      dataDir,
      token,
      port,
      host: values.host ?? "127.0.0.1",
      iface,
      subnet,
      endpoint,
      log,
      ...(listenPort !== undefined ? { listenPort } : {}),
      ...(pool !== undefined ? { pool } : {}),
      ...(dns !== undefined ? { dns } : {}),
      ...(ports !== undefined ? { allowedPorts: ports } : {}),
      ...(values.netns !== undefined ? { netns: values.netns } : {}),
    });
    const health = (await (await fetch(`${server.url}/healthz`)).json()) as { publicKey: string };
    io.stdout(`${JSON.stringify({ url: server.url, publicKey: health.publicKey, interface: iface })}\n`);
    await new Promise<void>((resolve) => {
      process.once("SIGINT", resolve);
      process.once("SIGTERM", resolve);
    });
    await server.close();
    return EXIT.ok;
  },
};
